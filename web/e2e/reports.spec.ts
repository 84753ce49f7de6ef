// Reports in the dashboard, against a real server of this spec's own seeded by
// `report_fixtures.py` (runs logged online by the Python API; users ann and bob, members of the
// team, and vic, its viewer): a report built from the workspace's "Add to report", a markdown
// block with a heading and math saved by autosave and read back after a reload; two browser
// contexts (ann and bob) editing different blocks at once (both edits kept) and then the same
// block (a conflict notice naming the block and who; both texts kept in the history); an
// earlier version restored from the history; the viewer sees no edit control.

import { join } from "node:path";
import type { Browser, Page } from "@playwright/test";

import { seededServer } from "./harness";
import { expect, test } from "./util";

const FIXTURES = join(import.meta.dirname, "report_fixtures.py");
/** A 1x1 PNG. */
const PNG_1PX = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";

interface Seeded {
  entity: string;
  project: string;
  keys: Record<"ann" | "bob" | "vic", string>;
  runs: string[];
}

interface Doc {
  id: string;
  version: number;
  blocks: { id: string; type: string; text?: string }[];
}

const backend = seededServer<Seeded>("reports", FIXTURES, { seedTimeoutMs: 120_000 });
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

/** A page in a fresh browser context signed in as `who`. */
async function signedIn(browser: Browser, who: keyof Seeded["keys"]): Promise<Page> {
  const context = await browser.newContext();
  await context.addInitScript((key: string) => {
    window.localStorage.setItem("fwtrack.apiKey", key);
  }, seeded.keys[who]);
  return context.newPage();
}

async function api<T>(who: keyof Seeded["keys"], method: string, path: string, body?: unknown): Promise<T> {
  const init: RequestInit = { method, headers: { Authorization: `Bearer ${seeded.keys[who]}`, "Content-Type": "application/json" } };
  if (body !== undefined) init.body = JSON.stringify(body);
  const resp = await fetch(`${server}/api/v1${path}`, init);
  if (!resp.ok) throw new Error(`${method} ${path}: ${resp.status} ${await resp.text()}`);
  return (await resp.json()) as T;
}

const reportsPath = (): string => `/reports/${seeded.entity}/${seeded.project}`;
const reportUrl = (id: string): string => `${server}/#/p/${seeded.entity}/${seeded.project}/reports/${id}`;

/** A report made through the API with markdown blocks `texts` (ids m0, m1, ...). */
async function makeReport(title: string, texts: string[]): Promise<Doc> {
  return api<Doc>("ann", "POST", reportsPath(), {
    title,
    description: "",
    blocks: texts.map((text, i) => ({ id: `m${i}`, type: "markdown", text })),
  });
}

function mdInput(page: Page, blockId: string) {
  return page.locator(`[data-block-id="${blockId}"] [data-testid="markdown-input"]`);
}

async function openForEditing(page: Page, id: string): Promise<void> {
  await page.goto(reportUrl(id));
  await page.getByTestId("edit-toggle").click();
  await expect(page.getByTestId("report-page")).toHaveAttribute("data-editing", "true");
}

