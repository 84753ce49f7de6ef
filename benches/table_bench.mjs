// The browser side of benches/table_bench.py: the dashboard's table viewer on a logged table,
// in headless Debian Chromium through playwright-core (web/node_modules).
//
//     node benches/table_bench.mjs <plan.json>
//
// The plan (written by table_bench.py) gives the server, the run, the table's path, the
// repetitions, the columns to sort by and the texts to filter with; results go to
// plan.results as JSON.
//
// Times are taken inside the page, on its own clock (performance.now(), zero at the navigation
// start). First page: a fresh browser context per repetition (no HTTP cache, no stored state)
// opens the run's media tab with the table in the viewer; the time is that of the animation
// frame after the viewer is `data-state="ready"` with rows in its grid. Sort and filter: from
// the DOM event's timeStamp (the `click` on a column header, the `input` event of the filter
// box) to the frame after the rows in the grid have changed and the viewer is ready again, so
// the round trip between this process and the browser is not counted. The filter box applies
// its text after a debounce (FILTER_DEBOUNCE_MS in web/src/pages/run/TableViewer.tsx), which
// is inside the filter figure; the time after the request left is reported next to it.

import { writeFileSync } from "node:fs";
import path from "node:path";

import { FLAGS, chromium, log, plan, shots } from "./browser.mjs";

function pageInit(key) {
  try {
    localStorage.setItem("fwtrack.apiKey", key);
  } catch {
    // no storage: the page asks to sign in and the wait times out, which the results say
  }
  // The time each table request left (its URL), for the "after the request" figures.
  const B = (window.__tb = { requests: [] });
  const orig = window.fetch.bind(window);
  window.fetch = (input, init) => {
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : String(input?.url ?? "");
    if (url.includes("/table?")) B.requests.push({ t: performance.now(), url });
    return orig(input, init);
  };
}

const url = () =>
  `${plan.base}/#/p/${plan.entity}/${plan.project}/r/${plan.run}?tab=media&table=${encodeURIComponent(plan.path)}`;

/** Arms a watch: the first `event` seen starts the clock; the frame after the grid's rows
 * changed (and the viewer is ready) stops it. */
async function arm(page, event) {
  await page.evaluate((ev) => {
    const B = window.__tb;
    const sig = () => [...document.querySelectorAll('[data-testid="table-row"]')].map((r) => r.dataset.rowId).join(",");
    const before = sig();
    B.t0 = null;
    B.requests = [];
    const onEvent = (e) => {
      if (B.t0 === null) B.t0 = e.timeStamp;
    };
    document.addEventListener(ev, onEvent, { capture: true });
    B.done = new Promise((resolve) => {
      const check = () => {
        const v = document.querySelector('[data-testid="table-viewer"]');
        if (B.t0 === null || !v || v.dataset.state !== "ready" || sig() === before) return;
        obs.disconnect();
        clearInterval(timer);
        document.removeEventListener(ev, onEvent, { capture: true });
        requestAnimationFrame(() => {
          const frame = performance.now();
          const req = B.requests.length ? B.requests[B.requests.length - 1].t : null;
          resolve({ ok: true, ms: frame - B.t0, afterRequestMs: req === null ? null : frame - req, requests: B.requests.length });
        });
      };
      const obs = new MutationObserver(check);
      obs.observe(document.body, { subtree: true, childList: true, attributes: true, characterData: true });
      const timer = setInterval(check, 25);
    });
  }, event);
}

async function waitDone(page) {
  return await Promise.race([
    page.evaluate(() => window.__tb.done),
    new Promise((resolve) => setTimeout(() => resolve({ ok: false, err: "rows did not change within the bound" }), plan.timeout_ms)),
  ]);
}

async function firstPage(browser, rep) {
  const context = await browser.newContext({ viewport: plan.viewport, bypassCSP: true, serviceWorkers: "block" });
  await context.addInitScript(pageInit, plan.key);
  const page = await context.newPage();
  page.on("pageerror", (e) => log(`page error: ${String(e).slice(0, 300)}`));
  try {
    await page.goto(url(), { waitUntil: "commit", timeout: plan.timeout_ms });
    const handle = await page.waitForFunction(
      () => {
        const v = document.querySelector('[data-testid="table-viewer"]');
        if (!v || v.dataset.state !== "ready" || document.querySelectorAll('[data-testid="table-row"]').length === 0) return false;
        return performance.now();
      },
      null,
      { polling: "raf", timeout: plan.timeout_ms },
    );
    const ms = await handle.jsonValue();
    const total = await page.locator('[data-testid="table-viewer"]').getAttribute("data-total");
    if (rep === 0) await page.screenshot({ path: path.join(shots, "table-viewer.png") });
    return { result: { ok: true, ms, total: Number(total) }, page, context };
  } catch (e) {
    await page.screenshot({ path: path.join(shots, `table-viewer-failed-${rep}.png`) }).catch(() => {});
    return { result: { ok: false, err: String(e).split("\n")[0].slice(0, 300) }, page, context };
  }
}

async function action(page, event, act) {
  await arm(page, event);
  try {
    await act();
  } catch (e) {
    return { ok: false, err: `the action failed: ${String(e).split("\n")[0].slice(0, 300)}` };
  }
  const res = await waitDone(page);
  await page.waitForTimeout(200);
  return res;
}

function summarize(name, runs) {
  const ms = runs.filter((r) => r.ok).map((r) => r.ms);
  const sorted = [...ms].sort((a, b) => a - b);
  const median = sorted.length ? sorted[Math.floor((sorted.length - 1) / 2)] : null;
  log(`${name}: ${ms.length}/${runs.length} ok, median ${median === null ? "—" : median.toFixed(0) + " ms"} [${ms.map((m) => m.toFixed(0)).join(", ")}]`);
  return { reps: runs.length, ms, runs };
}

const browser = await chromium.launch({ executablePath: plan.chromium, headless: true, args: FLAGS });
const out = { first_cold: null, first: [], sort: [], filter: [] };
try {
  for (let rep = 0; rep <= plan.reps; rep++) {
    // rep 0 is the first load after the server started (the server parses the table then)
    const { result, page, context } = await firstPage(browser, rep);
    try {
      if (rep === 0) {
        out.first_cold = result;
        log(`first page, cold: ${result.ok ? result.ms.toFixed(0) + " ms" : result.err}`);
        continue;
      }
      out.first.push(result);
      if (!result.ok) continue;
      const col = plan.sort_columns[(rep - 1) % plan.sort_columns.length];
      out.sort.push(
        await action(page, "click", async () => {
          await page.locator(`[data-testid="table-header"][data-column="${col}"] button`).click();
        }),
      );
      const text = plan.filters[(rep - 1) % plan.filters.length];
      out.filter.push(
        await action(page, "input", async () => {
          await page.locator('[data-testid="table-filter"]').fill(text);
        }),
      );
      if (rep === 1) await page.screenshot({ path: path.join(shots, "table-viewer-filtered.png") });
      const f = (r) => (r.ok ? `${r.ms.toFixed(0)} ms` : r.err);
      log(`rep ${rep}/${plan.reps}: first page ${f(result)}, sort by ${col} ${f(out.sort.at(-1))}, filter "${text}" ${f(out.filter.at(-1))}`);
    } finally {
      await context.close();
    }
  }
} finally {
  await browser.close();
}
writeFileSync(
  plan.results,
  JSON.stringify(
    {
      first_cold: out.first_cold,
      first: summarize("first page", out.first),
      sort: summarize("sort", out.sort),
      filter: summarize("filter", out.filter),
    },
    null,
    1,
  ),
);
