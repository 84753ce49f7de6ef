// Sweeps in the dashboard, against a real server of this spec's own seeded by
// `sweep_fixtures.py`: `fwtrack sweep` creates a grid sweep (lr x optimizer, a known loss per
// point) and two real `fwtrack agent` processes run its six trials as real runs logged online,
// plus an idle random sweep. The list, the sweep page's charts holding the runs' values (read
// back from their data attributes), brushing the parallel coordinates filtering the runs table,
// pause/resume/cancel through the controls, the stopped run's badge, the workspace's sweep
// column and filter; and a
// `fwtrack ui` over a directory whose sweep ran on the local sweep store.

import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Locator, Page } from "@playwright/test";

import { freePort, readState, runPython, startProcess, stopPid, waitHttp } from "./harness";
import { expect, expectAccessible, expectNamedControls, test } from "./util";

const FIXTURES = join(import.meta.dirname, "sweep_fixtures.py");

interface Point {
  lr: number;
  optimizer: string;
  loss: number;
}

/** What `sweep_fixtures.py` seeded (its `--out` file). */
interface Seeded {
  entity: string;
  project: string;
  grid: string;
  idle?: string;
  /** Cancelled while its one trial ran: that run ended `stopped`. */
  cancelled?: string;
  /** By `lr/optimizer`. */
  expected: Record<string, Point>;
}

let server = "";
let adminKey = "";
let seeded: Seeded;
let ui = "";
let local: Seeded;
const pids: number[] = [];

test.describe.configure({ mode: "serial" });

test.beforeAll(async () => {
  test.setTimeout(240_000);
  const state = readState();
  adminKey = state.adminKey;
  const port = await freePort();
  const work = join(state.work, `sweeps-${port}`);
  mkdirSync(work, { recursive: true });
  server = `http://127.0.0.1:${port}`;
  const proc = startProcess(work, "sweeps-server", ["-m", "fwtrack", "server", "--port", String(port), "--data", join(work, "server-data"), "--sweep-heartbeat", "0.5"], {
    FWTRACK_SERVER_ADMIN_KEY: state.adminKey,
  });
  if (proc.pid !== undefined) pids.push(proc.pid);
  await waitHttp(`${server}/api/v1/health`, proc, join(work, "sweeps-server.log"));

  const out = join(work, "sweeps.json");
  const localOut = join(work, "local-sweeps.json");
  const localDir = join(work, "local", "runs");
  await Promise.all([
    runPython(work, "sweep-fixtures", [FIXTURES, "server", "--url", server, "--key", state.adminKey, "--work", join(work, "client"), "--out", out], {}, 180_000),
    runPython(work, "sweep-fixtures-local", [FIXTURES, "local", "--dir", localDir, "--out", localOut], {}, 180_000),
  ]);
  seeded = JSON.parse(readFileSync(out, "utf8")) as Seeded;
  local = JSON.parse(readFileSync(localOut, "utf8")) as Seeded;

  const uiPort = await freePort();
  ui = `http://127.0.0.1:${uiPort}`;
  const uiProc = startProcess(work, "sweeps-ui", ["-m", "fwtrack", "ui", "--dir", localDir, "--port", String(uiPort)]);
  if (uiProc.pid !== undefined) pids.push(uiProc.pid);
  await waitHttp(`${ui}/api/v1/health`, uiProc, join(work, "sweeps-ui.log"));
});

test.afterAll(async () => {
  for (const pid of pids.reverse()) await stopPid(pid);
});

async function signedIn(page: Page): Promise<void> {
  await page.addInitScript((key: string) => {
    window.localStorage.setItem("fwtrack.apiKey", key);
  }, adminKey);
}

function sweepUrl(id: string, params = ""): string {
  return `${server}/#/p/${seeded.entity}/${seeded.project}/sweeps/${id}${params}`;
}

async function check(page: Page, what: string): Promise<void> {
  await page.waitForLoadState("networkidle");
  await expectNamedControls(page, what);
  await expectAccessible(page, what);
}

async function json<T>(el: Locator, attr: string): Promise<T> {
  const raw = await el.getAttribute(attr);
  if (raw === null) throw new Error(`no ${attr}`);
  return JSON.parse(raw) as T;
}

