// Teams: list (admins: all; others: their own), create, add and remove members.

import { request } from "./client";

export interface TeamInfo {
  name: string;
  members: string[];
}

function teamPath(team: string): string {
  return `/teams/${encodeURIComponent(team)}`;
}

/** Every team (admins) or the viewer's teams. */
export async function listTeams(signal?: AbortSignal): Promise<TeamInfo[]> {
  const data = await request<{ teams: TeamInfo[] }>("/teams", signal === undefined ? {} : { signal });
  return data.teams;
}

/** Create a team; its creator becomes its first member. */
export function createTeam(name: string): Promise<TeamInfo> {
  return request<TeamInfo>("/teams", { method: "POST", body: { name: name.trim() } });
}

/** Add `user` to `team`; answers the team with its members now. */
export function addMember(team: string, user: string): Promise<TeamInfo> {
  return request<TeamInfo>(`${teamPath(team)}/members`, { method: "POST", body: { user } });
}

/** Remove `user` from `team`; answers the team with its members now. */
export function removeMember(team: string, user: string): Promise<TeamInfo> {
  return request<TeamInfo>(`${teamPath(team)}/members/${encodeURIComponent(user)}`, { method: "DELETE" });
}
