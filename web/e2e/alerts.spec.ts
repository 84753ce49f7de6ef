// Alerts on the run page, against a real server of this spec's own and a `fwtrack ui`, seeded
// by `alert_fixtures.py`: a run raised an INFO, a WARN and an ERROR alert through
// `run.alert(...)` (and the WARN title again within its wait_duration, suppressed). The
// Overview shows them newest first with their level badge, title, text and time; the
// suppressed one is absent; a run without alerts shows no panel.

import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Page } from "@playwright/test";

import { freePort, readState, runPython, startProcess, stopPid, waitHttp } from "./harness";
import { expect, expectAccessible, expectNamedControls, test } from "./util";

const FIXTURES = join(import.meta.dirname, "alert_fixtures.py");

interface Seeded {
  entity: string;
  project: string;
  run: string;
  alerts: { title: string; text: string; level: string }[];
}

let server = "";
let ui = "";
let adminKey = "";
let online: Seeded;
let local: Seeded;
const pids: number[] = [];

test.describe.configure({ mode: "serial" });

test.beforeAll(async () => {
  test.setTimeout(180_000);
  const state = readState();
  adminKey = state.adminKey;
  const port = await freePort();
  const work = join(state.work, `alerts-${port}`);
  mkdirSync(work, { recursive: true });
  server = `http://127.0.0.1:${port}`;
  const proc = startProcess(work, "alerts-server", ["-m", "fwtrack", "server", "--port", String(port), "--data", join(work, "server-data")], {
    FWTRACK_SERVER_ADMIN_KEY: state.adminKey,
  });
  if (proc.pid !== undefined) pids.push(proc.pid);
  await waitHttp(`${server}/api/v1/health`, proc, join(work, "alerts-server.log"));
  const out = join(work, "alerts.json");
  const localOut = join(work, "local-alerts.json");
  const localDir = join(work, "local", "runs");
  await Promise.all([
    runPython(work, "alert-fixtures", [FIXTURES, "server", "--url", server, "--key", state.adminKey, "--work", join(work, "client"), "--out", out], {}, 120_000),
    runPython(work, "alert-fixtures-local", [FIXTURES, "local", "--dir", localDir, "--out", localOut], {}, 120_000),
  ]);
  online = JSON.parse(readFileSync(out, "utf8")) as Seeded;
  local = JSON.parse(readFileSync(localOut, "utf8")) as Seeded;
  const uiPort = await freePort();
  ui = `http://127.0.0.1:${uiPort}`;
  const uiProc = startProcess(work, "alerts-ui", ["-m", "fwtrack", "ui", "--dir", localDir, "--port", String(uiPort)]);
  if (uiProc.pid !== undefined) pids.push(uiProc.pid);
  await waitHttp(`${ui}/api/v1/health`, uiProc, join(work, "alerts-ui.log"));
});

test.afterAll(async () => {
  for (const pid of pids.reverse()) await stopPid(pid);
});

async function expectAlerts(page: Page, seeded: Seeded): Promise<void> {
  const panel = page.getByTestId("run-alerts");
  await expect(panel).toBeVisible({ timeout: 20_000 });
  const items = panel.getByTestId("alert");
  // Newest first; the suppressed repeat is not there.
  const expected = [...seeded.alerts].reverse();
  await expect(items).toHaveCount(expected.length);
  for (const [i, alert] of expected.entries()) {
    const item = items.nth(i);
    await expect(item).toHaveAttribute("data-level", alert.level);
    await expect(item.getByTestId("alert-title")).toHaveText(alert.title);
    await expect(item.getByTestId("alert-text")).toHaveText(alert.text);
    await expect(item.getByTestId("alert-level")).toHaveText({ INFO: "Info", WARN: "Warning", ERROR: "Error" }[alert.level] ?? "");
    await expect(item.getByTestId("alert-time")).toHaveAttribute("datetime", /^\d{4}-\d\d-\d\dT/);
  }
  await expect(panel).not.toContainText("suppressed");
}

test("the run page shows the run's alerts with level, title, text and time", async ({ page }) => {
  await page.addInitScript((key: string) => {
    window.localStorage.setItem("fwtrack.apiKey", key);
  }, adminKey);
  await page.goto(`${server}/#/p/${online.entity}/${online.project}/r/${online.run}`);
  await expectAlerts(page, online);
  await page.waitForLoadState("networkidle");
  await expectNamedControls(page, "run page with alerts");
  await expectAccessible(page, "run page with alerts");
});

test("fwtrack ui shows the alerts of a local run", async ({ page }) => {
  await page.goto(`${ui}/#/p/${local.entity}/${local.project}/r/${local.run}`);
  await expectAlerts(page, local);
});
