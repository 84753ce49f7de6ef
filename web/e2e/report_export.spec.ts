// Report export, against a real server of this spec's own seeded by `report_export_fixtures.py`
// (three runs logged online, a report made through the reports API: markdown with math, a line
// panel, a runs table and a scalar panel). "Export HTML" downloads one file, opened from disk in
// a fresh browser context whose every network request is refused: its charts are drawn (colored
// pixels on the canvases), the values in the DOM are the seeded ones, KaTeX rendered the math
// with its fonts. "Export Markdown" downloads a zip: report.md keeps the markdown, references
// panels/<n>.png that decode as images, and holds the runs table as a markdown table.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { strFromU8, unzipSync } from "fflate";
import type { Locator, Page } from "@playwright/test";

import { seededServer } from "./harness";
import { expect, test } from "./util";

const FIXTURES = join(import.meta.dirname, "report_export_fixtures.py");

interface Seeded {
  entity: string;
  project: string;
  report: string;
  title: string;
  runs: Record<string, { lr: number; loss: number; acc: number }>;
  best_acc: number;
}

const backend = seededServer<Seeded>("report-export", FIXTURES, { seedTimeoutMs: 120_000, clientDir: "client" });
let server = "";
let adminKey = "";
let work = "";
let seeded: Seeded;

test.describe.configure({ mode: "serial" });

test.beforeAll(async () => {
  test.setTimeout(180_000);
  ({ url: server, adminKey, work, seeded } = await backend.start());
});

test.afterAll(async () => {
  await backend.stop();
});

async function openReport(page: Page): Promise<void> {
  await page.addInitScript((key: string) => {
    window.localStorage.setItem("fwtrack.apiKey", key);
  }, adminKey);
  await page.goto(`${server}/#/p/${seeded.entity}/${seeded.project}/reports/${seeded.report}`);
  await expect(page.getByTestId("report-title")).toHaveText(seeded.title);
  await expect(page.getByTestId("report-panel")).toHaveCount(3);
}

function panel(page: Page, type: string): Locator {
  return page.locator(`[data-testid="report-panel"][data-panel-type="${type}"]`);
}

/** Pixels of the panel's canvases in a saturated color (series lines; axes and grid are gray). */
async function coloredPixels(p: Locator): Promise<number> {
  return p.evaluate((el) => {
    let n = 0;
    for (const c of Array.from(el.querySelectorAll("canvas"))) {
      const ctx = c.getContext("2d");
      if (ctx === null || c.width === 0 || c.height === 0) continue;
      const d = ctx.getImageData(0, 0, c.width, c.height).data;
      for (let i = 0; i < d.length; i += 4) {
        const [r, g, b, a] = [d[i] ?? 0, d[i + 1] ?? 0, d[i + 2] ?? 0, d[i + 3] ?? 0];
        if (a > 0 && Math.max(r, g, b) - Math.min(r, g, b) > 60) n++;
      }
    }
    return n;
  });
}

function expectedLast(): Record<string, Record<string, number>> {
  return Object.fromEntries(Object.entries(seeded.runs).map(([id, r]) => [id, { loss: r.loss }]));
}

test("Export HTML: one file that opens from disk with the network refused, charts drawn", async ({ page, browser }) => {
  test.setTimeout(150_000);
  await openReport(page);
  const [download] = await Promise.all([page.waitForEvent("download", { timeout: 90_000 }), page.getByTestId("export-html").click()]);
  expect(download.suggestedFilename()).toBe("Export study_ lr _script_ & math.html");
  const file = join(work, "export.html");
  await download.saveAs(file);
  const html = readFileSync(file, "utf8");
  expect(html).not.toMatch(/<script[^>]*\ssrc=|<link[^>]*\shref=/i);

  const offline = await browser.newContext();
  const refused: string[] = [];
  await offline.route("**/*", (r) => {
    const url = r.request().url();
    if (url.startsWith("file:")) return r.continue();
    refused.push(url);
    return r.abort();
  });
  const view = await offline.newPage();
  const errors: string[] = [];
  view.on("pageerror", (e) => errors.push(e.message));
  await view.goto(pathToFileURL(file).href);

  await expect(view.getByTestId("report-title")).toHaveText(seeded.title);
  await expect(view.getByTestId("static-report-bar")).toContainText(`${seeded.entity}/${seeded.project}`);
  // read-only: no editing, no export menu
  await expect(view.getByTestId("edit-toggle")).toHaveCount(0);
  await expect(view.getByTestId("report-export")).toHaveCount(0);

  // math drawn by KaTeX, with its (embedded) fonts
  const intro = view.locator('[data-block-id="intro"]');
  await expect(intro.locator("h2")).toHaveText("Learning rates");
  await expect(intro.locator(".katex")).toHaveCount(2);
  await expect(intro.locator(".katex-display")).toHaveCount(1);
  await expect(intro.locator(".katex-html .mfrac")).toHaveCount(2);
  await expect(intro.locator(".katex-display .katex-html")).toContainText("σ(z)");
  expect(await view.evaluate(async () => {
    await document.fonts.ready;
    return document.fonts.check("16px KaTeX_Main");
  })).toBe(true);

  // the line chart: the seeded last values, lines drawn
  const line = panel(view, "line");
  await line.scrollIntoViewIfNeeded();
  await expect(line).toHaveAttribute("data-state", "ready");
  expect((await line.getAttribute("data-runs"))?.split(",").sort()).toEqual(Object.keys(seeded.runs).sort());
  await expect.poll(async () => JSON.parse((await line.getAttribute("data-last")) ?? "{}") as unknown).toEqual(expectedLast());
  await expect.poll(() => coloredPixels(line)).toBeGreaterThan(50);

  // the runs table and the scalar panel
  const table = panel(view, "runs_table");
  await table.scrollIntoViewIfNeeded();
  await expect(table).toHaveAttribute("data-state", "ready");
  for (const [id, r] of Object.entries(seeded.runs)) {
    await expect(table.locator("tr", { hasText: id })).toContainText(String(r.lr));
  }
  const scalar = panel(view, "scalar");
  await scalar.scrollIntoViewIfNeeded();
  await expect(scalar.getByTestId("scalar-number")).toHaveAttribute("data-value", String(seeded.best_acc));

  await expect(view.getByTestId("panel-error")).toHaveCount(0);
  expect(refused).toEqual([]);
  expect(errors).toEqual([]);
  await view.screenshot({ path: test.info().outputPath("exported.png"), fullPage: true });
  await offline.close();
});