test("a report built from the workspace: Add to report, a markdown block with a heading and math, saved", async ({ browser }) => {
  const page = await signedIn(browser, "ann");
  await page.goto(`${server}/#/p/${seeded.entity}/${seeded.project}`);
  const panel = page.locator('[data-testid="chart-panel"][data-key="train/loss"]');
  await expect(panel).toBeVisible({ timeout: 30_000 });
  await panel.getByTestId("add-to-report").click();
  await panel.getByTestId("add-to-report-title").fill("Loss study");
  await panel.getByTestId("add-to-new-report").click();
  await panel.getByTestId("added-report-link").click();

  await expect(page.getByTestId("report-title")).toHaveText("Loss study");
  const blocks = page.getByTestId("report-block");
  await expect(blocks).toHaveCount(1);
  await expect(blocks.first()).toHaveAttribute("data-block-type", "line");

  // edit: add a markdown block with a heading and math
  await page.getByTestId("edit-toggle").click();
  await page.getByTestId("add-block").click();
  await page.getByTestId("add-markdown").click();
  await expect(blocks).toHaveCount(2);
  const md = blocks.nth(1);
  await expect(md).toHaveAttribute("data-block-type", "markdown");
  await md.getByTestId("markdown-input").fill("## Findings\n\nThe loss falls as $e^{-10 \\eta t}$ for every rate.");
  // the live preview renders while typing
  await expect(md.locator(".report-preview h2")).toHaveText("Findings");
  await expect(page.getByTestId("save-status")).toHaveAttribute("data-status", "saved");

  // move it above the chart from the keyboard
  await md.getByTestId("block-up").focus();
  await page.keyboard.press("Enter");
  await expect(blocks.first()).toHaveAttribute("data-block-type", "markdown");
  await expect(page.getByTestId("save-status")).toHaveAttribute("data-status", "saved");

  // an image block, uploaded to the report
  await page.getByTestId("add-block").click();
  await page.getByTestId("add-image").click();
  await expect(blocks).toHaveCount(3);
  await blocks.nth(2).getByTestId("image-upload").setInputFiles({ name: "dot.png", mimeType: "image/png", buffer: Buffer.from(PNG_1PX, "base64") });
  await expect(blocks.nth(2).locator('[data-testid="image-view"] img')).toHaveJSProperty("naturalWidth", 1);
  await expect(page.getByTestId("save-status")).toHaveAttribute("data-status", "saved");

  await page.reload();
  await expect(page.getByTestId("report-block")).toHaveCount(3);
  const view = page.locator('[data-block-type="markdown"] [data-testid="markdown-view"]');
  await expect(view.locator("h2")).toHaveText("Findings");
  await expect(view.locator(".katex").first()).toBeVisible();
  const order = page.locator('[data-testid="report-block"]');
  await expect(order.nth(0)).toHaveAttribute("data-block-type", "markdown");
  await expect(order.nth(1)).toHaveAttribute("data-block-type", "line");
  await expect(order.nth(2).locator('[data-testid="image-view"] img')).toHaveJSProperty("naturalWidth", 1);

  // freeze pins the run set to the runs it matches now; unfreeze makes it live again
  await page.getByTestId("freeze-toggle").click();
  await expect(page.getByTestId("frozen-badge")).toBeVisible();
  const reportId = /reports\/([a-z0-9]+)/.exec(page.url())?.[1] ?? "";
  const frozen = await api<Doc & { frozen_at: number | null; blocks: { runs?: { ids?: string[] } }[] }>("ann", "GET", `${reportsPath()}/${reportId}`);
  expect(frozen.frozen_at).not.toBeNull();
  expect([...(frozen.blocks[1]?.runs?.ids ?? [])].sort()).toEqual([...seeded.runs].sort());
  await page.getByTestId("freeze-toggle").click();
  await expect(page.getByTestId("frozen-badge")).toHaveCount(0);

  // the reports list holds it
  await page.goto(`${server}/#/p/${seeded.entity}/${seeded.project}/reports`);
  await expect(page.getByTestId("report-link").filter({ hasText: "Loss study" })).toBeVisible();
  await page.context().close();
});

test("two editors at once: different blocks both survive; the same block shows a conflict notice and loses nothing", async ({ browser }) => {
  const report = await makeReport("Shared notes", ["alpha", "beta"]);
  const ann = await signedIn(browser, "ann");
  const bob = await signedIn(browser, "bob");
  await Promise.all([openForEditing(ann, report.id), openForEditing(bob, report.id)]);

  // different blocks, typed at the same time (neither has seen the other's save)
  await Promise.all([mdInput(ann, "m0").fill("alpha by ann"), mdInput(bob, "m1").fill("beta by bob")]);
  await expect(ann.getByTestId("save-status")).toHaveAttribute("data-status", "saved");
  await expect(bob.getByTestId("save-status")).toHaveAttribute("data-status", "saved");
  // each sees the other's edit merged in (polling), and keeps their own
  await expect(ann.locator('[data-block-id="m1"] [data-testid="markdown-input"]')).toHaveValue("beta by bob", { timeout: 15_000 });
  await expect(bob.locator('[data-block-id="m0"] [data-testid="markdown-input"]')).toHaveValue("alpha by ann", { timeout: 15_000 });
  const merged = await api<Doc>("ann", "GET", `${reportsPath()}/${report.id}`);
  expect(merged.blocks.map((b) => b.text)).toEqual(["alpha by ann", "beta by bob"]);
  await expect(ann.getByTestId("conflict-notice")).toHaveCount(0);
  await expect(bob.getByTestId("conflict-notice")).toHaveCount(0);

  // the same block, at the same time
  await Promise.all([mdInput(ann, "m0").fill("ann's final word"), mdInput(bob, "m0").fill("bob's final word")]);
  await expect(ann.getByTestId("save-status")).toHaveAttribute("data-status", "saved");
  await expect(bob.getByTestId("save-status")).toHaveAttribute("data-status", "saved");
  const notices = async (): Promise<string[]> => [
    ...(await ann.getByTestId("conflict-notice").allInnerTexts()),
    ...(await bob.getByTestId("conflict-notice").allInnerTexts()),
  ];
  await expect.poll(async () => (await notices()).length, { timeout: 15_000 }).toBeGreaterThan(0);
  const text = (await notices()).join("\n");
  expect(text).toContain("Text block 1");
  expect(text).toMatch(/\bann\b|\bbob\b/);
  // whichever text won, the other is kept in the history
  const versions = await api<{ versions: { version: number }[] }>("ann", "GET", `${reportsPath()}/${report.id}/versions`);
  const texts = new Set<string>();
  for (const v of versions.versions) {
    const doc = await api<Doc>("ann", "GET", `${reportsPath()}/${report.id}/versions/${v.version}`);
    for (const b of doc.blocks) texts.add(b.text ?? "");
  }
  expect(texts).toContain("ann's final word");
  expect(texts).toContain("bob's final word");
  await ann.context().close();
  await bob.context().close();
});

