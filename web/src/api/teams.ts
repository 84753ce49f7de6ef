// Teams: list (admins: all; others: their own), create, members and their roles, and
// invitations by one-time link (create, list pending, revoke; describe, accept, sign up).

import { request } from "./client";
import type { TeamRole } from "./types";

export interface TeamInfo {
  name: string;
  members: string[];
  /** The members with role admin (absent from old servers). */
  admins?: string[];
  /** Each member's role (absent from servers before roles). */
  roles?: Record<string, TeamRole>;
}

/** The roles a member may have, most rights first. */
export const ROLES: readonly TeamRole[] = ["admin", "member", "viewer"];

function teamPath(team: string): string {
  return `/teams/${encodeURIComponent(team)}`;
}

/** A member's role, from a team answer ("member" when the server names none). */
export function roleOf(team: TeamInfo, user: string): TeamRole {
  return team.roles?.[user] ?? (team.admins?.includes(user) === true ? "admin" : "member");
}

/** Every team (admins) or the viewer's teams. */
export async function listTeams(signal?: AbortSignal): Promise<TeamInfo[]> {
  const data = await request<{ teams: TeamInfo[] }>("/teams", signal === undefined ? {} : { signal });
  return data.teams;
}

/** One team with its members and roles (its members and server admins). */
export function getTeam(team: string, signal?: AbortSignal): Promise<TeamInfo> {
  return request<TeamInfo>(teamPath(team), signal === undefined ? {} : { signal });
}

/** Create a team; its creator becomes its first member. */
export function createTeam(name: string): Promise<TeamInfo> {
  return request<TeamInfo>("/teams", { method: "POST", body: { name: name.trim() } });
}

/** Add `user` to `team` (with `role`; the server's default is member); answers the team now. */
export function addMember(team: string, user: string, role?: TeamRole): Promise<TeamInfo> {
  return request<TeamInfo>(`${teamPath(team)}/members`, { method: "POST", body: role === undefined ? { user } : { user, role } });
}

/** Remove `user` from `team`; answers the team with its members now. */
export function removeMember(team: string, user: string): Promise<TeamInfo> {
  return request<TeamInfo>(`${teamPath(team)}/members/${encodeURIComponent(user)}`, { method: "DELETE" });
}

/** Set a member's role (team admins and server admins); answers the team now. */
export function setRole(team: string, user: string, role: TeamRole): Promise<TeamInfo> {
  return request<TeamInfo>(`${teamPath(team)}/members/${encodeURIComponent(user)}`, { method: "PATCH", body: { role } });
}

/** A pending invitation as the team's admins see it (never its token). */
export interface Invitation {
  id: number;
  team: string;
  role: TeamRole;
  note: string;
  created_by: string;
  created_at: number;
  expires_at: number;
}

/** A new invitation: its token and link are shown only in this answer. */
export interface CreatedInvitation extends Invitation {
  token: string;
  url: string;
}

/** What a link offers, read without signing in. */
export interface InvitationInfo {
  team: string;
  role: TeamRole;
  inviter: string;
  note: string;
  expires_at: number;
}

/** Invite someone into `team` with `role`, working `expiresIn` seconds (server default: 7 days). */
export function createInvitation(team: string, role: TeamRole, note: string, expiresIn?: number): Promise<CreatedInvitation> {
  const body: Record<string, unknown> = { role, note: note.trim() };
  if (expiresIn !== undefined) body.expires_in = expiresIn;
  return request<CreatedInvitation>(`${teamPath(team)}/invitations`, { method: "POST", body });
}

/** The team's pending invitations, newest first (team admins). */
export async function listInvitations(team: string, signal?: AbortSignal): Promise<Invitation[]> {
  const data = await request<{ invitations: Invitation[] }>(`${teamPath(team)}/invitations`, signal === undefined ? {} : { signal });
  return data.invitations;
}

/** Revoke a pending invitation: its link stops working. */
export function revokeInvitation(team: string, id: number): Promise<{ id: number; revoked: boolean }> {
  return request(`${teamPath(team)}/invitations/${id}`, { method: "DELETE" });
}

/** The dashboard link of a token, on this server. */
export function inviteLink(token: string, origin: string = window.location.origin + window.location.pathname): string {
  return `${origin}#/invite/${encodeURIComponent(token)}`;
}

function invitationPath(token: string): string {
  return `/invitations/${encodeURIComponent(token)}`;
}

/** What the link `token` offers (no key needed); 410 used/expired/revoked, 404 unknown. */
export function describeInvitation(token: string, signal?: AbortSignal): Promise<InvitationInfo> {
  return request<InvitationInfo>(invitationPath(token), { auth: false, ...(signal === undefined ? {} : { signal }) });
}

/** Join the invitation's team as the signed-in user. */
export function acceptInvitation(token: string): Promise<{ team: string; role: TeamRole }> {
  return request(`${invitationPath(token)}/accept`, { method: "POST" });
}

/** `POST .../signup`: the new user, signed in with this key (as a login's). */
export interface SignedUp {
  id: number;
  api_key: string;
  expires_at: number;
  name: string;
  team: string;
  role: TeamRole;
}

/** Create an account through the link (name + password of 8 or more characters). */
export function signUpWithInvitation(token: string, name: string, password: string): Promise<SignedUp> {
  return request<SignedUp>(`${invitationPath(token)}/signup`, { method: "POST", body: { name: name.trim(), password }, auth: false });
}
