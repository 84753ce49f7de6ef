// A run's logged media (`GET RUN/media/keys`, `GET RUN/media?key=`) and tables (`GET RUN/table`).

import { request } from "./client";
import { runsPath } from "./runs";
import type { MediaItem, MediaKey, TablePage } from "./types";

export function mediaKeys(entity: string, project: string, runId: string, signal?: AbortSignal): Promise<MediaKey[]> {
  const path = `${runsPath(entity, project, runId)}/media/keys`;
  return request<{ keys: MediaKey[] }>(path, signal === undefined ? {} : { signal }).then((a) => a.keys);
}

/** Every value logged under `key`, in step order. */
export function mediaItems(entity: string, project: string, runId: string, key: string, signal?: AbortSignal): Promise<MediaItem[]> {
  const path = `${runsPath(entity, project, runId)}/media`;
  const query = { key };
  return request<{ key: string; items: MediaItem[] }>(path, signal === undefined ? { query } : { query, signal }).then((a) => a.items);
}

export interface TableQuery {
  offset: number;
  limit: number;
  sort?: string;
  order?: "asc" | "desc";
  q?: string;
}

/** One page of the table stored at `path` (`media/<sha>.table.json`), filtered and sorted by the server. */
export function getTable(entity: string, project: string, runId: string, path: string, q: TableQuery, signal?: AbortSignal): Promise<TablePage> {
  const query = {
    path,
    offset: q.offset,
    limit: q.limit,
    sort: q.sort,
    order: q.sort === undefined ? undefined : q.order,
    q: q.q === undefined || q.q === "" ? undefined : q.q,
  };
  const route = `${runsPath(entity, project, runId)}/table`;
  return request<TablePage>(route, signal === undefined ? { query } : { query, signal });
}