test("Export Markdown: report.md with the panels as PNG files, zipped", async ({ page }) => {
  test.setTimeout(120_000);
  await openReport(page);
  await expect(panel(page, "line")).toHaveAttribute("data-state", "ready");
  const [download] = await Promise.all([page.waitForEvent("download", { timeout: 90_000 }), page.getByTestId("export-markdown").click()]);
  expect(download.suggestedFilename()).toBe("Export study_ lr _script_ & math.zip");
  const file = join(work, "export.zip");
  await download.saveAs(file);
  const files = unzipSync(new Uint8Array(readFileSync(file)));
  const mdBytes = files["report.md"];
  if (mdBytes === undefined) throw new Error(`no report.md in the zip: ${Object.keys(files).join(", ")}`);
  const md = strFromU8(mdBytes);
  expect(md.startsWith(`# ${seeded.title}\n`)).toBe(true);
  expect(md).toContain("## Learning rates\n\nThe loss we minimize is $L = \\frac{1}{n} \\sum_{i=1}^{n} \\ell_i$, and");
  expect(md).toContain("$$\\sigma(z) = \\frac{1}{1 + e^{-z}}$$");
  expect(md).toContain("| Name | State | Tags | Created | Duration | config.lr | summary.acc |");
  for (const [id, r] of Object.entries(seeded.runs)) expect(md).toMatch(new RegExp(`\\| ${id} \\| Finished \\|.*\\| ${String(r.lr).replace(".", "\\.")} \\| ${String(r.acc).replace(".", "\\.")} \\|`));

  const refs = Array.from(md.matchAll(/!\[([^\]]*)\]\((panels\/\d+\.png)\)/g), (m) => ({ alt: m[1] ?? "", path: m[2] ?? "" }));
  expect(refs.map((r) => r.alt)).toEqual(["Loss", "Best accuracy"]);
  expect(Object.keys(files).filter((n) => n.startsWith("panels/")).sort()).toEqual(refs.map((r) => r.path).sort());
  for (const ref of refs) {
    const bytes = files[ref.path];
    if (bytes === undefined) throw new Error(`${ref.path} is referenced but not in the zip`);
    expect(Array.from(bytes.subarray(0, 8))).toEqual([137, 80, 78, 71, 13, 10, 26, 10]);
    // decoded by the browser: its size, and for the chart, the colored pixels of its lines
    const decoded = await page.evaluate(async (b64: string) => {
      const raw = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      const bmp = await createImageBitmap(new Blob([raw], { type: "image/png" }));
      const c = new OffscreenCanvas(bmp.width, bmp.height);
      const ctx = c.getContext("2d");
      if (ctx === null) throw new Error("no 2d context");
      ctx.drawImage(bmp, 0, 0);
      const d = ctx.getImageData(0, 0, bmp.width, bmp.height).data;
      let colored = 0;
      let ink = 0;
      for (let i = 0; i < d.length; i += 4) {
        const [r, g, b] = [d[i] ?? 0, d[i + 1] ?? 0, d[i + 2] ?? 0];
        if (Math.max(r, g, b) - Math.min(r, g, b) > 60) colored++;
        if (r + g + b < 600) ink++;
      }
      return { width: bmp.width, height: bmp.height, colored, ink };
    }, Buffer.from(bytes).toString("base64"));
    expect(decoded.width).toBeGreaterThan(0);
    expect(decoded.height).toBeGreaterThan(0);
    expect(decoded.ink).toBeGreaterThan(0);
    if (ref.alt === "Loss") expect(decoded.colored).toBeGreaterThan(50);
  }
});
