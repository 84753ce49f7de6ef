// The browser side of benches/web_bench.py: headless Debian Chromium through playwright-core
// (web/node_modules), one phase per invocation.
//
//     node benches/web_bench.mjs <plan.json>
//
// The plan (written by web_bench.py) names the phase (workspace | table | compare), the
// servers, the repetitions and the bounds; the results go to plan.results as JSON.
//
// Every time is taken inside the page, on the page's own clock (performance.now(), whose zero
// is the navigation start), by a script injected before the page's own scripts: a
// MutationObserver (plus a 25 ms interval as a fallback) tests a "drawn" condition after every
// DOM change; once it holds, the time of the next animation frame is the result (the frame
// that puts the drawn state on screen). Actions (a drag on a chart, a click on a column
// header, Enter in the filter) are timed from their DOM event's timeStamp, so the round trip
// between this process and the browser is not counted.

import { writeFileSync } from "node:fs";
import path from "node:path";

import { FLAGS, chromium, log, plan, shots } from "./browser.mjs";

// ---------------------------------------------------------------------------------------------
// Injected into every page before its own scripts.

function benchInit(opts) {
  if (window !== window.top) return;
  if (opts.key) {
    try {
      localStorage.setItem("fwtrack.apiKey", opts.key);
    } catch {
      // no storage: the page will ask to sign in, and the wait will say so
    }
  }
  const B = (window.__bench = {});
  const inView = (el) => {
    const r = el.getBoundingClientRect();
    return r.width > 0 && r.height > 0 && r.bottom > 0 && r.right > 0 && r.top < innerHeight && r.left < innerWidth;
  };
  B.inView = inView;
  const panels = () => [...document.querySelectorAll('[data-testid="chart-panel"]')];
  const rowsSig = () =>
    [...document.querySelectorAll('[data-testid="runs-table"] [data-testid="run-row"]')]
      .map((r) => r.getAttribute("data-run-id") ?? r.textContent)
      .join(",");
  B.rowsSig = rowsSig;

  // Pixels of a canvas that are clearly coloured (a run's line, not the white background, the
  // grey grid or black text), or with `opaque`, every pixel drawn at all (for a canvas that
  // holds nothing but the lines). drawImage also reads a canvas drawn by an OffscreenCanvas in
  // a worker (TensorBoard's charts), which getContext cannot.
  const scratch = document.createElement("canvas");
  B.colored = (cv, opaque = false) => {
    if (!cv || cv.width === 0 || cv.height === 0) return 0;
    scratch.width = cv.width;
    scratch.height = cv.height;
    const g = scratch.getContext("2d", { willReadFrequently: true });
    g.clearRect(0, 0, cv.width, cv.height);
    g.drawImage(cv, 0, 0);
    const d = g.getImageData(0, 0, cv.width, cv.height).data;
    let n = 0;
    for (let k = 0; k < d.length; k += 4) {
      if (d[k + 3] < 128) continue;
      if (opaque) {
        n++;
        continue;
      }
      const mx = Math.max(d[k], d[k + 1], d[k + 2]);
      const mn = Math.min(d[k], d[k + 1], d[k + 2]);
      if (mx - mn > 60) n++;
    }
    return n;
  };
  const MIN_COLORED = 50;

  B.conds = {
    // fwtrack: every chart panel in the viewport is ready with points drawn.
    fwCharts(arg) {
      const all = panels();
      const vis = all.filter(inView);
      if (vis.length === 0 || vis.length < (arg.minPanels ?? 1)) return null;
      let points = 0;
      for (const p of vis) {
        if (p.dataset.state !== "ready") return null;
        const n = Number(p.dataset.points);
        if (!(n > 0)) return null;
        points += n;
      }
      // and the lines are on the canvases (uPlot draws in a microtask after setData)
      if (arg.pixels) for (const p of vis) if (B.colored(p.querySelector("canvas")) < MIN_COLORED) return null;
      return { panels: all.length, inView: vis.length, points };
    },
    // fwtrack: the runs table shows rows.
    fwRows() {
      const n = document.querySelectorAll('[data-testid="runs-table"] [data-testid="run-row"]').length;
      return n > 0 ? { rows: n } : null;
    },
    // fwtrack zoom: the armed panel went to loading after the mouseup and is ready again,
    // zoomed, with points.
    zoomDone(st) {
      if (st.t0 === null) return null;
      const p = st.panel;
      if (p.dataset.state === "loading") st.sawLoading = true;
      if (st.sawLoading && p.dataset.state === "ready" && p.dataset.zoomed === "true" && Number(p.dataset.points) > 0) {
        return { points: Number(p.dataset.points) };
      }
      return null;
    },
    // fwtrack zoom, every chart: the zoom is synced across charts, each refetching its range;
    // every zoomed chart in the viewport is ready.
    zoomAll() {
      const zoomed = panels().filter((p) => B.inView(p) && p.dataset.zoomed === "true");
      if (zoomed.length === 0 || zoomed.some((p) => p.dataset.state !== "ready")) return null;
      return { zoomed: zoomed.length };
    },
    // fwtrack runs table: the rows differ from the rows before the action.
    rowsChanged(st) {
      if (st.t0 === null) return null;
      const sig = rowsSig();
      if (sig === "" || sig === st.sig0) return null;
      return { rows: sig.split(",").length, first: sig.split(",")[0] };
    },
    // MLflow: every chart card has a Plotly plot with a line per run in its plot area.
    mlCharts(arg) {
      const cards = [...document.querySelectorAll('[data-testid="experiment-view-compare-runs-card"]')];
      if (cards.length < arg.charts) return null;
      let lines = 0;
      for (const c of cards) {
        const plot = c.querySelector(".js-plotly-plot");
        if (plot === null || !inView(plot)) return null;
        const n = [...plot.querySelectorAll(".cartesianlayer path.js-line")].filter(
          (p) => (p.getAttribute("d") ?? "").length > 20,
        ).length;
        if (n < arg.runs) return null;
        lines += n;
      }
      return { charts: cards.length, lines };
    },
    // TensorBoard (Time Series dashboard): every scalar card has no spinner, a canvas, and
    // its data table lists every run (the card has the data of every run).
    tbCharts(arg) {
      const cards = [...document.querySelectorAll("scalar-card-component")];
      if (cards.length < arg.charts) return null;
      let rows = 0;
      for (const c of cards) {
        if (!inView(c)) return null;
        if (c.querySelector("mat-spinner") !== null) return null;
        if (c.querySelector(".series-view canvas") === null) return null;
        const n = c.querySelectorAll("tb-data-table-content-row").length;
        if (n < arg.runs) return null;
        rows += n;
      }
      // the data is in the cards; the lines are drawn by a worker a few frames later, on a
      // canvas of their own (transparent but for the lines; the grid and axes are SVG/DOM),
      // in colours TensorBoard picks per session (some dark grey)
      for (const c of cards) if (B.colored(c.querySelector(".series-view canvas"), true) < MIN_COLORED) return null;
      return { charts: cards.length, rows };
    },
  };

  B.describe = () => ({
    url: location.href,
    panels: panels().map((p) => `${p.dataset.key}:${p.dataset.state}:${p.dataset.points}`).slice(0, 30),
    text: (document.body?.innerText ?? "").slice(0, 300),
  });

  // Resolves when conds[name](arg) holds (after the next animation frame) or after timeoutMs.
  B.waitFor = (name, arg, timeoutMs) =>
    new Promise((resolve) => {
      const start = performance.now();
      let done = false;
      let lastErr = null;
      const stop = () => {
        done = true;
        mo.disconnect();
        clearInterval(iv);
      };
      const test = () => {
        if (done) return;
        let info = null;
        const ready = performance.now(); // the condition held when the test began
        try {
          info = B.conds[name](arg);
        } catch (e) {
          lastErr = String(e);
        }
        if (info) {
          stop();
          requestAnimationFrame(() => {
            resolve({ ok: true, ready, frame: performance.now(), info });
          });
        } else if (performance.now() - start > timeoutMs) {
          stop();
          resolve({ ok: false, waited: performance.now() - start, err: lastErr, state: B.describe() });
        }
      };
      const mo = new MutationObserver(test);
      const root = document.documentElement ?? document;
      mo.observe(root, { subtree: true, childList: true, attributes: true, characterData: true });
      const iv = setInterval(test, 25);
      test();
    });

  // Armed before an action: the action's time is the timeStamp of the first `events` event.
  B.arm = (name, events, timeoutMs, extra) => {
    const st = { t0: null, tHash: null, sawLoading: false, sig0: rowsSig(), ...extra };
    const onEvent = (e) => {
      if (st.t0 !== null) return;
      if (e.type === "keydown" && e.key !== "Enter") return;
      st.t0 = e.timeStamp;
    };
    for (const ev of events) window.addEventListener(ev, onEvent, true);
    const onHash = (e) => {
      if (st.t0 !== null && st.tHash === null) st.tHash = e.timeStamp;
    };
    window.addEventListener("hashchange", onHash);
    B.pending = B.waitFor(name, st, timeoutMs).then((res) => {
      for (const ev of events) window.removeEventListener(ev, onEvent, true);
      window.removeEventListener("hashchange", onHash);
      return { ...res, t0: st.t0, tHash: st.tHash };
    });
  };

  if (opts.watch) B.watch = B.waitFor(opts.watch.name, opts.watch.arg, opts.watch.timeoutMs);
}

