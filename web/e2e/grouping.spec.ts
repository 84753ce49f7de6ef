// Grouped runs in the workspace, against a real server of this spec's own seeded by
// `grouping_fixtures.py`: 2 learning rates x 3 seeds logged online by real processes (config lr
// and seed, group=lr-<lr>). Grouping by config.lr and then by `group`, the values the chart
// draws for each group (its line and band, exposed as the panel's data-groups) equal the mean,
// median, min/max and mean ± population std that the fixture computed with pandas from each
// run's `Api().run(...).history()`; the runs table's group rows expand to their runs, the
// chart legend's group to its runs' own lines; the grouping is kept in the URL and in the
// saved workspace.

import { join } from "node:path";
import type { Locator, Page } from "@playwright/test";

import { seededServer } from "./harness";
import { chart, expect, expectAccessible, expectNamedControls, test } from "./util";

const FIXTURES = join(import.meta.dirname, "grouping_fixtures.py");

/** One learning rate's expected aggregates (per step, over the runs with a value there). */
interface Expected {
  group: string;
  runs: string[];
  names: string[];
  x: number[];
  count: number[];
  mean: number[];
  median: number[];
  min: number[];
  max: number[];
  std_lower: number[];
  std_upper: number[];
}

interface Seeded {
  entity: string;
  project: string;
  key: string;
  by_lr: Record<string, Expected>;
}

/** What the chart draws for a group (Chart.tsx data-groups). */
interface Drawn {
  key: string;
  name: string;
  count: number;
  x: number[];
  y: (number | null)[];
  lower: (number | null)[] | null;
  upper: (number | null)[] | null;
}

const backend = seededServer<Seeded>("grouping", FIXTURES, { seedTimeoutMs: 200_000, fixtureArgs: ["server"], clientDir: "client" });
let server = "";
let adminKey = "";
let seeded: Seeded;

test.describe.configure({ mode: "serial", timeout: 120_000 });

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

function workspaceUrl(params = ""): string {
  return `${server}/#/p/${seeded.entity}/${seeded.project}${params}`;
}

/** The groups the loss chart draws, once it draws `n` groups with all their steps. */
async function drawn(panel: Locator, n: number, check: (d: Drawn[]) => boolean = () => true): Promise<Drawn[]> {
  let out: Drawn[] = [];
  await expect
    .poll(async () => {
      const raw = await panel.getAttribute("data-groups");
      out = raw === null ? [] : (JSON.parse(raw) as Drawn[]);
      return out.length === n && out.every((g) => g.x.length === 30) && check(out);
    })
    .toBe(true);
  return out;
}

/** `actual` equals `expected` element by element within 1e-9 relative. */
function close(actual: readonly (number | null)[] | null, expected: readonly number[], what: string): void {
  expect(actual, what).not.toBeNull();
  const a = actual ?? [];
  expect(a.length, what).toBe(expected.length);
  expected.forEach((e, i) => {
    const v = a[i];
    expect(v, `${what}[${i}]`).not.toBeNull();
    expect(Math.abs((v ?? Number.NaN) - e), `${what}[${i}]: ${String(v)} vs ${e}`).toBeLessThanOrEqual(1e-9 * Math.max(Math.abs(e), 1e-12));
  });
}

/** The expected aggregates of a drawn group (by its learning rate). */
function expectedOf(lr: string): Expected {
  const e = seeded.by_lr[lr];
  if (e === undefined) throw new Error(`no expected values for lr ${lr}`);
  return e;
}

function compare(groups: Drawn[], lrOf: (g: Drawn) => string, mode: "mean-minmax" | "median-std"): void {
  for (const g of groups) {
    const e = expectedOf(lrOf(g));
    expect(g.count).toBe(3);
    expect(g.x).toEqual(e.x);
    if (mode === "mean-minmax") {
      close(g.y, e.mean, `${g.name} mean`);
      close(g.lower, e.min, `${g.name} min`);
      close(g.upper, e.max, `${g.name} max`);
    } else {
      close(g.y, e.median, `${g.name} median`);
      close(g.lower, e.std_lower, `${g.name} mean - std`);
      close(g.upper, e.std_upper, `${g.name} mean + std`);
    }
  }
}

