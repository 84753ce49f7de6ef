import { describe, expect, it } from "vitest";
import { describeEvent, type AuditEvent } from "../../api/audit";
import { roleOf, type TeamInfo } from "../../api/teams";
import { isTeamAdmin } from "./TeamPage";

const lab: TeamInfo = { name: "lab", members: ["ann", "bob", "cy"], admins: ["ann"], roles: { ann: "admin", bob: "member", cy: "viewer" } };

function event(action: string, target: string, detail: Record<string, unknown> | null = null): AuditEvent {
  return { id: 1, at: 0, actor: "ann", action, entity: "lab", target, detail };
}

describe("team roles", () => {
  it("reads each member's role, from the roles or (older servers) the admins", () => {
    expect(roleOf(lab, "cy")).toBe("viewer");
    expect(roleOf(lab, "bob")).toBe("member");
    expect(roleOf({ name: "old", members: ["ann", "bob"], admins: ["ann"] }, "ann")).toBe("admin");
    expect(roleOf({ name: "old", members: ["ann", "bob"], admins: ["ann"] }, "bob")).toBe("member");
  });

  it("lets team admins and server admins manage the team, nobody else", () => {
    expect(isTeamAdmin({ name: "ann", is_admin: false, teams: ["lab"] }, lab)).toBe(true);
    expect(isTeamAdmin({ name: "bob", is_admin: false, teams: ["lab"] }, lab)).toBe(false);
    expect(isTeamAdmin({ name: "cy", is_admin: false, teams: ["lab"], read_only: ["lab"] }, lab)).toBe(false);
    expect(isTeamAdmin({ name: "root", is_admin: true, teams: [] }, lab)).toBe(true);
    expect(isTeamAdmin(null, lab)).toBe(false);
  });
});

describe("audit lines", () => {
  it("say who did what in words", () => {
    expect(describeEvent(event("team.role", "cy", { from: "viewer", to: "member" }))).toBe("ann changed cy's role from viewer to member");
    expect(describeEvent({ ...event("invitation.accept", "dan", { role: "viewer", inviter: "ann", new_user: true }), actor: "dan" })).toBe(
      "dan joined as viewer through ann's invitation (new account)",
    );
    expect(describeEvent(event("invitation.create", "invitation 3", { role: "member", note: "for Dana" }))).toBe("ann created an invitation (member): for Dana");
    expect(describeEvent(event("key.revoke", "bob", { prefix: "fwk_abcdefgh" }))).toBe("ann revoked bob's key fwk_abcdefgh");
    expect(describeEvent(event("report.delete", "r1"))).toBe("ann report.delete r1");
  });
});