// ---------------------------------------------------------------------------------------------

async function newPage(browser, viewport, init) {
  const context = await browser.newContext({ viewport, bypassCSP: true, serviceWorkers: "block" });
  await context.addInitScript(benchInit, init);
  const page = await context.newPage();
  page.on("pageerror", (e) => log(`page error: ${String(e).slice(0, 300)}`));
  // What the page fetched (for the notes: requests and bytes until the charts were drawn).
  const net = { requests: 0, sizes: [] };
  page.on("requestfinished", (r) => {
    net.requests++;
    net.sizes.push(r.sizes().then((s) => s.responseBodySize, () => 0));
  });
  page.__net = net;
  return { context, page };
}

/** Requests finished so far and their response bytes; resets the count. */
async function netTake(page) {
  const net = page.__net;
  const sizes = await Promise.all(net.sizes);
  const out = { requests: net.requests, bytes: sizes.reduce((a, b) => a + b, 0) };
  net.requests = 0;
  net.sizes = [];
  return out;
}

/** Opens `url` in a fresh context and times the first paint: { ok, ms, info } or { ok: false }. */
async function firstPaint(browser, url, watch, key, viewport) {
  const { context, page } = await newPage(browser, viewport, { key, watch });
  try {
    await page.goto(url, { waitUntil: "commit", timeout: watch.timeoutMs });
    await page.waitForFunction(() => window.__bench?.watch !== undefined, null, { timeout: watch.timeoutMs });
    const res = await page.evaluate(() => window.__bench.watch);
    return { ...res, ms: res.ok ? res.frame : null, net: await netTake(page), page, context };
  } catch (e) {
    return { ok: false, err: String(e).slice(0, 500), page, context };
  }
}

