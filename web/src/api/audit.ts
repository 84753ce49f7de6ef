// The audit of admin actions (`GET /audit`): server admins read all, team admins their team's.

import { request } from "./client";

/** One admin action: who (`actor`) did what (`action`, e.g. `team.role`) to what, when. */
export interface AuditEvent {
  id: number;
  at: number;
  actor: string;
  action: string;
  entity: string | null;
  target: string;
  detail: Record<string, unknown> | null;
}

export interface AuditPage {
  events: AuditEvent[];
  /** Pass as `before` for the next (older) page; null at the end. */
  next: number | null;
}

export interface AuditQuery {
  entity?: string;
  /** One action (`team.role`) or a family ending in `.` (`invitation.`). */
  action?: string;
  limit?: number;
  before?: number;
}

/** Audit events, newest first. */
export function listAudit(query: AuditQuery = {}, signal?: AbortSignal): Promise<AuditPage> {
  return request<AuditPage>("/audit", {
    query: { entity: query.entity, action: query.action, limit: query.limit, before: query.before },
    ...(signal === undefined ? {} : { signal }),
  });
}

/** A line a person reads: "lead changed vie's role from viewer to member". */
export function describeEvent(e: AuditEvent): string {
  const d = e.detail ?? {};
  const str = (k: string): string => (typeof d[k] === "string" || typeof d[k] === "number" ? String(d[k]) : "?");
  switch (e.action) {
    case "team.create":
      return `${e.actor} created team ${e.target}`;
    case "team.member.add":
      return `${e.actor} added ${e.target} as ${str("role")}`;
    case "team.member.remove":
      return `${e.actor} removed ${e.target}`;
    case "team.member.leave":
      return `${e.actor} left the team`;
    case "team.role":
      return `${e.actor} changed ${e.target}'s role from ${str("from")} to ${str("to")}`;
    case "invitation.create":
      return `${e.actor} created an invitation (${str("role")})${typeof d.note === "string" && d.note !== "" ? `: ${d.note}` : ""}`;
    case "invitation.revoke":
      return `${e.actor} revoked an invitation (${str("role")})`;
    case "invitation.accept":
      return `${e.target} joined as ${str("role")} through ${str("inviter")}'s invitation${d.new_user === true ? " (new account)" : ""}`;
    case "user.create":
      return `${e.actor} created user ${e.target}`;
    case "user.disable":
      return `${e.actor} disabled ${e.target}`;
    case "user.enable":
      return `${e.actor} enabled ${e.target}`;
    case "user.admin":
      return `${e.actor} ${d.is_admin === true ? "made" : "removed"} ${e.target} ${d.is_admin === true ? "an admin" : "as admin"}`;
    case "user.password":
      return `${e.actor} set ${e.target}'s password`;
    case "key.revoke":
      return `${e.actor} revoked ${e.target}'s key ${str("prefix")}`;
    default:
      return `${e.actor} ${e.action} ${e.target}`.trim();
  }
}