const sorted = (xs: readonly number[]): number[] => [...xs].sort((a, b) => a - b);

/** The expected losses, and the pairs `[lr, loss]` / `[optimizer, loss]`, sorted. */
function expectedOf(s: Seeded): { losses: number[]; byLr: string[]; byOpt: string[]; best: number } {
  const points = Object.values(s.expected);
  const losses = sorted(points.map((p) => p.loss));
  return {
    losses,
    byLr: points.map((p) => JSON.stringify([p.lr, p.loss])).sort(),
    byOpt: points.map((p) => JSON.stringify([p.optimizer, p.loss])).sort(),
    best: losses[0] as number,
  };
}

/** Drag along a parallel-coordinates axis from position `from` to `to` (0 bottom .. 1 top). */
async function brush(page: Page, key: string, from: number, to: number): Promise<void> {
  const area = page.locator(`[data-testid="pc-brush-area"][data-key="${key}"]`);
  const box = await area.boundingBox();
  if (box === null) throw new Error(`no brush area for ${key}`);
  // the area reaches 4 px past both ends of the axis
  const y = (p: number): number => box.y + 4 + (1 - p) * (box.height - 8);
  const x = box.x + box.width / 2;
  await page.mouse.move(x, y(from));
  await page.mouse.down();
  await page.mouse.move(x, (y(from) + y(to)) / 2, { steps: 4 });
  await page.mouse.move(x, y(to), { steps: 4 });
  await page.mouse.up();
}

test("the sweeps of a project", async ({ page }) => {
  await signedIn(page);
  await page.goto(`${server}/#/p/${seeded.entity}/${seeded.project}`);
  await page.getByTestId("nav-sweeps").click();
  await expect(page.getByTestId("sweeps-page")).toBeVisible();
  await expect(page.getByTestId("sweep-row")).toHaveCount(3);
  const grid = page.locator(`[data-testid="sweep-row"][data-sweep-id="${seeded.grid}"]`);
  await expect(grid).toHaveAttribute("data-state", "finished");
  await expect(grid.getByTestId("sweep-method")).toHaveText("grid");
  await expect(grid.getByTestId("sweep-counts")).toHaveAttribute("data-total", "6");
  await expect(grid.getByTestId("sweep-counts")).toHaveAttribute("data-finished", "6");
  await expect(grid.getByTestId("sweep-best")).toHaveAttribute("data-value", String(expectedOf(seeded).best));
  const idle = page.locator(`[data-testid="sweep-row"][data-sweep-id="${seeded.idle ?? ""}"]`);
  await expect(idle).toHaveAttribute("data-state", "running");
  await expect(idle.getByTestId("sweep-counts")).toHaveAttribute("data-total", "0");
  await expect(page.locator(`[data-testid="sweep-row"][data-sweep-id="${seeded.cancelled ?? ""}"]`)).toHaveAttribute("data-state", "cancelled");
  await check(page, "the sweeps list");
  await grid.getByTestId("sweep-link").click();
  await expect(page.getByTestId("sweep-page")).toHaveAttribute("data-sweep-id", seeded.grid);
});