function summarize(name, runs) {
  const ok = runs.filter((r) => r.ok);
  const ms = ok.map((r) => r.ms);
  const errors = runs.filter((r) => !r.ok).map((r) => r.err ?? `not drawn within the bound (${JSON.stringify(r.state ?? {}).slice(0, 300)})`);
  const sorted = [...ms].sort((a, b) => a - b);
  const median = sorted.length ? sorted[Math.floor((sorted.length - 1) / 2)] : null;
  log(`${name}: ${ok.length}/${runs.length} ok, median ${median === null ? "—" : median.toFixed(0) + " ms"} [${ms.map((m) => m.toFixed(0)).join(", ")}]`);
  return { reps: runs.length, ms, runs, errors };
}

// ---------------------------------------------------------------------------------------------
// Phases

async function phaseWorkspace(browser) {
  const base = `${plan.base}/#/p/${plan.entity}/${plan.project}`;
  const watch = { name: "fwCharts", arg: { pixels: true }, timeoutMs: plan.timeout_ms };
  const out = {};
  const paint = [];
  const zoom = [];
  const all = [];
  const grouped = [];
  const shownAll = `${base}?shown=${plan.runs.join(",")}`;
  // every run shown, grouped by learning rate: each chart draws a group's mean and min-max band
  const groupedAll = `${shownAll}&groupby=config.lr&agg=mean&band=minmax`;
  // Warm-up loads, not counted (right after the server starts, its first reads of the
  // index may come from disk); reported in the notes.
  out.warmup = {};
  for (const [name, url] of [["workspace", base], ["workspace_all", shownAll]]) {
    if (name === "workspace_all" && !plan.all_runs) continue;
    const w = await firstPaint(browser, url, watch, plan.key, plan.viewport);
    await w.context.close();
    out.warmup[name] = w.ok ? w.ms : null;
    log(`warm-up ${name}: ${w.ok ? w.ms.toFixed(0) + " ms" : "not drawn: " + JSON.stringify(w.state ?? w.err).slice(0, 400)}`);
  }
  for (let rep = 0; rep < plan.reps; rep++) {
    // the default view, then a zoom on its first chart
    const r = await firstPaint(browser, base, watch, plan.key, plan.viewport);
    paint.push(strip(r));
    if (rep === 0) await r.page.screenshot({ path: path.join(shots, "workspace.png") });
    if (plan.zoom && r.ok) zoom.push(await zoomOnce(r.page, rep));
    await r.context.close();
    if (plan.all_runs) {
      const a = await firstPaint(browser, shownAll, watch, plan.key, plan.viewport);
      all.push(strip(a));
      if (rep === 0) await a.page.screenshot({ path: path.join(shots, "workspace-all-runs.png") });
      await a.context.close();
      const g = await firstPaint(browser, groupedAll, watch, plan.key, plan.viewport);
      grouped.push(strip(g));
      if (rep === 0) await g.page.screenshot({ path: path.join(shots, "workspace-grouped.png") });
      await g.context.close();
    }
    log(
      `rep ${rep + 1}/${plan.reps}: first paint ${fmt(r)}` +
        (plan.zoom ? `, zoom ${fmt(zoom[zoom.length - 1] ?? {})}` : "") +
        (plan.all_runs ? `, all runs ${fmt(all[all.length - 1])}, grouped ${fmt(grouped[grouped.length - 1])}` : ""),
    );
  }
  const info = paint.find((p) => p.ok)?.info ?? {};
  out.workspace = {
    ...summarize("first paint", paint),
    detail: `${info.inView ?? "?"} of ${info.panels ?? "?"} panels in the viewport; ${netText(paint)}`,
  };
  const infoAll = all.find((p) => p.ok)?.info ?? {};
  if (plan.all_runs) {
    out.workspace_all = {
      ...summarize("first paint, every run", all),
      detail: `${plan.runs.length} runs, ${infoAll.inView ?? "?"} panels in the viewport; ${netText(all)}`,
    };
    out.workspace_grouped = {
      ...summarize("first paint, every run grouped by config.lr", grouped),
      detail: `${plan.runs.length} runs in 4 groups (mean, min-max band); ${netText(grouped)}`,
    };
  }
  if (plan.zoom) {
    const every = zoom.filter((z) => z.ok && z.allMs !== null).map((z) => z.allMs).sort((a, b) => a - b);
    const zi = zoom.find((z) => z.ok)?.info ?? {};
    const m = every.length ? every[Math.floor((every.length - 1) / 2)] : null;
    out.zoom = {
      ...summarize("zoom", zoom),
      detail:
        `the dragged chart, from the mouseup` +
        (m === null ? "" : `; every zoomed chart in the viewport (${zi.zoomedInView}): ${m.toFixed(0)} ms`),
    };
  }
  return out;
}

