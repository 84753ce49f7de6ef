// Offboarding through the Admin page against the real server: create a user (key shown once),
// disable and enable them, revoke their key, reset their password, manage a team's members.
// Every effect is checked with the user's own credentials straight against the API.

import type { Page } from "@playwright/test";
import type { State } from "./harness";
import { at, expect, test } from "./util";

/** Names unique to this run of the suite (the server keeps its data between tests). */
const RUN = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;

/** A request to the server's API with `key` (none: no Authorization header). */
async function api(state: State, path: string, key: string | null, init: { method?: string; body?: unknown } = {}): Promise<Response> {
  const headers: Record<string, string> = { Accept: "application/json" };
  if (key !== null) headers.Authorization = `Bearer ${key}`;
  if (init.body !== undefined) headers["Content-Type"] = "application/json";
  return fetch(`${state.server}/api/v1${path}`, {
    method: init.method ?? "GET",
    headers,
    body: init.body === undefined ? null : JSON.stringify(init.body),
  });
}

async function viewerStatus(state: State, key: string): Promise<number> {
  return (await api(state, "/viewer", key)).status;
}

async function membersOf(state: State, team: string): Promise<string[]> {
  const resp = await api(state, "/teams", state.adminKey);
  expect(resp.status).toBe(200);
  const { teams } = (await resp.json()) as { teams: { name: string; members: string[] }[] };
  const found = teams.find((t) => t.name === team);
  if (found === undefined) throw new Error(`team ${team} is not listed`);
  return found.members;
}

function userRow(page: Page, name: string) {
  return page.locator(`[data-testid="user-row"][data-user="${name}"]`);
}

async function confirm(page: Page, title: RegExp): Promise<void> {
  const dialog = page.getByRole("alertdialog");
  await expect(dialog).toContainText(title);
  await dialog.getByTestId("confirm-ok").click();
  await expect(dialog).toHaveCount(0);
}

test("an admin offboards a user from the Admin page: disable, enable, revoke, reset password", async ({ admin: page, state }) => {
  const name = `e2e-user-${RUN}`;
  await page.goto(at(state, "/"));
  await page.getByTestId("nav-admin").click();
  await expect(page.getByTestId("admin-page")).toBeVisible();
  await expect(userRow(page, "admin")).toBeVisible();

  // create the user: its first key is shown once
  await page.getByTestId("create-user-name").fill(name);
  await page.getByTestId("create-user-submit").click();
  const shown = page.getByTestId("new-key-value");
  await expect(shown).toHaveValue(/^fwk_/);
  const key = await shown.inputValue();
  await expect(userRow(page, name)).toHaveAttribute("data-disabled", "false");
  await page.getByTestId("new-key-done").click();
  await expect(page.getByTestId("new-key")).toHaveCount(0);
  expect(await page.content()).not.toContain(key);
  const me = await api(state, "/viewer", key);
  expect(me.status).toBe(200);
  expect(((await me.json()) as { name: string }).name).toBe(name);

  // disable: the same key is refused at once; enable: accepted again
  await userRow(page, name).getByRole("button", { name: `Disable ${name}` }).click();
  await confirm(page, new RegExp(`Disable ${name}\\?`));
  await expect(userRow(page, name)).toHaveAttribute("data-disabled", "true");
  await expect(userRow(page, name).getByTestId("user-status")).toHaveText("Disabled");
  expect(await viewerStatus(state, key)).toBe(401);
  await userRow(page, name).getByRole("button", { name: `Enable ${name}` }).click();
  await expect(userRow(page, name)).toHaveAttribute("data-disabled", "false");
  expect(await viewerStatus(state, key)).toBe(200);

  // the user's keys: revoke the one in use
  await userRow(page, name).getByRole("link", { name: `API keys of ${name}` }).click();
  const keys = page.getByTestId("user-keys-section");
  await expect(keys).toHaveAttribute("data-user", name);
  await expect(keys.getByTestId("key-row")).toHaveCount(1);
  const prefix = (await keys.getByTestId("key-row").getAttribute("data-prefix")) ?? "";
  expect(key.startsWith(prefix)).toBe(true);
  await expect(keys.getByTestId("key-row")).toHaveAttribute("data-status", "active");
  await keys.getByRole("button", { name: `Revoke key ${prefix}` }).click();
  await confirm(page, /Revoke key/);
  await expect(keys.getByTestId("key-row")).toHaveAttribute("data-status", "revoked");
  expect(await viewerStatus(state, key)).toBe(401);

  // reset the password: the user signs in with the new one
  const password = `pw-${RUN}-new`;
  expect((await api(state, "/login", null, { method: "POST", body: { username: name, password } })).status).toBe(401);
  await userRow(page, name).getByRole("button", { name: `Reset the password of ${name}` }).click();
  const dialog = page.getByRole("alertdialog");
  await dialog.getByLabel("New password").fill(password);
  await dialog.getByTestId("confirm-ok").click();
  await expect(dialog).toHaveCount(0);
  const login = await api(state, "/login", null, { method: "POST", body: { username: name, password } });
  expect(login.status).toBe(200);
  const { api_key } = (await login.json()) as { api_key: string };
  expect(await viewerStatus(state, api_key)).toBe(200);
});

