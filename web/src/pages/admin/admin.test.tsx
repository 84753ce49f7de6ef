import type { ComponentChild } from "preact";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { storeApiKey } from "../../api/client";
import type { KeyInfo } from "../../api/keys";
import type { TeamInfo } from "../../api/teams";
import { json } from "../../api/test-utils";
import type { Viewer } from "../../api/types";
import type { UserInfo } from "../../api/users";
import { $, click, mount, settle, type } from "../../components/test-utils";
import { AdminPage } from "../Admin";
import { KeysPage } from "../Keys";
import { expirySeconds, isLocalViewer, passwordProblem } from "./access";

// A small in-memory server for the routes these pages use.
interface Call {
  method: string;
  path: string;
  body: unknown;
}

let calls: Call[] = [];
let users: UserInfo[] = [];
let keys: Record<string, KeyInfo[]> = {};
let teams: TeamInfo[] = [];

function user(name: string, partial: Partial<UserInfo> = {}): UserInfo {
  return { name, is_admin: false, disabled: false, has_password: false, created_at: 1_700_000_000, teams: [], ...partial };
}

function key(id: number, partial: Partial<KeyInfo> = {}): KeyInfo {
  return { id, prefix: `fwk_pre${id}`, description: "", created_at: 1_700_000_000, last_used_at: null, expires_at: null, revoked: false, expired: false, ...partial };
}

function serve(method: string, path: string, body: unknown): Response {
  const viewer = "root";
  const p = path.replace(/^\/api\/v1/, "");
  let m: RegExpMatchArray | null;
  if (method === "GET" && p === "/users") return json({ users });
  if (method === "POST" && p === "/users") {
    const b = body as { name: string; is_admin?: boolean };
    users = [...users, user(b.name, { is_admin: b.is_admin === true })];
    return json({ name: b.name, is_admin: b.is_admin === true, api_key: "fwk_secretNEWKEY" });
  }
  if (method === "PATCH" && (m = /^\/users\/([^/]+)$/.exec(p)) !== null) {
    const name = decodeURIComponent(m[1] ?? "");
    const b = body as { disabled?: boolean; is_admin?: boolean; password?: string };
    if (name === viewer && b.disabled === true) return json({ detail: "you cannot disable yourself" }, 400);
    users = users.map((u) =>
      u.name === name ? { ...u, disabled: b.disabled ?? u.disabled, is_admin: b.is_admin ?? u.is_admin, has_password: b.password !== undefined || u.has_password } : u,
    );
    return json(users.find((u) => u.name === name));
  }
  if (method === "GET" && (m = /^\/users\/([^/]+)\/keys$/.exec(p)) !== null) return json({ keys: keys[decodeURIComponent(m[1] ?? "")] ?? [] });
  if (method === "GET" && p === "/keys") return json({ keys: keys[viewer] ?? [] });
  if (method === "POST" && p === "/keys") {
    const b = body as { expires_in?: number };
    const k = key(99, { expires_at: b.expires_in === undefined ? null : 1_700_000_000 + b.expires_in });
    keys[viewer] = [...(keys[viewer] ?? []), k];
    return json({ id: 99, api_key: "fwk_secretOWNKEY", expires_at: k.expires_at });
  }
  if (method === "DELETE" && (m = /^\/keys\/(\d+)$/.exec(p)) !== null) {
    const id = Number(m[1]);
    for (const owner of Object.keys(keys)) keys[owner] = (keys[owner] ?? []).map((k) => (k.id === id ? { ...k, revoked: true } : k));
    return json({ id, revoked: true });
  }
  if (method === "GET" && p === "/teams") return json({ teams });
  if (method === "POST" && p === "/teams") {
    const t = { name: (body as { name: string }).name, members: [viewer] };
    teams = [...teams, t];
    return json(t);
  }
  if ((m = /^\/teams\/([^/]+)\/members(?:\/([^/]+))?$/.exec(p)) !== null) {
    const team = decodeURIComponent(m[1] ?? "");
    const member = method === "POST" ? (body as { user: string }).user : decodeURIComponent(m[2] ?? "");
    teams = teams.map((t) =>
      t.name !== team ? t : { ...t, members: method === "POST" ? [...t.members, member].sort() : t.members.filter((x) => x !== member) },
    );
    return json(teams.find((t) => t.name === team));
  }
  return json({ detail: "Not Found" }, 404);
}