/** "N requests, X MB" of the median repetition's page load. */
function netText(reps) {
  const ok = reps.filter((r) => r.ok && r.net);
  if (ok.length === 0) return "";
  const r = [...ok].sort((a, b) => a.ms - b.ms)[Math.floor((ok.length - 1) / 2)];
  return `${r.net.requests} requests, ${(r.net.bytes / 1e6).toFixed(1)} MB`;
}

function strip(r) {
  const { page: _p, context: _c, ...rest } = r;
  return rest;
}

function fmt(r) {
  return r.ok ? `${r.ms.toFixed(0)} ms` : "not drawn";
}

/** Drag-selects 30-45 % (alternating with 55-70 %) of the first ready chart in the viewport. */
async function zoomOnce(page, rep) {
  const box = await page.evaluate(() => {
    const p = [...document.querySelectorAll('[data-testid="chart-panel"]')].find(
      (el) => window.__bench.inView(el) && el.dataset.state === "ready",
    );
    if (!p) return null;
    p.setAttribute("data-bench-zoom", "1");
    const over = p.querySelector(".u-over");
    if (!over) return null;
    const r = over.getBoundingClientRect();
    return { x: r.x, y: r.y, w: r.width, h: r.height, key: p.dataset.key, points: p.dataset.points };
  });
  if (box === null) return { ok: false, err: "no ready chart with a uPlot overlay (.u-over) in the viewport" };
  const [a, b] = rep % 2 === 0 ? [0.3, 0.45] : [0.55, 0.7];
  await page.evaluate((timeoutMs) => {
    window.__bench.arm("zoomDone", ["mouseup"], timeoutMs, { panel: document.querySelector("[data-bench-zoom]") });
  }, plan.timeout_ms);
  const y = box.y + box.h * 0.5;
  await page.mouse.move(box.x + box.w * a, y);
  await page.mouse.down();
  await page.mouse.move(box.x + box.w * (a + b) / 2, y, { steps: 3 });
  await page.mouse.move(box.x + box.w * b, y, { steps: 3 });
  await page.mouse.up();
  const res = await page.evaluate(() => window.__bench.pending);
  if (!res.ok || res.t0 === null) return { ...res, ok: false, err: res.t0 === null ? "the mouseup was not seen" : undefined };
  const every = await page.evaluate((t) => window.__bench.waitFor("zoomAll", {}, t), plan.timeout_ms);
  if (rep === 0) await page.screenshot({ path: path.join(shots, "workspace-zoomed.png") });
  return {
    ok: true,
    ms: res.frame - res.t0,
    readyMs: res.ready - res.t0,
    allMs: every.ok ? every.frame - res.t0 : null,
    info: { ...res.info, key: box.key, before: Number(box.points), zoomedInView: every.info?.zoomed ?? null },
  };
}

