// The browser side of benches/runs_scale_bench.py: the workspace's runs table and the projects
// page on a project of many runs, in headless Debian Chromium through playwright-core
// (web/node_modules, with the shared setup of benches/browser.mjs).
//
//     node benches/runs_scale_bench.mjs <plan.json>
//
// Times are taken inside the page on its own clock (performance.now(), zero at the navigation
// start), as web_bench.mjs and table_bench.mjs take them. First page and projects page: a fresh
// browser context per repetition opens the page; the time is that of the animation frame after
// the rows are in the DOM. Sort, search and filter: from the DOM event's timeStamp (the `click`
// on a column header, the search box's `input` event, the filter box's Enter `keydown`) to the
// animation frame after the table's rows changed, so the round trip between this process and
// the browser is not counted. The search box's debounce is inside the search figure.

import { writeFileSync } from "node:fs";
import path from "node:path";

import { FLAGS, chromium, log, plan, shots } from "./browser.mjs";

function pageInit(key) {
  try {
    localStorage.setItem("fwtrack.apiKey", key);
  } catch {
    // no storage: the page asks to sign in and the wait times out, which the results say
  }
  const B = (window.__rs = {});
  B.sig = (sel) => [...document.querySelectorAll(sel)].map((r) => r.dataset.runId ?? r.dataset.project ?? "").join(",");
  // Resolves with the frame time after `sel` matches rows whose signature differs from
  // `before` (and the first event of `events` if any was armed), or null after `timeoutMs`.
  B.when = (sel, before, timeoutMs) =>
    new Promise((resolve) => {
      const start = performance.now();
      const check = () => {
        const sig = B.sig(sel);
        if (sig !== "" && sig !== before && (B.events === null || B.t0 !== null)) {
          mo.disconnect();
          clearInterval(iv);
          requestAnimationFrame(() => resolve({ frame: performance.now(), rows: sig.split(",").length, first: sig.split(",")[0] }));
        } else if (performance.now() - start > timeoutMs) {
          mo.disconnect();
          clearInterval(iv);
          resolve(null);
        }
      };
      const mo = new MutationObserver(check);
      mo.observe(document.documentElement ?? document, { subtree: true, childList: true, attributes: true, characterData: true });
      const iv = setInterval(check, 25);
      check();
    });
  B.events = null;
  B.t0 = null;
  B.arm = (events) => {
    B.events = events;
    B.t0 = null;
    const on = (e) => {
      if (B.t0 !== null) return;
      if (e.type === "keydown" && e.key !== "Enter") return;
      B.t0 = e.timeStamp;
    };
    for (const ev of events) window.addEventListener(ev, on, true);
  };
}

const ROWS = '[data-testid="runs-table"] [data-testid="run-row"]';
const PROJECTS = '[data-testid="project-row"]';

async function newPage(browser) {
  const context = await browser.newContext({ viewport: plan.viewport, bypassCSP: true, serviceWorkers: "block" });
  await context.addInitScript(pageInit, plan.key);
  const page = await context.newPage();
  page.on("pageerror", (e) => log(`page error: ${String(e).slice(0, 300)}`));
  return { context, page };
}

/** Opens `url` in a fresh context; the time of the frame after `sel` has rows. */
async function firstPaint(browser, url, sel) {
  const { context, page } = await newPage(browser);
  try {
    await page.goto(url, { waitUntil: "commit", timeout: plan.timeout_ms });
    await page.waitForFunction(() => window.__rs !== undefined, null, { timeout: plan.timeout_ms });
    const res = await page.evaluate(([s, t]) => window.__rs.when(s, "", t), [sel, plan.timeout_ms]);
    return res === null ? { ok: false, err: "no rows within the bound" } : { ok: true, ms: res.frame, info: { rows: res.rows } };
  } catch (e) {
    return { ok: false, err: String(e).split("\n")[0].slice(0, 300) };
  } finally {
    await context.close();
  }
}

/** One action on the table: from its event to the frame after the rows changed. */
async function action(page, events, act) {
  const before = await page.evaluate((s) => window.__rs.sig(s), ROWS);
  await page.evaluate((ev) => window.__rs.arm(ev), events);
  const pending = page.evaluate(([s, b, t]) => window.__rs.when(s, b, t), [ROWS, before, plan.timeout_ms]);
  try {
    await act();
  } catch (e) {
    return { ok: false, err: `the action failed: ${String(e).split("\n")[0].slice(0, 300)}` };
  }
  const res = await pending;
  const t0 = await page.evaluate(() => window.__rs.t0);
  await page.waitForTimeout(200); // let the page settle before the next action
  if (res === null || t0 === null) return { ok: false, err: t0 === null ? "the action's event was not seen" : "rows unchanged" };
  return { ok: true, ms: res.frame - t0, info: { rows: res.rows, first: res.first } };
}