const root: Viewer = { name: "root", is_admin: true, teams: [] };
const cleanups: (() => void)[] = [];

beforeEach(() => {
  calls = [];
  users = [user("ann", { teams: ["lab"], has_password: true }), user("root", { is_admin: true })];
  keys = { ann: [key(1, { description: "laptop" }), key(2, { revoked: true })], root: [key(3)] };
  teams = [{ name: "lab", members: ["ann"] }];
  localStorage.clear();
  storeApiKey("fwk_pre3restofroot");
  vi.stubGlobal("fetch", (input: URL | string, init: RequestInit) => {
    const url = new URL(String(input));
    const method = init.method ?? "GET";
    const body: unknown = typeof init.body === "string" ? JSON.parse(init.body) : undefined;
    calls.push({ method, path: url.pathname, body });
    return Promise.resolve(serve(method, url.pathname, body));
  });
});

afterEach(() => {
  while (cleanups.length > 0) cleanups.pop()?.();
  vi.unstubAllGlobals();
  storeApiKey(null);
});

async function show(node: ComponentChild): Promise<HTMLElement> {
  const { container, unmount } = mount(node);
  cleanups.push(unmount);
  await settle();
  await settle();
  return container;
}

function row(c: HTMLElement, name: string): HTMLElement {
  return $(c, `[data-testid=user-row][data-user="${name}"]`);
}

function writes(): string[] {
  return calls.filter((c) => c.method !== "GET").map((c) => `${c.method} ${c.path.replace("/api/v1", "")} ${JSON.stringify(c.body ?? null)}`);
}

describe("access helpers", () => {
  it("tells the local dashboard from a team server", () => {
    expect(isLocalViewer({ name: "local", is_admin: true, teams: [] }, false)).toBe(true);
    expect(isLocalViewer({ name: "local", is_admin: true, teams: [] }, true)).toBe(false);
    expect(isLocalViewer({ name: "ann", is_admin: true, teams: [] }, false)).toBe(false);
  });

  it("maps expiry choices to seconds and checks passwords", () => {
    expect(expirySeconds("never")).toBeUndefined();
    expect(expirySeconds("7d")).toBe(604_800);
    expect(passwordProblem("short", 8)).toMatch(/at least 8/);
    expect(passwordProblem("long enough", 8)).toBeNull();
  });
});

