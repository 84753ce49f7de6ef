// Team roles and invitations, against a real server of this spec's own seeded by
// `team_fixtures.py` (team `lab`, its admin `lead`, a run in `lab/vision`): lead invites a
// viewer by link from the team page (the link shown once); a fresh browser context opens the
// link, creates an account through it and lands on the team; it sees the team's project and
// run but no write controls (no tag editor, no delete, the workspace layout not saved), and a
// write through the API with its key is refused (403). Lead makes it a member: the same write
// succeeds. The team's audit lists the invitation, the join and the role change.

import { join } from "node:path";

import { seededServer } from "./harness";
import { expect, expectAccessible, test } from "./util";

const FIXTURES = join(import.meta.dirname, "team_fixtures.py");

/** What `team_fixtures.py` seeded (its `--out` file). */
interface Seeded {
  entity: string;
  project: string;
  run: string;
  run_name: string;
  lead: { name: string; api_key: string };
}

const backend = seededServer<Seeded>("team", FIXTURES, { seedTimeoutMs: 150_000 });
let server = "";
let seeded: Seeded;

test.describe.configure({ mode: "serial" });

test.beforeAll(async () => {
  test.setTimeout(180_000);
  ({ url: server, seeded } = await backend.start());
});

test.afterAll(async () => {
  await backend.stop();
});

/** A write through the API as `key`: a tag on the seeded run. */
async function tagRun(key: string, tags: string[]): Promise<Response> {
  return fetch(`${server}/api/v1/runs/${seeded.entity}/${seeded.project}/${seeded.run}`, {
    method: "PATCH",
    headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json" },
    body: JSON.stringify({ tags }),
  });
}

