// Bulk actions on the workspace's runs table, against a real server of this spec's own seeded
// by `bulk_fixtures.py` (runs logged online by real processes): select three runs, tag them,
// untag them, move two to another project (and open them there, their file readable), delete
// one after the dialog asked "Delete 1 run?". Each step is checked in the table and through
// the server's API.

import { join } from "node:path";
import type { Page } from "@playwright/test";

import { seededServer } from "./harness";
import { expect, expectAccessible, expectNamedControls, test } from "./util";

const FIXTURES = join(import.meta.dirname, "bulk_fixtures.py");

interface Seeded {
  entity: string;
  project: string;
  dest: string;
  runs: string[];
  dest_runs: string[];
}

interface RunJson {
  id: string;
  tags: string[];
}

const backend = seededServer<Seeded>("bulk", FIXTURES, { seedTimeoutMs: 200_000, fixtureArgs: ["server"], clientDir: "client" });
let server = "";
let adminKey = "";
let seeded: Seeded;

test.describe.configure({ mode: "serial" });

test.beforeAll(async () => {
  test.setTimeout(240_000);
  ({ url: server, adminKey, seeded } = await backend.start());
});

test.afterAll(async () => {
  await backend.stop();
});

async function signedIn(page: Page): Promise<void> {
  await page.addInitScript((key: string) => {
    window.localStorage.setItem("fwtrack.apiKey", key);
  }, adminKey);
}

async function api(path: string): Promise<{ status: number; body: unknown }> {
  const resp = await fetch(`${server}/api/v1${path}`, { headers: { Authorization: `Bearer ${adminKey}` } });
  const text = await resp.text();
  return { status: resp.status, body: text === "" ? null : (JSON.parse(text) as unknown) };
}

async function tagsOf(project: string, id: string): Promise<string[]> {
  const { status, body } = await api(`/runs/${seeded.entity}/${project}/${id}`);
  expect(status).toBe(200);
  return (body as RunJson).tags;
}

async function select(page: Page, ids: readonly string[]): Promise<void> {
  for (const id of ids) await page.locator(`[data-testid=run-row][data-run-id="${id}"] [data-testid=run-select]`).check();
  await expect(page.getByTestId("bulk-count")).toHaveText(`${ids.length} ${ids.length === 1 ? "run" : "runs"} selected`);
}

function rowIds(page: Page): Promise<string[]> {
  return page.getByTestId("run-row").evaluateAll((rows) => rows.map((r) => (r as HTMLElement).dataset.runId ?? "").sort());
}

test("select three runs, tag, untag, move two to another project, delete one", async ({ page }) => {
  test.setTimeout(120_000);
  await signedIn(page);
  const [b1, b2, b3, b4] = seeded.runs as [string, string, string, string];
  await page.goto(`${server}/#/p/${seeded.entity}/${seeded.project}`);
  await expect.poll(() => rowIds(page)).toEqual([b1, b2, b3, b4]);
  await expect(page.getByTestId("bulk-bar")).toHaveCount(0);

  // tag three runs
  await select(page, [b1, b2, b3]);
  await expectNamedControls(page, "the bulk actions bar");
  await page.getByTestId("bulk-tag").click();
  const dialog = page.getByTestId("confirm-dialog");
  await expect(dialog.getByRole("heading")).toHaveText("Tag 3 runs");
  await dialog.getByTestId("bulk-tag-chip-input").fill("golden");
  await dialog.getByTestId("bulk-tag-chip-input").press("Enter");
  await expect(dialog.locator("[data-bulk-tag-chip=golden]")).toBeVisible();
  await expectAccessible(page, "the bulk tag dialog");
  await dialog.getByTestId("confirm-ok").click();
  await expect(dialog).toHaveCount(0);
  await expect(page.getByTestId("bulk-outcome")).toContainText("Tagged 3 runs.");
  await expect(page.getByTestId("bulk-count")).toHaveCount(0); // the selection cleared
  for (const id of [b1, b2, b3]) {
    await expect(page.locator(`[data-testid=run-row][data-run-id="${id}"] .col-tags`)).toContainText("golden");
    expect(await tagsOf(seeded.project, id)).toEqual(["seed", "golden"]);
  }
  expect(await tagsOf(seeded.project, b4)).toEqual(["seed"]);

  // untag them: the dialog offers the selection's tags
  await select(page, [b1, b2, b3]);
  await page.getByTestId("bulk-untag").click();
  await expect(dialog.getByRole("heading")).toHaveText("Untag 3 runs");
  await expect(dialog.getByTestId("bulk-untag-choice")).toHaveCount(2);
  await dialog.locator("[data-testid=bulk-untag-choice][data-tag=golden]").check();
  await dialog.getByTestId("confirm-ok").click();
  await expect(page.getByTestId("bulk-outcome")).toContainText("Untagged 3 runs.");
  for (const id of [b1, b2, b3]) {
    await expect(page.locator(`[data-testid=run-row][data-run-id="${id}"] .col-tags`)).not.toContainText("golden");
    expect(await tagsOf(seeded.project, id)).toEqual(["seed"]);
  }

  // move two to the other project
  await select(page, [b1, b2]);
  await page.getByTestId("bulk-move").click();
  await expect(dialog.getByRole("heading")).toHaveText("Move 2 runs to …?");
  await dialog.getByTestId("bulk-move-project").selectOption(seeded.dest);
  await expect(dialog.getByRole("heading")).toHaveText(`Move 2 runs to ${seeded.dest}?`);
  await dialog.getByTestId("confirm-ok").click();
  await expect(page.getByTestId("bulk-outcome")).toContainText("Moved 2 runs.");
  await expect.poll(() => rowIds(page)).toEqual([b3, b4]);
  expect((await api(`/runs/${seeded.entity}/${seeded.project}/${b1}`)).status).toBe(404);
  const notes = await fetch(`${server}/api/v1/runs/${seeded.entity}/${seeded.dest}/${b1}/files/notes.txt`, { headers: { Authorization: `Bearer ${adminKey}` } });
  expect(await notes.text()).toBe(`notes of ${b1}\n`);

  // opened there: the workspace lists them, the run page shows the moved run
  await page.goto(`${server}/#/p/${seeded.entity}/${seeded.dest}`);
  await expect.poll(() => rowIds(page)).toEqual([b1, b2, ...seeded.dest_runs].sort());
  await page.locator(`[data-testid=run-row][data-run-id="${b1}"] [data-testid=run-name]`).click();
  await expect(page).toHaveURL(new RegExp(`#/p/${seeded.entity}/${seeded.dest}/r/${b1}`));
  await expect(page.getByText(`run-${b1}`).first()).toBeVisible();

  // delete one, after the dialog names the count
  await page.goto(`${server}/#/p/${seeded.entity}/${seeded.project}`);
  await expect.poll(() => rowIds(page)).toEqual([b3, b4]);
  await select(page, [b3]);
  await page.getByTestId("bulk-delete").click();
  await expect(dialog.getByRole("heading")).toHaveText("Delete 1 run?");
  await expectAccessible(page, "the bulk delete dialog");
  await dialog.getByTestId("confirm-ok").click();
  await expect(page.getByTestId("bulk-outcome")).toContainText("Deleted 1 run.");
  await expect.poll(() => rowIds(page)).toEqual([b4]);
  expect((await api(`/runs/${seeded.entity}/${seeded.project}/${b3}`)).status).toBe(404);
});