describe("AdminPage", () => {
  it("tells a non-admin why there is nothing here, without asking for users", async () => {
    const c = await show(<AdminPage viewer={{ name: "ann", is_admin: false, teams: [] }} local={false} params={{}} />);
    expect($(c, "[data-testid=empty]").textContent).toMatch(/Only administrators/);
    expect($(c, "[data-testid=empty] a").getAttribute("href")).toBe("#/keys");
    expect(calls).toEqual([]);
  });

  it("tells the local dashboard's user that users live on a team server", async () => {
    const c = await show(<AdminPage viewer={{ name: "local", is_admin: true, teams: [] }} local params={{}} />);
    expect($(c, "[data-testid=empty]").textContent).toMatch(/local dashboard/);
    expect(calls).toEqual([]);
  });

  it("shows the admins-only message when the server answers 403", async () => {
    vi.stubGlobal("fetch", () => Promise.resolve(json({ detail: "only admins list users" }, 403)));
    const c = await show(<AdminPage viewer={root} local={false} params={{}} />);
    expect($(c, "[data-testid=empty]").textContent).toMatch(/Only administrators/);
  });

  it("lists users with their role, status and teams; the admin cannot disable themself", async () => {
    const c = await show(<AdminPage viewer={root} local={false} params={{}} />);
    expect([...c.querySelectorAll("[data-testid=user-row]")].map((r) => r.getAttribute("data-user"))).toEqual(["ann", "root"]);
    expect($(row(c, "ann"), "[data-testid=user-teams]").textContent).toBe("lab");
    expect(($(row(c, "root"), "[data-testid=user-disable]") as HTMLButtonElement).disabled).toBe(true);
    expect(($(row(c, "root"), "[data-testid=user-admin]") as HTMLButtonElement).disabled).toBe(true);
    expect($(row(c, "ann"), "[data-testid=user-keys]").getAttribute("href")).toBe("#/admin?user=ann");
  });

  it("disables after a confirmation and enables at once", async () => {
    const c = await show(<AdminPage viewer={root} local={false} params={{}} />);
    click($(row(c, "ann"), "[data-testid=user-disable]"));
    expect($(c, "[role=alertdialog]").textContent).toMatch(/Disable ann\?/);
    click($(c, "[data-testid=confirm-ok]"));
    await settle();
    expect(c.querySelector("[role=alertdialog]")).toBeNull();
    expect(row(c, "ann").getAttribute("data-disabled")).toBe("true");
    expect($(row(c, "ann"), "[data-testid=user-status]").textContent).toBe("Disabled");
    click($(row(c, "ann"), "[data-testid=user-enable]"));
    await settle();
    expect(row(c, "ann").getAttribute("data-disabled")).toBe("false");
    expect(writes()).toEqual(['PATCH /users/ann {"disabled":true}', 'PATCH /users/ann {"disabled":false}']);
  });

  it("makes a user an admin after a confirmation", async () => {
    const c = await show(<AdminPage viewer={root} local={false} params={{}} />);
    click($(row(c, "ann"), "[data-testid=user-admin]"));
    click($(c, "[data-testid=confirm-ok]"));
    await settle();
    expect(row(c, "ann").getAttribute("data-admin")).toBe("true");
    expect($(row(c, "ann"), "[data-testid=user-admin]").textContent).toBe("Remove admin");
  });

  it("resets a password only when it is long enough", async () => {
    const c = await show(<AdminPage viewer={root} local={false} params={{}} />);
    click($(row(c, "ann"), "[data-testid=user-password]"));
    type($(c, "[data-testid=reset-password-input]"), "short");
    click($(c, "[data-testid=confirm-ok]"));
    await settle();
    expect($(c, "[role=alertdialog] [role=alert]").textContent).toMatch(/at least 8/);
    type($(c, "[data-testid=reset-password-input]"), "a new password");
    click($(c, "[data-testid=confirm-ok]"));
    await settle();
    expect(c.querySelector("[role=alertdialog]")).toBeNull();
    expect(writes()).toEqual(['PATCH /users/ann {"password":"a new password"}']);
  });

  it("creates a user and shows the new key once", async () => {
    const c = await show(<AdminPage viewer={root} local={false} params={{}} />);
    type($(c, "[data-testid=create-user-name]"), "bob");
    type($(c, "[data-testid=create-user-password]"), "short");
    click($(c, "[data-testid=create-user-submit]"));
    await settle();
    expect($(c, "[data-testid=create-user-form] [role=alert]").textContent).toMatch(/at least 8/);
    expect(writes()).toEqual([]);
    type($(c, "[data-testid=create-user-password]"), "");
    click($(c, "[data-testid=create-user-submit]"));
    await settle();
    await settle();
    expect(writes()).toEqual(['POST /users {"name":"bob"}']);
    expect(($(c, "[data-testid=new-key-value]") as HTMLInputElement).value).toBe("fwk_secretNEWKEY");
    expect(row(c, "bob")).toBeTruthy();
    click($(c, "[data-testid=new-key-done]"));
    expect(c.textContent).not.toContain("fwk_secretNEWKEY");
  });

  it("shows a user's keys and revokes one after a confirmation", async () => {
    const c = await show(<AdminPage viewer={root} local={false} params={{ user: "ann" }} />);
    const section = $(c, "[data-testid=user-keys-section]");
    expect(section.querySelectorAll("[data-testid=key-row]")).toHaveLength(2);
    expect($(section, '[data-key-id="2"]').getAttribute("data-status")).toBe("revoked");
    expect($(section, '[data-key-id="2"]').querySelector("[data-testid=key-revoke]")).toBeNull();
    click($(section, '[data-key-id="1"] [data-testid=key-revoke]'));
    expect($(c, "[role=alertdialog]").textContent).toMatch(/Revoke key fwk_pre1/);
    expect($(c, "[role=alertdialog]").textContent).not.toMatch(/signed out/);
    click($(c, "[data-testid=confirm-ok]"));
    await settle();
    await settle();
    expect(writes()).toEqual(["DELETE /keys/1 null"]);
    expect($(c, '[data-testid=key-row][data-key-id="1"]').getAttribute("data-status")).toBe("revoked");
  });

  it("adds and removes team members and creates teams", async () => {
    const c = await show(<AdminPage viewer={root} local={false} params={{}} />);
    const lab = (): HTMLElement => $(c, '[data-testid=team-card][data-team="lab"]');
    const members = (): (string | null)[] => [...lab().querySelectorAll("[data-testid=team-member]")].map((m) => m.getAttribute("data-member"));
    expect(members()).toEqual(["ann"]);
    expect(($(lab(), "[data-testid=member-add-select]") as HTMLSelectElement).value).toBe("root");
    click($(lab(), "[data-testid=member-add]"));
    await settle();
    expect(members()).toEqual(["ann", "root"]);
    click($(lab(), '[data-member="ann"] [data-testid=member-remove]'));
    await settle();
    expect(members()).toEqual(["root"]);
    type($(c, "[data-testid=create-team-name]"), "vision");
    click($(c, "[data-testid=create-team-submit]"));
    await settle();
    expect($(c, '[data-testid=team-card][data-team="vision"]').textContent).toContain("root");
    expect(writes()).toEqual(['POST /teams/lab/members {"user":"root"}', "DELETE /teams/lab/members/ann null", 'POST /teams {"name":"vision"}']);
  });
});