test("an admin invites a viewer by link; the viewer signs up, reads but cannot write until made a member; the audit lists it all", async ({ browser }) => {
  test.setTimeout(120_000);
  // lead, signed in, invites a viewer from the team page
  const leadContext = await browser.newContext();
  await leadContext.addInitScript((k: string) => {
    window.localStorage.setItem("fwtrack.apiKey", k);
  }, seeded.lead.api_key);
  const lead = await leadContext.newPage();
  await lead.goto(`${server}/#/`);
  await expect(lead.getByTestId("viewer-name")).toHaveText("lead");
  // the projects page links to the team
  await lead.getByTestId("team-link").filter({ hasText: seeded.entity }).first().click();
  await expect(lead).toHaveURL(/#\/teams\/lab$/);
  await expect(lead.getByTestId("team-my-role")).toHaveAttribute("data-role", "admin");
  const form = lead.getByTestId("invite-form");
  await form.getByTestId("invite-role").selectOption("viewer");
  await form.getByTestId("invite-note").fill("for Dana");
  await form.getByTestId("invite-create").click();
  const shown = lead.getByTestId("invite-link");
  await expect(shown).toHaveAttribute("data-role", "viewer");
  const link = await shown.getByTestId("invite-link-value").inputValue();
  expect(link).toMatch(/\/#\/invite\/[A-Za-z0-9_-]{40,}$/);
  await expect(lead.getByTestId("invite-row")).toHaveCount(1);
  await expect(lead.getByTestId("invite-row")).toContainText("for Dana");
  await expectAccessible(lead, "the team page");
  await shown.getByTestId("invite-link-done").click();
  await expect(lead.getByTestId("invite-link")).toHaveCount(0); // shown once

  // a fresh browser context (no key) opens the link and creates an account
  const danaContext = await browser.newContext();
  const dana = await danaContext.newPage();
  await dana.goto(link);
  const invite = dana.getByTestId("invite-page");
  await expect(invite).toHaveAttribute("data-state", "open");
  await expect(dana.getByTestId("invite-offer")).toContainText("lead invites you into team lab as a viewer");
  await expect(dana.getByTestId("invite-note-shown")).toContainText("for Dana");
  await expectAccessible(dana, "the invitation page");
  await dana.getByTestId("invite-signup-name").fill("dana");
  await dana.getByTestId("invite-signup-password").fill("dana's password");
  await dana.getByTestId("invite-signup-again").fill("dana's password");
  await dana.getByTestId("invite-signup-submit").click();
  await expect(dana).toHaveURL(/#\/teams\/lab$/);
  await expect(dana.getByTestId("viewer-name")).toHaveText("dana");
  await expect(dana.getByTestId("team-my-role")).toHaveAttribute("data-role", "viewer");
  await expect(dana.getByTestId("team-invitations")).toHaveCount(0); // not an admin
  const danaKey = await dana.evaluate(() => window.localStorage.getItem("fwtrack.apiKey") ?? "");
  expect(danaKey).toMatch(/^fwk_/);

  // the link works once
  const again = await danaContext.newPage();
  await again.goto(link);
  await expect(again.getByTestId("invite-page")).toHaveAttribute("data-state", "unusable");
  await expect(again.getByTestId("invite-problem")).toContainText("already used (by 'dana')");
  await again.close();

  // dana sees the team's project and run, and no write controls
  await dana.goto(`${server}/#/`);
  await expect(dana.locator(`[data-testid="project-row"][data-project="${seeded.entity}/${seeded.project}"]`)).toBeVisible();
  await dana.goto(`${server}/#/p/${seeded.entity}/${seeded.project}/r/${seeded.run}`);
  await expect(dana.getByTestId("run-page")).toBeVisible();
  await expect(dana.getByTestId("run-title-read-only")).toHaveText(seeded.run_name);
  await expect(dana.getByTestId("run-tags-read-only")).toContainText("baseline");
  await expect(dana.getByTestId("tag-editor")).toHaveCount(0);
  await expect(dana.getByTestId("delete-run")).toHaveCount(0);
  await expect(dana.getByTestId("run-notes")).toHaveCount(0);
  // the workspace: the layout is not saved for a viewer, and no selection actions
  const puts: string[] = [];
  dana.on("request", (r) => {
    if (r.method() !== "GET") puts.push(`${r.method()} ${r.url()}`);
  });
  await dana.goto(`${server}/#/p/${seeded.entity}/${seeded.project}`);
  await expect(dana.getByTestId("layout-read-only")).toBeVisible();
  await expect(dana.getByTestId("layout-read-only")).toHaveText("Not saved (viewer)");
  expect(puts.filter((p) => p.includes("/workspace"))).toEqual([]);

  // a write through the API with dana's key is refused
  let r = await tagRun(danaKey, ["mine"]);
  expect(r.status).toBe(403);
  expect(((await r.json()) as { detail: string }).detail).toContain("'dana' is a viewer of team 'lab'");

  // lead makes dana a member on the team page; the same write now succeeds
  await lead.reload();
  const row = lead.locator('[data-testid="team-member-row"][data-member="dana"]');
  await expect(row).toHaveAttribute("data-role", "viewer");
  await row.getByTestId("member-role").selectOption("member");
  await expect(row).toHaveAttribute("data-role", "member");
  r = await tagRun(danaKey, ["baseline", "checked"]);
  expect(r.status).toBe(200);
  expect(((await r.json()) as { tags: string[] }).tags).toEqual(["baseline", "checked"]);
  // and dana's dashboard shows the editors again
  await dana.goto(`${server}/#/p/${seeded.entity}/${seeded.project}/r/${seeded.run}`);
  await dana.reload();
  await expect(dana.getByTestId("tag-editor")).toBeVisible();
  await expect(dana.getByTestId("delete-run")).toBeVisible();

  // the team's audit: the invitation, the join and the role change, newest first
  const audit = lead.getByTestId("team-audit");
  await expect(audit.getByTestId("audit-event").first()).toHaveAttribute("data-action", "team.role");
  const actions = await audit.getByTestId("audit-event").evaluateAll((els) => els.map((e) => `${e.getAttribute("data-action")} ${e.getAttribute("data-target")}`));
  expect(actions.slice(0, 3)).toEqual(["team.role dana", "invitation.accept dana", expect.stringMatching(/^invitation\.create invitation \d+$/)]);
  await expect(audit.getByTestId("audit-event").first()).toContainText("lead changed dana's role from viewer to member");
  await expect(audit.getByTestId("audit-event").nth(1)).toContainText("dana joined as viewer through lead's invitation (new account)");

  await leadContext.close();
  await danaContext.close();
});