async function phaseTable(browser) {
  const base = `${plan.base}/#/p/${plan.entity}/${plan.project}`;
  const settle = { name: "fwCharts", arg: {}, timeoutMs: plan.timeout_ms };
  const r = await firstPaint(browser, base, settle, plan.key, plan.viewport);
  const { page, context } = r;
  const out = { sort: [], filter_text: [], filter_expr: [] };
  try {
    if (!r.ok) log(`the workspace did not settle: ${JSON.stringify(r.state ?? r.err).slice(0, 400)}`);
    await waitQuiet(page, "fwRows");
    await page.screenshot({ path: path.join(shots, "table.png") });
    for (let rep = 0; rep < plan.reps; rep++) {
      // sort: the name column's header (descending, ascending, ... on successive clicks)
      out.sort.push(
        await tableAction(page, ["click"], async () => {
          await page.locator('[data-testid="runs-table"] th[data-field="name"] button').click();
        }),
      );
      // text: the search box (the page applies it after its debounce)
      const text = plan.text[rep % plan.text.length];
      out.filter_text.push(
        await tableAction(page, ["input"], async () => {
          await page.locator('[data-testid="runs-search"]').fill(text);
        }),
      );
      // expression: typed, then applied with Enter
      const expr = plan.expr[rep % plan.expr.length];
      await page.locator('[data-testid="runs-filter"]').fill(expr);
      out.filter_expr.push(
        await tableAction(page, ["keydown"], async () => {
          await page.locator('[data-testid="runs-filter"]').press("Enter");
        }),
      );
      if (rep === 0) await page.screenshot({ path: path.join(shots, "table-filtered.png") });
      // back to the whole table for the next repetition
      await page.goto(base, { waitUntil: "commit" });
      await waitQuiet(page, "fwRows");
      log(
        `rep ${rep + 1}/${plan.reps}: sort ${fmt(out.sort.at(-1))}, text ${fmt(out.filter_text.at(-1))}` +
          `, expression ${fmt(out.filter_expr.at(-1))}`,
      );
    }
  } finally {
    await context.close();
  }
  const detail = (rows, what) => {
    const applied = rows.filter((x) => x.ok && x.appliedMs !== null).map((x) => x.appliedMs);
    const s = [...applied].sort((a, b) => a - b);
    const m = s.length ? s[Math.floor((s.length - 1) / 2)] : null;
    return m === null ? what : `${what}; ${m.toFixed(0)} ms after the page applied it`;
  };
  return {
    sort: { ...summarize("sort", out.sort), detail: detail(out.sort, "click on the name header") },
    filter_text: { ...summarize("text filter", out.filter_text), detail: detail(out.filter_text, "from the input event") },
    filter_expr: { ...summarize("expression filter", out.filter_expr), detail: detail(out.filter_expr, "from Enter") },
  };
}

/** Waits for `cond`, then for the charts to settle, so that one action's work does not
 * overlap the next one's. */
async function waitQuiet(page, cond) {
  await page.waitForFunction(() => window.__bench !== undefined, null, { timeout: plan.timeout_ms });
  await page.evaluate(([c, t]) => window.__bench.waitFor(c, {}, t), [cond, plan.timeout_ms]);
  await page.evaluate((t) => window.__bench.waitFor("fwCharts", {}, t), plan.timeout_ms);
  await page.waitForTimeout(300);
}