test("an admin creates a team and adds and removes a member from the Admin page", async ({ admin: page, state }) => {
  const name = `e2e-member-${RUN}`;
  const team = `e2e-team-${RUN}`;
  expect((await api(state, "/users", state.adminKey, { method: "POST", body: { name } })).status).toBe(200);
  await page.goto(at(state, "/admin"));

  await page.getByTestId("create-team-name").fill(team);
  await page.getByTestId("create-team-submit").click();
  const card = page.locator(`[data-testid="team-card"][data-team="${team}"]`);
  const members = card.getByTestId("team-member-name");
  await expect(members).toHaveText(["admin"]);
  expect(await membersOf(state, team)).toEqual(["admin"]);

  await card.getByRole("combobox", { name: `User to add to ${team}` }).selectOption(name);
  await card.getByRole("button", { name: `Add to ${team}` }).click();
  await expect(card.locator(`[data-testid="team-member"][data-member="${name}"]`)).toBeVisible();
  expect((await membersOf(state, team)).sort()).toEqual(["admin", name].sort());
  await expect(userRow(page, name).getByTestId("user-teams")).toHaveText(team);

  await card.getByRole("button", { name: `Remove ${name} from ${team}` }).click();
  await expect(card.locator(`[data-testid="team-member"][data-member="${name}"]`)).toHaveCount(0);
  expect(await membersOf(state, team)).toEqual(["admin"]);
  await expect(userRow(page, name).getByTestId("user-teams")).toHaveText("-");
});

test("every user manages their own keys; only admins see the Admin page", async ({ page, state }) => {
  const name = `e2e-self-${RUN}`;
  const created = await api(state, "/users", state.adminKey, { method: "POST", body: { name } });
  expect(created.status).toBe(200);
  const { api_key: first } = (await created.json()) as { api_key: string };
  await page.addInitScript((key: string) => {
    window.localStorage.setItem("fwtrack.apiKey", key);
  }, first);

  await page.goto(at(state, "/"));
  await expect(page.getByTestId("viewer-name")).toHaveText(name);
  await expect(page.getByTestId("nav-admin")).toHaveCount(0);
  await page.goto(at(state, "/admin"));
  await expect(page.getByTestId("admin-page")).toContainText("Only administrators");

  await page.getByTestId("nav-keys").click();
  await expect(page.getByTestId("keys-page")).toBeVisible();
  await expect(page.getByTestId("key-row")).toHaveCount(1);
  await page.getByTestId("create-key-description").fill("ci runner");
  await page.getByTestId("create-key-expiry").selectOption({ label: "7 days" });
  await page.getByTestId("create-key-submit").click();
  await expect(page.getByTestId("new-key-value")).toHaveValue(/^fwk_/);
  const second = await page.getByTestId("new-key-value").inputValue();
  expect(await viewerStatus(state, second)).toBe(200);
  const row = page.getByTestId("key-row").filter({ hasText: "ci runner" });
  await expect(row).toHaveAttribute("data-status", "active");
  await expect(row.getByRole("cell").nth(4)).not.toHaveText("never");

  await row.getByRole("button", { name: /Revoke key/ }).click();
  await confirm(page, /Revoke key/);
  await expect(row).toHaveAttribute("data-status", "revoked");
  expect(await viewerStatus(state, second)).toBe(401);
  expect(await viewerStatus(state, first)).toBe(200);
});

test("the local dashboard offers no Admin page", async ({ page, state }) => {
  await page.goto(at(state, "/", "ui"));
  await expect(page.getByTestId("projects-page")).toBeVisible();
  await expect(page.getByTestId("viewer-name")).toHaveText("local");
  await expect(page.getByTestId("nav-admin")).toHaveCount(0);
  await page.goto(at(state, "/admin", "ui"));
  await expect(page.getByTestId("admin-page")).toContainText("Nothing to manage on the local dashboard");
});
