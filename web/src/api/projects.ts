// Projects the viewer reaches.

import { request } from "./client";
import type { ProjectInfo, ProjectList } from "./types";

/** Every project the viewer reaches, most recently active first. */
export async function listProjects(signal?: AbortSignal): Promise<ProjectInfo[]> {
  const data = await request<ProjectList>("/projects", signal === undefined ? {} : { signal });
  return data.projects;
}