function summarize(name, runs) {
  const ms = runs.filter((r) => r.ok).map((r) => r.ms);
  const sorted = [...ms].sort((a, b) => a - b);
  const median = sorted.length ? sorted[Math.floor((sorted.length - 1) / 2)] : null;
  log(`${name}: ${ms.length}/${runs.length} ok, median ${median === null ? "—" : median.toFixed(0) + " ms"} [${ms.map((m) => m.toFixed(0)).join(", ")}]`);
  return { reps: runs.length, ms, errors: runs.filter((r) => !r.ok).map((r) => r.err) };
}

const browser = await chromium.launch({ executablePath: plan.chromium, headless: true, args: FLAGS });
const result = {};
try {
  const cols = encodeURIComponent(plan.columns.join(","));
  const workspace = `${plan.base}/#/p/${plan.entity}/${plan.project}?cols=${cols}`;
  const out = { first_page: [], projects: [] };
  for (const a of plan.sorts) out[`sort_${a}`] = [];
  out.search = [];
  out.filter = [];
  out.filter_sort = [];
  for (let rep = 0; rep < plan.reps; rep++) {
    out.first_page.push(await firstPaint(browser, workspace, ROWS));
    out.projects.push(await firstPaint(browser, `${plan.base}/#/`, PROJECTS));
    const { context, page } = await newPage(browser);
    try {
      await page.goto(workspace, { waitUntil: "commit" });
      await page.waitForFunction(() => window.__rs !== undefined, null, { timeout: plan.timeout_ms });
      await page.evaluate(([s, t]) => window.__rs.when(s, "", t), [ROWS, plan.timeout_ms]);
      for (const field of plan.sorts) {
        out[`sort_${field}`].push(
          await action(page, ["click"], async () => {
            await page.locator(`[data-testid="runs-table"] th[data-field="${field}"] button`).click();
          }),
        );
      }
      // back to the default order (a fresh load, so no answer of the sorts is still due),
      // then search and filter
      await page.goto(workspace, { waitUntil: "commit" });
      await page.reload({ waitUntil: "commit" });
      await page.waitForFunction(() => window.__rs !== undefined, null, { timeout: plan.timeout_ms });
      await page.evaluate(([s, t]) => window.__rs.when(s, "", t), [ROWS, plan.timeout_ms]);
      await page.waitForTimeout(500);
      const text = plan.search[rep % plan.search.length];
      out.search.push(
        await action(page, ["input"], async () => {
          await page.locator('[data-testid="runs-search"]').fill(text);
        }),
      );
      await page.locator('[data-testid="runs-search"]').fill("");
      await page.waitForTimeout(500);
      const expr = plan.filter[rep % plan.filter.length];
      await page.locator('[data-testid="runs-filter"]').fill(expr);
      out.filter.push(
        await action(page, ["keydown"], async () => {
          await page.locator('[data-testid="runs-filter"]').press("Enter");
        }),
      );
      // a summary sort of the filtered runs
      out.filter_sort.push(
        await action(page, ["click"], async () => {
          await page.locator(`[data-testid="runs-table"] th[data-field="${plan.columns[0]}"] button`).click();
        }),
      );
      if (rep === 0) await page.screenshot({ path: path.join(shots, `runs-${plan.label}.png`) });
    } finally {
      await context.close();
    }
    const last = Object.entries(out).map(([k, v]) => `${k} ${v.at(-1)?.ok ? v.at(-1).ms.toFixed(0) : "✗"}`);
    log(`${plan.label} rep ${rep + 1}/${plan.reps}: ${last.join(", ")}`);
  }
  for (const [k, v] of Object.entries(out)) result[k] = summarize(`${plan.label} ${k}`, v);
  result.browser = browser.version();
} catch (e) {
  result.error = String(e?.stack ?? e).slice(0, 2000);
  log(`error: ${result.error}`);
} finally {
  await browser.close();
}
writeFileSync(plan.results, JSON.stringify(result, null, 1));