test("group by config.lr: the chart draws each group's mean and min-max band, median and std band as computed from the histories", async ({ page }) => {
  await signedIn(page);
  await page.goto(workspaceUrl());
  await expect(page.getByTestId("run-row")).toHaveCount(6);
  await page.getByTestId("group-by-select").selectOption("config.lr");
  await expect(page).toHaveURL(/groupby=config\.lr/);

  const panel = chart(page, seeded.key);
  await panel.scrollIntoViewIfNeeded();
  const groups = await drawn(panel, 2);
  expect(groups.map((g) => g.name)).toEqual(["0.01", "0.1"]);
  // pandas saw the missing steps: some steps aggregate two runs only
  expect(expectedOf("0.01").count).toContain(2);
  compare(groups, (g) => g.name, "mean-minmax");

  // the legend names each group with its run count
  const legend = panel.getByTestId("group-legend-item");
  await expect(legend).toHaveCount(2);
  await expect(legend.nth(0)).toHaveText("0.01 (3 runs)");
  await expect(legend.nth(1)).toHaveText("0.1 (3 runs)");

  await page.getByTestId("group-agg").selectOption("median");
  await page.getByTestId("group-band").selectOption("std");
  await expect(page).toHaveURL(/agg=median/);
  await expect(page).toHaveURL(/band=std/);
  const medians = await drawn(panel, 2, (d) => Math.abs((d[0]?.y[3] ?? 0) - (expectedOf("0.01").median[3] ?? 0)) <= 1e-9 && d[0]?.lower?.[0] !== expectedOf("0.01").min[0]);
  compare(medians, (g) => g.name, "median-std");

  await page.getByTestId("group-band").selectOption("none");
  const bare = await drawn(panel, 2, (d) => d.every((g) => g.lower === null));
  expect(bare.every((g) => g.upper === null)).toBe(true);
  await expectNamedControls(page, "grouped workspace");
  await expectAccessible(page, "grouped workspace");
});

test("group rows in the runs table and the legend expand a group to its runs", async ({ page }) => {
  await signedIn(page);
  await page.goto(workspaceUrl("?groupby=config.lr"));
  const rows = page.getByTestId("group-row");
  await expect(rows).toHaveCount(2);
  await expect(rows.nth(0).getByTestId("group-name")).toHaveText("0.01");
  await expect(rows.nth(0).getByTestId("group-count")).toHaveText("3 runs");
  await expect(rows.nth(1).getByTestId("group-count")).toHaveText("3 runs");
  await expect(page.getByTestId("run-row")).toHaveCount(0);

  await rows.nth(0).getByTestId("group-toggle").click();
  const runRows = page.getByTestId("run-row");
  await expect(runRows).toHaveCount(3);
  // the group's runs, in the table's order (newest first)
  expect([...(await runRows.getByTestId("run-name").allTextContents())].sort()).toEqual(expectedOf("0.01").names);

  // the chart draws the expanded group's runs next to the two group lines
  const panel = chart(page, seeded.key);
  await panel.scrollIntoViewIfNeeded();
  await expect(panel.getByTestId("group-legend-item").nth(0)).toHaveAttribute("data-expanded", "true");
  await expect
    .poll(async () => {
      const shown = JSON.parse((await panel.getAttribute("data-shown")) ?? "[]") as string[];
      return [shown[0], shown.slice(1, 4).sort(), shown.slice(4)];
    })
    .toEqual(["0.01 (3 runs)", expectedOf("0.01").names, ["0.1 (3 runs)"]]);

  // the legend collapses it again (and the table follows)
  await panel.getByTestId("group-legend-item").nth(0).getByRole("button").click();
  await expect(runRows).toHaveCount(0);
  await expect
    .poll(async () => JSON.parse((await panel.getAttribute("data-shown")) ?? "[]") as string[])
    .toEqual(["0.01 (3 runs)", "0.1 (3 runs)"]);
});

test("group by `group`: the same groups under their names; the grouping is saved with the workspace", async ({ page }) => {
  await signedIn(page);
  await page.goto(workspaceUrl());
  // the grouping the first test left is the saved one: a page without parameters takes it up
  await expect(page).toHaveURL(/groupby=config\.lr/);
  await expect(page.getByTestId("group-by-select")).toHaveValue("config.lr");
  await expect(page.getByTestId("group-agg")).toHaveValue("median");
  await expect(page.getByTestId("group-row")).toHaveCount(2);
  await page.getByTestId("group-by-select").selectOption("group");
  await page.getByTestId("group-band").selectOption("minmax");
  await page.getByTestId("group-agg").selectOption("mean");
  const panel = chart(page, seeded.key);
  await panel.scrollIntoViewIfNeeded();
  const groups = await drawn(panel, 2, (d) => d[0]?.name === "lr-0.01" && d[0].lower !== null);
  expect(groups.map((g) => g.name)).toEqual(["lr-0.01", "lr-0.1"]);
  compare(groups, (g) => g.name.replace(/^lr-/, ""), "mean-minmax");
  await expect(page.getByTestId("group-row")).toHaveCount(2);

  // saved again: a fresh page without the URL parameters gets it back
  await expect
    .poll(async () => {
      const resp = await page.request.get(`${server}/api/v1/projects/${seeded.entity}/${seeded.project}/workspace`, { headers: { Authorization: `Bearer ${adminKey}` } });
      return ((await resp.json()) as { grouping?: unknown }).grouping;
    })
    .toEqual({ by: "group", agg: "mean", band: "minmax" });
  const fresh = await page.context().newPage();
  await fresh.goto(workspaceUrl());
  await expect(fresh).toHaveURL(/groupby=group/);
  await expect(fresh.getByTestId("group-by-select")).toHaveValue("group");
  await expect(fresh.getByTestId("group-row")).toHaveCount(2);
});
