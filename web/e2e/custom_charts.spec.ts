// Custom charts (`fwtrack.plot`) in a real `fwtrack ui` of this spec's own, over runs logged by
// `custom_chart_fixtures.py`: on the run page's media tab every chart (line, scatter, bar,
// histogram, line series, confusion matrix, ROC, PR, a user's own Vega-Lite spec, and what
// `log_classifier` logs) is drawn as SVG with its marks, under the dashboard's CSP (no eval);
// the workspace shows a panel per custom-chart key drawing each visible run's chart.

import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Locator, Page } from "@playwright/test";

import { freePort, readState, runPython, startProcess, stopPid, waitHttp } from "./harness";
import { expect, test } from "./util";

const FIXTURES = join(import.meta.dirname, "custom_chart_fixtures.py");

interface Seeded {
  entity: string;
  project: string;
  run: string;
  other: string;
}

let ui = "";
let seeded: Seeded;
const pids: number[] = [];

test.describe.configure({ mode: "serial" });

test.beforeAll(async () => {
  test.setTimeout(180_000);
  const state = readState();
  const port = await freePort();
  const work = join(state.work, `charts-${port}`);
  mkdirSync(work, { recursive: true });
  const dir = join(work, "runs");
  const out = join(work, "charts.json");
  await runPython(work, "chart-fixtures", [FIXTURES, "--dir", dir, "--out", out], {}, 150_000);
  seeded = JSON.parse(readFileSync(out, "utf8")) as Seeded;
  ui = `http://127.0.0.1:${port}`;
  const proc = startProcess(work, "charts-ui", ["-m", "fwtrack", "ui", "--dir", dir, "--port", String(port)]);
  if (proc.pid !== undefined) pids.push(proc.pid);
  await waitHttp(`${ui}/api/v1/health`, proc, join(work, "charts-ui.log"));
});

test.afterAll(async () => {
  for (const pid of pids.reverse()) await stopPid(pid);
});

/** Console errors and CSP violations the page reports. */
function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(m.text());
  });
  page.on("pageerror", (e) => errors.push(e.message));
  return errors;
}

async function drawn(page: Page, key: string): Promise<Locator> {
  const panel = page.locator(`[data-testid="media-panel"][data-key="${key}"]`);
  await panel.scrollIntoViewIfNeeded();
  const chart = panel.getByTestId("custom-chart");
  await expect(chart).toHaveAttribute("data-state", "drawn", { timeout: 30_000 });
  await expect(chart.locator("svg")).toBeVisible();
  return chart;
}

const marks = (chart: Locator, mark: string): Locator => chart.locator(`svg g.mark-${mark}.role-mark > ${mark === "text" ? "text" : "path"}`);

test("the media tab draws every custom chart with its marks", async ({ page }) => {
  test.setTimeout(120_000);
  const errors = watchErrors(page);
  await page.goto(`${ui}/#/p/${seeded.entity}/${seeded.project}/r/${seeded.run}?tab=media`);

  const line = await drawn(page, "charts/line");
  await expect(line).toHaveAttribute("data-preset", "line");
  await expect(marks(line, "line")).toHaveCount(1);
  await expect(line.locator("svg .role-title text")).toHaveText("Loss");
  // a 10-point line: its path has 10 vertices
  expect(((await marks(line, "line").getAttribute("d")) ?? "").match(/[ML]/g)?.length).toBe(10);

  const scatter = await drawn(page, "charts/scatter");
  await expect(marks(scatter, "symbol")).toHaveCount(10);

  const bar = await drawn(page, "charts/bar");
  await expect(marks(bar, "rect")).toHaveCount(10);
  await expect(bar.locator("svg .role-axis-label text", { hasText: "item 3" })).toHaveCount(1);

  const hist = await drawn(page, "charts/histogram");
  expect(await marks(hist, "rect").count()).toBeGreaterThan(4);

  const series = await drawn(page, "charts/series");
  await expect(marks(series, "line")).toHaveCount(2);
  await expect(series.locator("svg .role-axis-title text", { hasText: "epoch" })).toHaveCount(1);
  await expect(series.locator("svg .role-legend-label text")).toHaveText(["down", "up"]);

  const cm = await drawn(page, "charts/cm");
  await expect(marks(cm, "rect")).toHaveCount(9);
  await expect(marks(cm, "text")).toHaveCount(9);
  await expect(cm.locator("svg .role-axis-label text", { hasText: "versicolor" })).toHaveCount(2);

  const roc = await drawn(page, "charts/roc");
  await expect(marks(roc, "line")).toHaveCount(4); // three classes and the chance diagonal
  await expect(roc.locator("svg .role-legend-label text")).toHaveText(["setosa", "versicolor", "virginica"]);

  const pr = await drawn(page, "charts/pr");
  await expect(marks(pr, "line")).toHaveCount(3);
  await expect(pr.locator("svg .role-axis-title text", { hasText: "Recall" })).toHaveCount(1);

  const own = await drawn(page, "charts/own");
  await expect(own).toHaveAttribute("data-preset", "custom");
  await expect(marks(own, "symbol")).toHaveCount(10);
  await expect(marks(own, "symbol").first()).toHaveAttribute("stroke", "crimson");

  // what log_classifier logged
  for (const key of ["summary_metrics", "confusion_matrix", "roc", "pr", "feature_importances", "class_proportions"]) {
    const chart = await drawn(page, key);
    expect(await chart.locator("svg g.role-mark > *").count(), key).toBeGreaterThan(0);
  }
  const summary = await drawn(page, "summary_metrics");
  await expect(marks(summary, "rect")).toHaveCount(4);

  expect(errors.filter((e) => /Content Security Policy|unsafe-eval|EvalError/i.test(e))).toEqual([]);
});

test("the workspace shows a panel per custom-chart key with each run's chart", async ({ page }) => {
  test.setTimeout(90_000);
  const errors = watchErrors(page);
  await page.goto(`${ui}/#/p/${seeded.entity}/${seeded.project}`);
  const section = page.getByTestId("custom-chart-section");
  await expect(section).toBeVisible({ timeout: 30_000 });
  const line = section.locator('[data-testid="custom-chart-panel"][data-key="charts/line"]');
  await expect(line).toHaveAttribute("data-runs", "2");
  const charts = line.getByTestId("custom-chart");
  await expect(charts).toHaveCount(2);
  for (const i of [0, 1]) {
    await expect(charts.nth(i)).toHaveAttribute("data-state", "drawn", { timeout: 30_000 });
    await expect(marks(charts.nth(i), "line")).toHaveCount(1);
  }
  const cm = section.locator('[data-testid="custom-chart-panel"][data-key="charts/cm"]');
  await expect(cm).toHaveAttribute("data-runs", "1");
  await cm.scrollIntoViewIfNeeded();
  await expect(cm.getByTestId("custom-chart")).toHaveAttribute("data-state", "drawn", { timeout: 30_000 });
  await expect(marks(cm.getByTestId("custom-chart"), "rect")).toHaveCount(9);
  expect(errors.filter((e) => /Content Security Policy|unsafe-eval|EvalError/i.test(e))).toEqual([]);
});
