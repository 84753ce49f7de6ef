// Report panels in the dashboard, against a real server of this spec's own seeded by
// `report_panels_fixtures.py`: real runs (history, a histogram, images), an artifact used by a
// run, and a report holding one block of each panel type, created through the reports API. The
// report page draws every panel, and each panel's values (read back from its data attributes
// and the components it reuses) are the ones the runs logged.

import { join } from "node:path";
import type { Locator, Page } from "@playwright/test";

import { seededServer } from "./harness";
import { expect, test } from "./util";

const FIXTURES = join(import.meta.dirname, "report_panels_fixtures.py");

interface Seeded {
  entity: string;
  project: string;
  report: string;
  runs: Record<string, { lr: number; seed: number; loss: number; acc: number }>;
  steps: number;
  image_steps: number[];
}

const backend = seededServer<Seeded>("report-panels", FIXTURES, { seedTimeoutMs: 180_000, clientDir: "client" });
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

async function openReport(page: Page): Promise<void> {
  await page.addInitScript((key: string) => {
    window.localStorage.setItem("fwtrack.apiKey", key);
  }, adminKey);
  await page.goto(`${server}/#/p/${seeded.entity}/${seeded.project}/reports/${seeded.report}`);
  await expect(page.getByTestId("report-panel")).toHaveCount(9);
}

function block(page: Page, id: string): Locator {
  return page.locator(`[data-testid="panel-block"][data-block-id="${id}"] [data-testid="report-panel"]`);
}

async function attr(el: Locator, name: string): Promise<string> {
  return (await el.getAttribute(name)) ?? "";
}

const ids = (): string[] => Object.keys(seeded.runs).sort();

test("every panel of the report draws the runs' logged values", async ({ page }) => {
  await openReport(page);

  // line: the filter's runs, each run's last loss, the chart drawn
  const line = block(page, "line");
  await expect.poll(async () => JSON.parse((await attr(line, "data-last")) || "{}") as Record<string, { loss?: number }>).toEqual(
    Object.fromEntries(ids().map((id) => [id, { loss: seeded.runs[id]?.loss }])),
  );
  expect((await attr(line, "data-runs")).split(",").sort()).toEqual(ids());
  const chart = line.locator('[data-testid="chart-panel"]');
  await expect(chart).toHaveAttribute("data-state", "ready");
  await expect(chart).toHaveAttribute("data-points", String(seeded.steps * ids().length));

  // runs table: sorted by lr, the summary column holding each run's acc
  const table = block(page, "table");
  const rows = table.locator('[data-testid="run-row"]');
  await expect(rows).toHaveCount(3);
  const byLr = ids().sort((a, b) => (seeded.runs[a]?.lr ?? 0) - (seeded.runs[b]?.lr ?? 0));
  expect(await rows.evaluateAll((els) => els.map((e) => e.getAttribute("data-run-id")))).toEqual(byLr);
  for (const [i, id] of byLr.entries()) {
    await expect(rows.nth(i).locator('[data-field="summary.acc"]')).toHaveText(String(seeded.runs[id]?.acc));
  }
  await expect(table.locator('[data-testid="run-select"]')).toHaveCount(0);

  // parallel coordinates: a line per run over lr and seed, coloured by acc
  const pc = block(page, "parallel").locator('[data-testid="parallel-coords"]');
  await expect(pc).toHaveAttribute("data-lines", "3");
  await expect(pc).toHaveAttribute("data-axes", "config.lr,config.seed,@metric");
  const lines = await pc.locator('[data-testid="pc-line"]').evaluateAll((els) => els.map((e) => JSON.parse(e.getAttribute("data-values") ?? "{}") as Record<string, number>));
  expect(lines.map((v) => [v["config.lr"], v["config.seed"], v["@metric"]]).sort()).toEqual(ids().map((id) => [seeded.runs[id]?.lr, seeded.runs[id]?.seed, seeded.runs[id]?.acc]).sort());

  // media at step 4: the image of the last step at or before it (3), loaded
  const media = block(page, "media").locator('[data-testid="media-panel-item"]');
  await expect(media).toHaveAttribute("data-step", "3");
  await expect(media.locator('[data-testid="media-image"]')).toHaveJSProperty("complete", true);
  expect(await media.locator('[data-testid="media-image"]').evaluate((img) => (img as HTMLImageElement).naturalWidth)).toBe(8);

  // histogram: every step of the run's histograms
  const hist = block(page, "hist").locator('[data-testid="histogram-view"]');
  await expect(hist).toHaveAttribute("data-state", "ready");
  await expect(hist).toHaveAttribute("data-steps", String(seeded.steps));

  // scalar: a bar per run with its acc, and the largest acc as a number
  const bars = block(page, "bars").locator('[data-testid="scalar-bar"]');
  await expect(bars).toHaveCount(3);
  const values = await bars.evaluateAll((els) => els.map((e) => [e.getAttribute("data-label"), Number(e.getAttribute("data-value"))]));
  expect(values.sort()).toEqual(ids().map((id) => [`run-${id}`, seeded.runs[id]?.acc]).sort());
  const best = Math.max(...Object.values(seeded.runs).map((r) => r.acc));
  await expect(block(page, "number").locator('[data-testid="scalar-number"]')).toHaveAttribute("data-value", String(best));

  // lineage: the alias resolved, the logging and the using run around the version
  const lineage = block(page, "lineage");
  await expect(lineage).toHaveAttribute("data-version", "v0");
  const nodes = lineage.locator('[data-testid="lineage-node"]');
  await expect(nodes).toHaveCount(3);
  expect((await nodes.evaluateAll((els) => els.map((e) => e.getAttribute("data-kind")))).sort()).toEqual(["artifact", "run", "run"]);

  // compare: only the config keys where the two runs differ (lr and seed)
  const compare = block(page, "compare").locator('[data-testid="compare-config"] [data-testid="compare-row"]');
  expect((await compare.evaluateAll((els) => els.map((e) => e.getAttribute("data-key")))).sort()).toEqual(["lr", "seed"]);
});