async function tableAction(page, events, act) {
  await page.evaluate(([ev, t]) => {
    window.__bench.arm("rowsChanged", ev, t, {});
  }, [events, plan.timeout_ms]);
  try {
    await act();
  } catch (e) {
    return { ok: false, err: `the action failed: ${String(e).split("\n")[0].slice(0, 300)}` };
  }
  const res = await page.evaluate(() => window.__bench.pending);
  await page.evaluate((t) => window.__bench.waitFor("fwCharts", {}, t), plan.timeout_ms);
  await page.waitForTimeout(300);
  if (!res.ok || res.t0 === null) {
    return { ok: false, err: res.t0 === null ? "the action's event was not seen" : `rows unchanged: ${JSON.stringify(res.state).slice(0, 300)}` };
  }
  return {
    ok: true,
    ms: res.frame - res.t0,
    appliedMs: res.tHash === null ? null : res.frame - res.tHash,
    info: res.info,
  };
}

async function phaseCompare(browser) {
  const tools = plan.tools;
  const arg = { charts: plan.keys.length, runs: plan.runs.length, minPanels: plan.keys.length, pixels: true };
  const targets = {
    fwtrack: {
      url: `${tools.fwtrack.base}/#/p/${tools.fwtrack.entity}/${tools.fwtrack.project}`,
      key: tools.fwtrack.key,
      cond: "fwCharts",
      condition: "every panel `data-state=ready` with points, lines on its canvas",
    },
    mlflow: {
      url: `${tools.mlflow.base}/#/experiments/${tools.mlflow.experiment_id}/runs?compareRunsMode=CHART`,
      cond: "mlCharts",
      condition: "every chart card's Plotly plot has a drawn line per run",
    },
    tensorboard: {
      url: `${tools.tensorboard.base}/#timeseries`,
      cond: "tbCharts",
      condition: "every scalar card: spinner gone, data table lists every run, lines on its canvas",
    },
  };
  const names = Object.keys(targets);
  const res = Object.fromEntries(names.map((n) => [n, []]));
  // One warm-up load each, not counted.
  const warmup = {};
  for (const n of names) {
    const t = targets[n];
    const w = await firstPaint(browser, t.url, { name: t.cond, arg, timeoutMs: plan.timeout_ms }, t.key, plan.viewport);
    await w.page.screenshot({ path: path.join(shots, `compare-${n}.png`) });
    await w.context.close();
    warmup[n] = w.ok ? w.ms : null;
    log(`warm-up ${n}: ${w.ok ? w.ms.toFixed(0) + " ms " + JSON.stringify(w.info) : "not drawn: " + JSON.stringify(w.state ?? w.err).slice(0, 400)}`);
  }
  for (let rep = 0; rep < plan.reps; rep++) {
    const order = names.slice(rep % names.length).concat(names.slice(0, rep % names.length));
    const line = [];
    for (const n of order) {
      const t = targets[n];
      const r = await firstPaint(browser, t.url, { name: t.cond, arg, timeoutMs: plan.timeout_ms }, t.key, plan.viewport);
      await r.context.close();
      res[n].push(strip(r));
      line.push(`${n} ${fmt(r)}`);
    }
    log(`rep ${rep + 1}/${plan.reps}: ${line.join(", ")}`);
  }
  const out = { tools: {}, warmup };
  for (const n of names) {
    out.tools[n] = { ...summarize(n, res[n]), condition: targets[n].condition, url: targets[n].url, loaded: netText(res[n]) };
  }
  return out;
}

// ---------------------------------------------------------------------------------------------

const browser = await chromium.launch({ executablePath: plan.chromium, headless: true, args: FLAGS });
let result;
try {
  const t0 = Date.now();
  if (plan.phase === "workspace") result = await phaseWorkspace(browser);
  else if (plan.phase === "table") result = await phaseTable(browser);
  else if (plan.phase === "compare") result = await phaseCompare(browser);
  else throw new Error(`unknown phase ${plan.phase}`);
  result.wall_s = (Date.now() - t0) / 1000;
  result.browser = browser.version();
} catch (e) {
  result = { error: String(e?.stack ?? e).slice(0, 2000) };
  log(`error: ${result.error}`);
} finally {
  await browser.close();
}
writeFileSync(plan.results, JSON.stringify(result, null, 1));
