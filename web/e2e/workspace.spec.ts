// The project workspace: runs table (names, filter, search, sort, hide, keyboard) beside the
// charts (one per metric, grouped by section, every logged point drawn).

import type { Page } from "@playwright/test";
import { at, chart, expect, logged, pointsOf, test } from "./util";

const RUNS = ["base-a", "base-b", "wide-c"];
const METRICS: Record<string, string> = { "train/loss": "train", "train/acc": "train", "eval/acc": "eval", "system/cpu": "system" };

async function openWorkspace(page: Page, url: string): Promise<void> {
  await page.goto(url);
  await expect(page.getByTestId("workspace")).toBeVisible();
  await expect(page.getByTestId("run-row")).toHaveCount(RUNS.length);
}

function rowIds(page: Page): Promise<(string | null)[]> {
  return page.getByTestId("run-row").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-run-id")));
}

/** Wait until a chart has drawn its data, scrolling it into view (only visible charts fetch). */
async function readyPoints(page: Page, key: string): Promise<number> {
  const panel = chart(page, key);
  await panel.scrollIntoViewIfNeeded();
  await expect(panel).toHaveAttribute("data-state", "ready");
  return pointsOf(panel);
}

test("shows the run names and one chart per metric, by section, with every logged point", async ({ admin: page, state }) => {
  await openWorkspace(page, at(state, "/p/admin/e2e"));
  const names = await page.getByTestId("run-name").allTextContents();
  expect(names.sort()).toEqual(RUNS.map((r) => state.expected.runs[r]?.name).sort());
  for (const id of RUNS) {
    const row = page.locator(`[data-testid="run-row"][data-run-id="${id}"]`);
    await expect(row.getByTestId("state-badge")).toHaveAttribute("data-state", "finished");
    for (const tag of state.expected.runs[id]?.tags ?? []) await expect(row.getByTestId("tag").filter({ hasText: tag })).toHaveCount(1);
  }
  const panels = page.getByTestId("chart-panel");
  await expect(panels).toHaveCount(Object.keys(METRICS).length);
  const keys = await panels.evaluateAll((els) => els.map((e) => e.getAttribute("data-key")));
  expect(keys.sort()).toEqual(Object.keys(METRICS).sort());
  const sections = await page.getByTestId("section").evaluateAll((els) => els.map((e) => e.getAttribute("data-section")));
  expect(sections).toEqual(["eval", "train", "system"]);
  const points = Object.fromEntries(RUNS.map((r) => [r, state.expected.runs[r]?.points ?? {}]));
  for (const [key, section] of Object.entries(METRICS)) {
    await expect(page.locator(`[data-testid="section"][data-section="${section}"] [data-testid="chart-panel"][data-key="${key}"]`)).toHaveCount(1);
    expect(await readyPoints(page, key), `points drawn for ${key}`).toBe(logged(points, key, RUNS));
  }
});

