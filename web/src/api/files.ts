// A run's files (`GET RUN/files`, `GET RUN/files/{path}`): snapshots, saved files, media payloads.

import { request, requestBlob } from "./client";
import { runsPath } from "./runs";
import type { RunFile } from "./types";

export function listFiles(entity: string, project: string, runId: string, signal?: AbortSignal): Promise<RunFile[]> {
  const path = `${runsPath(entity, project, runId)}/files`;
  return request<{ files: RunFile[] }>(path, signal === undefined ? {} : { signal }).then((a) => a.files);
}

/** The API path of one file (each segment escaped), relative to the API base. */
export function filePath(entity: string, project: string, runId: string, path: string): string {
  return `${runsPath(entity, project, runId)}/files/${path.split("/").map(encodeURIComponent).join("/")}`;
}

/** One file's bytes (sent with the API key). */
export function fetchFile(entity: string, project: string, runId: string, path: string, signal?: AbortSignal): Promise<Blob> {
  return requestBlob(filePath(entity, project, runId, path), signal === undefined ? {} : { signal });
}