describe("KeysPage", () => {
  it("creates an expiring key, shows it once, and warns before revoking the key in use", async () => {
    const c = await show(<KeysPage viewer={root} local={false} />);
    expect(c.querySelectorAll("[data-testid=key-row]")).toHaveLength(1);
    type($(c, "[data-testid=create-key-description]"), "ci");
    const expiry = $(c, "[data-testid=create-key-expiry]") as HTMLSelectElement;
    expiry.value = "7d";
    expiry.dispatchEvent(new Event("change", { bubbles: true }));
    await settle();
    click($(c, "[data-testid=create-key-submit]"));
    await settle();
    await settle();
    expect(writes()).toEqual(['POST /keys {"description":"ci","expires_in":604800}']);
    expect(($(c, "[data-testid=new-key-value]") as HTMLInputElement).value).toBe("fwk_secretOWNKEY");
    expect(c.querySelectorAll("[data-testid=key-row]")).toHaveLength(2);
    click($(c, '[data-key-id="3"] [data-testid=key-revoke]'));
    expect($(c, "[role=alertdialog]").textContent).toMatch(/you will be signed out/);
  });

  it("needs no keys on the local dashboard", async () => {
    const c = await show(<KeysPage viewer={{ name: "local", is_admin: true, teams: [] }} local />);
    expect($(c, "[data-testid=empty]").textContent).toMatch(/needs no API keys/);
    expect(calls).toEqual([]);
  });
});