test("filters the runs by expression and by text, and sorts them", async ({ admin: page, state }) => {
  await openWorkspace(page, at(state, "/p/admin/e2e"));
  const filter = page.getByTestId("runs-filter");
  await filter.fill("config.lr > 0.015");
  await filter.press("Enter");
  await expect.poll(async () => (await rowIds(page)).sort()).toEqual(["base-b", "wide-c"]);
  expect(decodeURIComponent(page.url())).toContain("config.lr > 0.015");

  await filter.fill("config.model.act = relu and tags ~ baseline");
  await filter.press("Enter");
  await expect.poll(async () => (await rowIds(page)).sort()).toEqual(["base-a", "base-b"]);

  await filter.fill("config.lr >");
  await filter.press("Enter");
  await expect(page.getByTestId("filter-error")).toBeVisible();

  await filter.fill("");
  await filter.press("Enter");
  await expect(page.getByTestId("run-row")).toHaveCount(3);
  const search = page.getByTestId("runs-search");
  await search.fill("WIDE");
  await expect(page.getByTestId("run-row")).toHaveCount(1);
  await expect(page.getByTestId("run-name")).toHaveText("wide-c");
  await search.fill("");
  await expect(page.getByTestId("run-row")).toHaveCount(3);

  const byName = page.locator('th[data-field="name"] button');
  const nameHeader = page.locator('th[data-field="name"]');
  const ascending = ["base-a", "base-b", "wide-c"];
  await byName.click();
  await expect(nameHeader).toHaveAttribute("aria-sort", /^(ascending|descending)$/);
  const first = await nameHeader.getAttribute("aria-sort");
  await expect.poll(() => rowIds(page)).toEqual(first === "ascending" ? ascending : [...ascending].reverse());
  await byName.click();
  await expect(nameHeader).toHaveAttribute("aria-sort", first === "ascending" ? "descending" : "ascending");
  await expect.poll(() => rowIds(page)).toEqual(first === "ascending" ? [...ascending].reverse() : ascending);

  // a config column from the column picker, sorted by its values
  await page.getByTestId("column-picker-button").click();
  await page.locator('[data-testid="column-option"][data-field="config.lr"] input').check();
  await page.keyboard.press("Escape");
  const byLr = page.locator('th[data-field="config.lr"] button');
  await expect(byLr).toBeVisible();
  await byLr.click();
  const lrHeader = page.locator('th[data-field="config.lr"]');
  await expect(lrHeader).toHaveAttribute("aria-sort", /^(ascending|descending)$/);
  const lrDir = await lrHeader.getAttribute("aria-sort");
  await expect.poll(() => rowIds(page)).toEqual(lrDir === "ascending" ? ascending : [...ascending].reverse());
  await expect(page.locator('[data-testid="run-row"][data-run-id="wide-c"] td[data-field="config.lr"]')).toHaveText("0.05");
});

test("hiding a run takes it off the charts, showing it puts it back", async ({ admin: page, state }) => {
  await openWorkspace(page, at(state, "/p/admin/e2e"));
  const points = Object.fromEntries(RUNS.map((r) => [r, state.expected.runs[r]?.points ?? {}]));
  const all = logged(points, "train/loss", RUNS);
  expect(await readyPoints(page, "train/loss")).toBe(all);
  const row = page.locator('[data-testid="run-row"][data-run-id="wide-c"]');
  await row.getByTestId("run-eye").click();
  await expect(row).toHaveAttribute("data-visible", "false");
  const without = logged(points, "train/loss", ["base-a", "base-b"]);
  await expect.poll(() => pointsOf(chart(page, "train/loss"))).toBe(without);
  expect(decodeURIComponent(page.url())).toContain("hidden=wide-c");
  await row.getByTestId("run-eye").click();
  await expect(row).toHaveAttribute("data-visible", "true");
  await expect.poll(() => pointsOf(chart(page, "train/loss"))).toBe(all);
});

test("the runs table works from the keyboard: arrows move, Enter opens the run", async ({ admin: page, state }) => {
  await openWorkspace(page, at(state, "/p/admin/e2e") + "?sort=name");
  await expect.poll(() => rowIds(page)).toEqual(["base-a", "base-b", "wide-c"]);
  const rows = page.getByTestId("run-row");
  // Tab from the filter box reaches the table's one focusable row
  await page.getByTestId("runs-search").focus();
  let reached = false;
  for (let i = 0; i < 25 && !reached; i++) {
    await page.keyboard.press("Tab");
    reached = await rows.first().evaluate((el) => el === document.activeElement);
  }
  expect(reached, "Tab reaches the first run row").toBe(true);
  await page.keyboard.press("ArrowDown");
  await expect(rows.nth(1)).toBeFocused();
  await page.keyboard.press("ArrowDown");
  await expect(rows.nth(2)).toBeFocused();
  await page.keyboard.press("ArrowUp");
  await expect(rows.nth(1)).toBeFocused();
  await page.keyboard.press("Home");
  await expect(rows.nth(0)).toBeFocused();
  await page.keyboard.press("End");
  await expect(rows.nth(2)).toBeFocused();
  await page.keyboard.press("ArrowUp");
  await page.keyboard.press("Enter");
  await expect(page.getByTestId("run-page")).toHaveAttribute("data-run-id", "base-b");
  expect(page.url()).toContain("/p/admin/e2e/r/base-b");
});