test("the sweep page's charts hold the runs' values", async ({ page }) => {
  test.setTimeout(120_000);
  await signedIn(page);
  await page.goto(sweepUrl(seeded.grid));
  const want = expectedOf(seeded);
  await expect(page.getByTestId("sweep-state")).toHaveAttribute("data-state", "finished");
  await expect(page.getByTestId("agent-command")).toHaveText(`fwtrack agent ${seeded.entity}/${seeded.project}/${seeded.grid}`);
  // a finished sweep has nothing left to control
  await expect(page.getByTestId("sweep-pause")).toHaveCount(0);

  // the metric over trials: a point per trial, and the running best ends at the best loss
  const metric = page.getByTestId("sweep-metric-chart");
  await expect(metric).toHaveAttribute("data-points", "6");
  const values = await json<[number, number | null][]>(metric, "data-values");
  expect(sorted(values.map(([, v]) => v as number))).toEqual(want.losses);
  expect(values.map(([n]) => n)).toEqual([0, 1, 2, 3, 4, 5]);
  const best = await json<(number | null)[]>(metric, "data-best");
  expect(best[best.length - 1]).toBe(want.best);
  // the running best never gets worse
  for (let i = 1; i < best.length; i++) expect(best[i] as number).toBeLessThanOrEqual(best[i - 1] as number);

  // best runs: the lowest loss first
  const bestRuns = page.getByTestId("best-run");
  await expect(bestRuns).toHaveCount(5);
  await expect(bestRuns.first()).toHaveAttribute("data-value", String(want.best));

  // parallel coordinates: a line per trial with its parameters and loss; lr, optimizer, loss axes
  const pc = page.getByTestId("parallel-coords");
  await expect(pc).toHaveAttribute("data-lines", "6");
  await expect(pc).toHaveAttribute("data-axes", "lr,optimizer,@metric");
  await expect(page.locator('[data-testid="pc-axis"][data-key="optimizer"]')).toHaveAttribute("data-categories", JSON.stringify(["adam", "sgd"]));
  await expect(page.locator('[data-testid="pc-axis"][data-key="lr"]')).toHaveAttribute("data-kind", "log");
  const lines = await page.getByTestId("pc-line").evaluateAll((els) => els.map((e) => e.getAttribute("data-values") ?? ""));
  const drawn = lines.map((l) => JSON.parse(l) as { lr: number; optimizer: string; "@metric": number });
  expect(drawn.map((d) => JSON.stringify([d.lr, d.optimizer, d["@metric"]])).sort()).toEqual(
    Object.values(seeded.expected)
      .map((p) => JSON.stringify([p.lr, p.optimizer, p.loss]))
      .sort(),
  );

  // the metric against each parameter
  const byLr = page.locator('[data-testid="sweep-scatter"][data-param="lr"]');
  await expect(byLr).toHaveAttribute("data-points", "6");
  expect((await json<[number, number][]>(byLr, "data-values")).map((p) => JSON.stringify(p)).sort()).toEqual(want.byLr);
  const byOpt = page.locator('[data-testid="sweep-scatter"][data-param="optimizer"]');
  expect((await json<[string, number][]>(byOpt, "data-values")).map((p) => JSON.stringify(p)).sort()).toEqual(want.byOpt);

  // importance: both parameters, fitted on the six trials; lr explains more of the loss here
  // (the server's first fit loads scikit-learn: give it time)
  const rows = page.getByTestId("importance-row");
  await expect(rows).toHaveCount(2, { timeout: 60_000 });
  const lr = Number(await page.locator('[data-testid="importance-row"][data-param="lr"]').getAttribute("data-importance"));
  const opt = Number(await page.locator('[data-testid="importance-row"][data-param="optimizer"]').getAttribute("data-importance"));
  expect(lr + opt).toBeCloseTo(1, 6);
  expect(lr).toBeGreaterThan(opt);

  // the runs table: each run's parameters and loss as the trial program logged them
  const runRows = page.getByTestId("sweep-run-row");
  await expect(runRows).toHaveCount(6);
  for (const row of await runRows.all()) {
    const lrCell = Number(await row.locator('td[data-param="lr"]').textContent());
    const optCell = (await row.locator('td[data-param="optimizer"]').textContent()) ?? "";
    const point = seeded.expected[`${lrCell}/${optCell}`];
    expect(point, `a run with lr ${lrCell} and optimizer ${optCell}`).toBeDefined();
    await expect(row).toHaveAttribute("data-value", String(point?.loss));
    await expect(row).toHaveAttribute("data-state", "finished");
  }
  await check(page, "the sweep page");

  // a run link opens the run, which belongs to the sweep
  await runRows.first().getByTestId("sweep-run-link").click();
  await expect(page.getByTestId("run-page")).toBeVisible();
});