test("an earlier version restored from the history", async ({ browser }) => {
  const report = await makeReport("Restorable", ["first draft"]);
  const page = await signedIn(browser, "ann");
  await openForEditing(page, report.id);
  await mdInput(page, "m0").fill("second draft");
  await expect(page.getByTestId("save-status")).toHaveAttribute("data-status", "saved");
  await page.getByTestId("edit-toggle").click();
  await expect(page.getByTestId("markdown-view")).toHaveText("second draft");

  await page.getByTestId("history-toggle").click();
  const entries = page.getByTestId("history-entry");
  await expect(entries.first()).toBeVisible();
  await expect(page.getByTestId("history")).toContainText("ann");
  await page.locator(`[data-testid="history-entry"][data-version="${report.version}"] [data-testid="history-view"]`).click();
  await expect(page.getByTestId("version-banner")).toContainText(`Viewing version ${report.version}`);
  await expect(page.getByTestId("markdown-view")).toHaveText("first draft");
  await page.getByTestId("restore-version").click();
  await expect(page.getByTestId("version-banner")).toHaveCount(0);
  await expect(page.getByTestId("markdown-view")).toHaveText("first draft");
  await expect(page.getByTestId("history")).toContainText(`restored v${report.version}`);
  const now = await api<Doc>("ann", "GET", `${reportsPath()}/${report.id}`);
  expect(now.blocks.map((b) => b.text)).toEqual(["first draft"]);

  await page.reload();
  await expect(page.getByTestId("markdown-view")).toHaveText("first draft");
  await page.context().close();
});

test("a viewer of the team reads reports and sees no edit control", async ({ browser }) => {
  const report = await makeReport("Read me", ["# Visible to viewers"]);
  const page = await signedIn(browser, "vic");
  await page.goto(reportUrl(report.id));
  await expect(page.getByTestId("markdown-view").locator("h1")).toHaveText("Visible to viewers");
  await expect(page.getByTestId("history-toggle")).toBeVisible();
  await expect(page.getByTestId("edit-toggle")).toHaveCount(0);
  await expect(page.getByTestId("freeze-toggle")).toHaveCount(0);
  await page.getByTestId("history-toggle").click();
  await page.getByTestId("history-view").first().click();
  await expect(page.getByTestId("version-banner")).toBeVisible();
  await expect(page.getByTestId("restore-version")).toHaveCount(0);

  await page.goto(`${server}/#/p/${seeded.entity}/${seeded.project}/reports`);
  await expect(page.getByTestId("report-link").filter({ hasText: "Read me" })).toBeVisible();
  await expect(page.getByTestId("new-report")).toHaveCount(0);
  await expect(page.getByTestId("delete-report")).toHaveCount(0);

  await page.goto(`${server}/#/p/${seeded.entity}/${seeded.project}`);
  await expect(page.locator('[data-testid="chart-panel"][data-key="train/loss"]')).toBeVisible({ timeout: 30_000 });
  await expect(page.getByTestId("add-to-report")).toHaveCount(0);
  await page.context().close();
});
