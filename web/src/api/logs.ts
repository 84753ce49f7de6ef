// A run's console output (`GET RUN/logs`): pages of lines by offset, searched on the server.

import { request } from "./client";
import { runsPath } from "./runs";
import type { LogPage } from "./types";

export interface LogQuery {
  offset?: number;
  limit?: number;
  /** Case-insensitive text the lines must contain. */
  q?: string;
  stream?: "stdout" | "stderr";
}

export function getLogs(entity: string, project: string, runId: string, q: LogQuery = {}, signal?: AbortSignal): Promise<LogPage> {
  const query = {
    offset: q.offset ?? 0,
    limit: q.limit,
    q: q.q === undefined || q.q === "" ? undefined : q.q,
    stream: q.stream,
  };
  const path = `${runsPath(entity, project, runId)}/logs`;
  return request<LogPage>(path, signal === undefined ? { query } : { query, signal });
}