test("brushing the parallel coordinates filters the runs table", async ({ page }) => {
  await signedIn(page);
  await page.goto(sweepUrl(seeded.grid));
  const rows = page.getByTestId("sweep-run-row");
  await expect(rows).toHaveCount(6);
  const pc = page.getByTestId("parallel-coords");

  // optimizer: adam at the bottom, sgd at the top
  await brush(page, "optimizer", 0, 0.25);
  await expect(rows).toHaveCount(3);
  for (const row of await rows.all()) await expect(row.locator('td[data-param="optimizer"]')).toHaveText("adam");
  await expect(pc).toHaveAttribute("data-selected", "3");
  await expect(page.getByTestId("pc-brush")).toHaveCount(1);
  expect(page.url()).toContain("brush=optimizer:");

  // and the lowest part of the loss axis: only the best run is left
  await brush(page, "@metric", 0, 0.2);
  await expect(rows).toHaveCount(1);
  await expect(rows.first()).toHaveAttribute("data-value", String(expectedOf(seeded).best));
  await expect(page.locator('[data-testid="pc-line"][data-selected="true"]')).toHaveCount(1);

  // the brushes are in the URL: a reload keeps them
  await page.reload();
  await expect(rows).toHaveCount(1);

  // removing the optimizer brush keeps the loss brush
  await page.locator('[data-testid="pc-brush-chip"][data-key="optimizer"]').click();
  await expect(page.getByTestId("pc-brush")).toHaveCount(1);
  await expect(rows).toHaveCount(1);
  await page.getByTestId("pc-clear").click();
  await expect(rows).toHaveCount(6);
  await expect(pc).toHaveAttribute("data-selected", "6");

  // from the keyboard: the first arrow starts a brush in the middle (no category there), more
  // move it up to sgd; Delete clears it
  const axis = page.locator('[data-testid="pc-brush-area"][data-key="optimizer"]');
  await axis.focus();
  await page.keyboard.press("ArrowUp");
  await expect(rows).toHaveCount(0);
  for (let i = 0; i < 8; i++) await page.keyboard.press("ArrowUp");
  await expect(rows).toHaveCount(3);
  for (const row of await rows.all()) await expect(row.locator('td[data-param="optimizer"]')).toHaveText("sgd");
  await page.keyboard.press("Delete");
  await expect(rows).toHaveCount(6);
});

test("pause, resume and cancel through the controls", async ({ page }) => {
  const id = seeded.idle ?? "";
  await signedIn(page);
  await page.goto(sweepUrl(id));
  const state = page.getByTestId("sweep-state");
  await expect(state).toHaveAttribute("data-state", "running");
  await expect(page.getByTestId("live-indicator")).toBeVisible();
  await check(page, "a running sweep's page");

  await page.getByTestId("sweep-pause").click();
  await expect(state).toHaveAttribute("data-state", "paused");
  const answer = async (): Promise<string> => {
    const r = await fetch(`${server}/api/v1/sweeps/${seeded.entity}/${seeded.project}/${id}`, { headers: { Authorization: `Bearer ${adminKey}` } });
    return ((await r.json()) as { state: string }).state;
  };
  expect(await answer()).toBe("paused");
  await expect(page.getByTestId("sweep-pause")).toHaveCount(0);

  await page.getByTestId("sweep-resume").click();
  await expect(state).toHaveAttribute("data-state", "running");
  expect(await answer()).toBe("running");

  // cancel asks first; saying no changes nothing
  await page.getByTestId("sweep-cancel").click();
  await expect(page.getByTestId("confirm-dialog")).toBeVisible();
  await check(page, "the cancel confirmation");
  await page.getByTestId("confirm-cancel").click();
  await expect(page.getByTestId("confirm-dialog")).toHaveCount(0);
  expect(await answer()).toBe("running");
  await page.getByTestId("sweep-cancel").click();
  await page.getByTestId("confirm-ok").click();
  await expect(state).toHaveAttribute("data-state", "cancelled");
  expect(await answer()).toBe("cancelled");
  await expect(page.getByTestId("sweep-controls").getByRole("button")).toHaveCount(0);
});

