// The project's saved dashboard document (`GET/PUT /projects/{entity}/{project}/workspace`): the
// server stores it as given. The chart grid owns its "charts" member and keeps the others.

import { ApiError, request } from "../api/client";

function path(entity: string, project: string): string {
  return `/projects/${encodeURIComponent(entity)}/${encodeURIComponent(project)}/workspace`;
}

/** The saved document, `{}` when nothing was saved; null when the server has no such endpoint. */
export async function loadWorkspace(
  entity: string,
  project: string,
  signal?: AbortSignal,
): Promise<Record<string, unknown> | null> {
  try {
    const doc = await request<unknown>(path(entity, project), signal === undefined ? {} : { signal });
    return typeof doc === "object" && doc !== null && !Array.isArray(doc) ? (doc as Record<string, unknown>) : {};
  } catch (err) {
    if (err instanceof ApiError && (err.status === 404 || err.status === 405)) return null;
    throw err;
  }
}

/**
 * Replace the member `member` of the saved document with `value`, keeping the other members as
 * they are on the server now. Returns false when the server has no workspace endpoint.
 */
export async function saveWorkspaceMember(entity: string, project: string, member: string, value: unknown): Promise<boolean> {
  const doc = await loadWorkspace(entity, project);
  if (doc === null) return false;
  try {
    await request<unknown>(path(entity, project), { method: "PUT", body: { ...doc, [member]: value } });
    return true;
  } catch (err) {
    if (err instanceof ApiError && (err.status === 404 || err.status === 405)) return false;
    throw err;
  }
}
