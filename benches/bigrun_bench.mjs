// The browser side of benches/bigrun_bench.py: the workspace of one very long run in headless
// Debian Chromium (playwright-core, shared setup in browser.mjs).
//
//     node benches/bigrun_bench.mjs <plan.json>
//
// Times are taken inside the page on its own clock (performance.now(), zero = navigation
// start): first paint = the animation frame after every chart panel in the viewport is
// `data-state="ready"` with points; a zoom = from the mouseup's event timeStamp to the frame
// after the dragged panel is zoomed and ready again (having gone through "loading" when it
// refetched). Zooms: 1 % of the run (a drag over 1 % of the chart), 0.01 % (1 % of that),
// back to the whole run (double click), and the last 1 % (from a fresh page).

import { writeFileSync } from "node:fs";

import { FLAGS, chromium, log, plan } from "./browser.mjs";

function init(key) {
  try {
    localStorage.setItem("fwtrack.apiKey", key);
  } catch {
    // storage may be unavailable before the document exists
  }
}

async function openPage(browser) {
  const context = await browser.newContext({ viewport: plan.viewport, serviceWorkers: "block" });
  await context.addInitScript(init, plan.key);
  const page = await context.newPage();
  page.on("pageerror", (e) => log(`page error: ${String(e).slice(0, 300)}`));
  return { context, page };
}

/** performance.now() of the frame after every in-view chart panel is ready with points. */
async function paintTime(page) {
  return page.evaluate(
    (timeoutMs) =>
      new Promise((resolve) => {
        const t0 = performance.now();
        const ready = () => {
          const panels = [...document.querySelectorAll('[data-testid="chart-panel"]')].filter((p) => {
            const r = p.getBoundingClientRect();
            return r.bottom > 0 && r.top < innerHeight && r.width > 0;
          });
          return panels.length > 0 && panels.every((p) => p.dataset.state === "ready" && Number(p.dataset.points) > 0);
        };
        const tick = () => {
          if (ready()) requestAnimationFrame((t) => resolve({ ok: true, ms: t }));
          else if (performance.now() - t0 > timeoutMs) resolve({ ok: false });
          else requestAnimationFrame(tick);
        };
        tick();
      }),
    plan.timeout_ms,
  );
}

/** Drags from fraction a to b of the first ready panel's plot (or double-clicks when a is
 * null) and times the refined chart. */
async function zoom(page, a, b) {
  const box = await page.evaluate(() => {
    const p = document.querySelector('[data-testid="chart-panel"][data-state="ready"]');
    const over = p?.querySelector(".u-over");
    if (!p || !over) return null;
    p.setAttribute("data-bench-zoom", "1");
    const r = over.getBoundingClientRect();
    return { x: r.x, y: r.y, w: r.width, h: r.height };
  });
  if (box === null) return { ok: false, err: "no ready chart" };
  await page.evaluate(() => {
    const p = document.querySelector("[data-bench-zoom]");
    const w = { t0: null, loading: false };
    window.__zoom = w;
    window.addEventListener("mouseup", (e) => { w.t0 = e.timeStamp; }, { once: true, capture: true });
    window.addEventListener("dblclick", (e) => { w.t0 = e.timeStamp; }, { once: true, capture: true });
    new MutationObserver(() => { if (p.dataset.state === "loading") w.loading = true; }).observe(p, { attributes: true });
  });
  const y = box.y + box.h * 0.5;
  if (a === null) {
    await page.mouse.dblclick(box.x + box.w * 0.5, y);
  } else {
    await page.mouse.move(box.x + box.w * a, y);
    await page.mouse.down();
    await page.mouse.move(box.x + box.w * ((a + b) / 2), y, { steps: 2 });
    await page.mouse.move(box.x + box.w * b, y, { steps: 2 });
    await page.mouse.up();
  }
  const res = await page.evaluate(
    ({ timeoutMs, reset }) =>
      new Promise((resolve) => {
        const p = document.querySelector("[data-bench-zoom]");
        const w = window.__zoom;
        const start = performance.now();
        const tick = () => {
          const zoomedOk = reset ? p.dataset.zoomed === "false" : p.dataset.zoomed === "true";
          // a reset redraws from the data already held; a zoom waits for its refetch
          const settled = reset || w.loading || performance.now() - start > 1000;
          if (w.t0 !== null && zoomedOk && settled && p.dataset.state === "ready") {
            requestAnimationFrame((t) => resolve({ ok: true, ms: t - w.t0, loading: w.loading, points: Number(p.dataset.points) }));
          } else if (performance.now() - start > timeoutMs) resolve({ ok: false, state: p.dataset.state, zoomed: p.dataset.zoomed });
          else requestAnimationFrame(tick);
        };
        tick();
      }),
    { timeoutMs: plan.timeout_ms, reset: a === null },
  );
  return res;
}

const browser = await chromium.launch({ executablePath: plan.chromium, args: FLAGS });
const out = { paint: [], zoom_1pct: [], zoom_001pct: [], zoom_whole: [], zoom_last_1pct: [], detail: [] };
try {
  for (let rep = 0; rep < plan.reps; rep++) {
    let { context, page } = await openPage(browser);
    await page.goto(plan.url, { waitUntil: "commit" });
    const p = await paintTime(page);
    out.paint.push(p.ok ? p.ms : null);
    // where the time went: the page's requests (start and end on the page's clock)
    p.requests = await page.evaluate(() =>
      performance.getEntriesByType("resource").map((e) => ({
        url: e.name.replace(location.origin, "").slice(0, 90),
        start: Math.round(e.startTime),
        end: Math.round(e.responseEnd),
        bytes: e.transferSize,
      })),
    );
    const nav = await page.evaluate(() => {
      const n = performance.getEntriesByType("navigation")[0];
      return n ? { domContentLoaded: Math.round(n.domContentLoadedEventEnd), load: Math.round(n.loadEventEnd) } : {};
    });
    p.nav = nav;
    const z1 = await zoom(page, 0.495, 0.505);
    const z2 = await zoom(page, 0.495, 0.505);
    const z3 = await zoom(page, null, null);
    await context.close();
    ({ context, page } = await openPage(browser));
    await page.goto(plan.url, { waitUntil: "commit" });
    await paintTime(page);
    const z4 = await zoom(page, 0.99, 0.9999);
    await context.close();
    for (const [k, z] of [["zoom_1pct", z1], ["zoom_001pct", z2], ["zoom_whole", z3], ["zoom_last_1pct", z4]]) {
      out[k].push(z.ok ? z.ms : null);
    }
    out.detail.push({ paint: p, z1, z2, z3, z4 });
    const f = (z) => (z.ok ? `${z.ms.toFixed(0)} ms${z.loading ? "" : " (no refetch seen)"}` : `failed ${JSON.stringify(z)}`);
    log(`rep ${rep + 1}/${plan.reps}: paint ${p.ok ? p.ms.toFixed(0) + " ms" : "not drawn"}, zoom 1 % ${f(z1)}, 0.01 % ${f(z2)}, whole ${f(z3)}, last 1 % ${f(z4)}`);
  }
} finally {
  await browser.close();
}
writeFileSync(plan.results, JSON.stringify(out, null, 1));
