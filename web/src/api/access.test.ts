import { describe, expect, it } from "vitest";
import { ApiError, onUnauthorized } from "./client";
import { createKey, isKey, keyStatus, listKeys, revokeKey, type KeyInfo } from "./keys";
import { addMember, createTeam, listTeams, removeMember } from "./teams";
import { json, stubFetch, type FetchCall } from "./test-utils";
import { createUser, listUsers, updateUser } from "./users";

const server = stubFetch("fwk_admin");

function bodyOf(call: FetchCall | undefined): unknown {
  return JSON.parse(call?.init.body as string);
}

function key(partial: Partial<KeyInfo> = {}): KeyInfo {
  return { id: 1, prefix: "fwk_abcd1234", description: "", created_at: 0, last_used_at: null, expires_at: null, revoked: false, expired: false, ...partial };
}

describe("users", () => {
  it("lists the users", async () => {
    const ann = { name: "ann", is_admin: false, disabled: false, has_password: true, created_at: 1, teams: ["lab"] };
    server.answer = () => json({ users: [ann] });
    expect(await listUsers()).toEqual([ann]);
    expect(server.calls[0]?.url.pathname).toBe("/api/v1/users");
  });

  it("creates a user, leaving out an empty password and a false admin flag", async () => {
    server.answer = () => json({ name: "bob", is_admin: false, api_key: "fwk_new" });
    expect((await createUser({ name: " bob ", password: "", is_admin: false })).api_key).toBe("fwk_new");
    expect(server.calls[0]?.init.method).toBe("POST");
    expect(bodyOf(server.calls[0])).toEqual({ name: "bob" });
    await createUser({ name: "eve", password: "long enough", is_admin: true });
    expect(bodyOf(server.calls[1])).toEqual({ name: "eve", password: "long enough", is_admin: true });
  });

  it("patches a user by escaped name and passes the server's refusal on", async () => {
    server.answer = () => json({ detail: "you cannot disable yourself" }, 400);
    const err = (await updateUser("a.b c", { disabled: true }).catch((e: unknown) => e)) as ApiError;
    expect(server.calls[0]?.init.method).toBe("PATCH");
    expect(server.calls[0]?.url.pathname).toBe("/api/v1/users/a.b%20c");
    expect(bodyOf(server.calls[0])).toEqual({ disabled: true });
    expect(err).toBeInstanceOf(ApiError);
    expect(err.detail).toBe("you cannot disable yourself");
  });

  it("reports a 403 as an error, not as a sign-out", async () => {
    const seen: string[] = [];
    onUnauthorized((d) => seen.push(d));
    server.answer = () => json({ detail: "only admins list users" }, 403);
    await expect(listUsers()).rejects.toMatchObject({ status: 403 });
    expect(seen).toEqual([]);
  });
});

describe("keys", () => {
  it("lists the viewer's keys or a user's", async () => {
    server.answer = () => json({ keys: [key()] });
    expect((await listKeys())[0]?.prefix).toBe("fwk_abcd1234");
    await listKeys("ann");
    expect(server.calls.map((c) => c.url.pathname)).toEqual(["/api/v1/keys", "/api/v1/users/ann/keys"]);
  });

  it("creates a key with or without an expiry", async () => {
    server.answer = () => json({ id: 3, api_key: "fwk_x", expires_at: null });
    await createKey(" ci ");
    await createKey("tmp", 86400);
    expect(bodyOf(server.calls[0])).toEqual({ description: "ci" });
    expect(bodyOf(server.calls[1])).toEqual({ description: "tmp", expires_in: 86400 });
  });

  it("revokes a key by id", async () => {
    server.answer = () => json({ id: 7, revoked: true });
    expect(await revokeKey(7)).toEqual({ id: 7, revoked: true });
    expect(server.calls[0]?.init.method).toBe("DELETE");
    expect(server.calls[0]?.url.pathname).toBe("/api/v1/keys/7");
  });

  it("tells a key's status: revoked before expired, expiry checked against now", () => {
    expect(keyStatus(key())).toBe("active");
    expect(keyStatus(key({ expires_at: 100 }), 50)).toBe("active");
    expect(keyStatus(key({ expires_at: 100 }), 100)).toBe("expired");
    expect(keyStatus(key({ expired: true }), 0)).toBe("expired");
    expect(keyStatus(key({ expired: true, revoked: true }))).toBe("revoked");
  });

  it("recognizes the key this browser signed in with by its prefix", () => {
    expect(isKey(key(), "fwk_abcd1234restofthekey")).toBe(true);
    expect(isKey(key(), "fwk_other")).toBe(false);
    expect(isKey(key(), null)).toBe(false);
  });
});

describe("teams", () => {
  it("lists, creates, adds and removes members", async () => {
    server.answer = () => json({ teams: [{ name: "lab", members: ["ann"] }] });
    expect(await listTeams()).toEqual([{ name: "lab", members: ["ann"] }]);
    server.answer = () => json({ name: "lab", members: ["admin"] });
    await createTeam(" lab ");
    await addMember("lab", "ann");
    await removeMember("lab", "a b");
    expect(server.calls.map((c) => `${c.init.method ?? "GET"} ${c.url.pathname}`)).toEqual([
      "GET /api/v1/teams",
      "POST /api/v1/teams",
      "POST /api/v1/teams/lab/members",
      "DELETE /api/v1/teams/lab/members/a%20b",
    ]);
    expect(bodyOf(server.calls[1])).toEqual({ name: "lab" });
    expect(bodyOf(server.calls[2])).toEqual({ user: "ann" });
  });
});