test("a sweep cancelled mid-trial: its run ended stopped, its history kept", async ({ page }) => {
  const id = seeded.cancelled ?? "";
  await signedIn(page);
  await page.goto(sweepUrl(id));
  await expect(page.getByTestId("sweep-state")).toHaveAttribute("data-state", "cancelled");
  await expect(page.getByTestId("sweep-counts")).toHaveAttribute("data-total", "1");
  const row = page.getByTestId("sweep-run-row");
  await expect(row).toHaveCount(1);
  await expect(row).toHaveAttribute("data-state", "stopped");
  await expect(row.getByTestId("state-badge")).toHaveText("Stopped");
  // the loss it logged before it was stopped
  await expect(row).toHaveAttribute("data-value", String(seeded.expected["0.01/adam"]?.loss));
  await expect(page.getByTestId("sweep-metric-chart")).toHaveAttribute("data-points", "1");
  await check(page, "a cancelled sweep with a stopped run");
  const runId = (await row.getAttribute("data-run-id")) ?? "";
  await row.getByTestId("sweep-run-link").click();
  await expect(page.getByTestId("run-page")).toHaveAttribute("data-run-id", runId);
  await expect(page.getByTestId("state-badge").first()).toHaveAttribute("data-state", "stopped");
  // the run page links back to its sweep
  await page.getByTestId("run-sweep-link").getByRole("link").click();
  await expect(page.getByTestId("sweep-page")).toHaveAttribute("data-sweep-id", id);
});

test("the workspace's sweep column filters by sweep", async ({ page }) => {
  await signedIn(page);
  await page.goto(`${server}/#/p/${seeded.entity}/${seeded.project}`);
  const rows = page.getByTestId("run-row");
  await expect(rows).toHaveCount(7);
  const cells = page.getByTestId("run-sweep");
  await expect(cells).toHaveCount(7);
  await expect(page.locator(`[data-testid="run-sweep"][data-sweep="${seeded.grid}"]`)).toHaveCount(6);
  // the stopped run has a badge of its own
  const stopped = page.locator('[data-testid="run-row"][data-state="stopped"]');
  await expect(stopped).toHaveCount(1);
  await expect(stopped.getByTestId("run-sweep")).toHaveAttribute("data-sweep", seeded.cancelled ?? "");
  await expect(stopped.getByTestId("state-badge")).toHaveAttribute("data-state", "stopped");
  await check(page, "the workspace with runs of sweeps");

  await page.locator(`[data-testid="run-sweep"][data-sweep="${seeded.grid}"]`).first().getByTestId("sweep-filter").click();
  await expect(page.getByTestId("runs-filter")).toHaveValue(`sweep = ${seeded.grid}`);
  await expect(rows).toHaveCount(6);
  for (const c of await cells.all()) await expect(c).toHaveAttribute("data-sweep", seeded.grid);
  // a sweep no run belongs to: nothing matches
  await page.getByTestId("runs-filter").fill(`sweep = ${seeded.idle ?? ""}`);
  await page.getByTestId("runs-filter").press("Enter");
  await expect(rows).toHaveCount(0);
  // the sweep page links to its runs in the workspace
  await page.goto(sweepUrl(seeded.grid));
  await page.getByTestId("sweep-workspace-link").click();
  await expect(page.getByTestId("runs-filter")).toHaveValue(`sweep = ${seeded.grid}`);
  await expect(rows).toHaveCount(6);
});

test("fwtrack ui shows a sweep of the local store", async ({ page }) => {
  await page.goto(`${ui}/#/p/local/${local.project}/sweeps`);
  const row = page.locator(`[data-testid="sweep-row"][data-sweep-id="${local.grid}"]`);
  await expect(row).toHaveAttribute("data-state", "finished");
  await expect(row.getByTestId("sweep-counts")).toHaveAttribute("data-total", "6");
  await row.getByTestId("sweep-link").click();
  await expect(page.getByTestId("sweep-page")).toHaveAttribute("data-sweep-id", local.grid);
  await expect(page.getByTestId("agent-command")).toHaveText(`fwtrack agent ${local.grid}`);
  const want = expectedOf(local);
  const metric = page.getByTestId("sweep-metric-chart");
  await expect(metric).toHaveAttribute("data-points", "6");
  expect(sorted((await json<[number, number][]>(metric, "data-values")).map(([, v]) => v))).toEqual(want.losses);
  await expect(page.getByTestId("parallel-coords")).toHaveAttribute("data-lines", "6");
  await expect(page.getByTestId("sweep-run-row")).toHaveCount(6);
  await brush(page, "optimizer", 1, 0.75);
  await expect(page.getByTestId("sweep-run-row")).toHaveCount(3);
  for (const r of await page.getByTestId("sweep-run-row").all()) await expect(r.locator('td[data-param="optimizer"]')).toHaveText("sgd");
  await check(page, "the local sweep page");
});
