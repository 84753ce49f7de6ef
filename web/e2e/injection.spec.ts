// No script injection through logged data: every string a user controls (run name, tags,
// notes, group, job type, config and summary keys and values, metric and histogram keys,
// console lines, table columns and cells, media keys and captions, html media, saved files,
// the workspace layout, and the address bar) carries markup, and every dashboard view that
// shows it renders it as text, on the server's dashboard and on `fwtrack ui`. The runs live on
// a server of this spec's own (so no other spec sees an extra project), logged through the
// Python API by `injection_fixtures.py`; the ui reads the runs' local copies.

import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Locator, Page } from "@playwright/test";

import { freePort, readState, runPython, startProcess, stopPid, waitHttp } from "./harness";
import { expect, test } from "./util";

const FIXTURES = join(import.meta.dirname, "injection_fixtures.py");
const ENTITY = "admin";
/** Passed on the fixture program's command line, which the run's overview shows. */
const ARGV_PAYLOADS = ["<script>window.__pwned=1</script>", "javascript:window.__pwned=1", '<img src=x onerror="window.__pwned=1">'];

/** What `injection_fixtures.py` logged (its `--out` file). */
interface Logged {
  project: string;
  /** run id -> run name */
  runs: Record<string, string>;
  /** [img onerror, script, javascript: URL, svg onload breaking out of an attribute] */
  payloads: [string, string, string, string];
  keys: { leaf: string; section: string; bare: string; hist: string };
  media: { image: string; html: string; table: string };
  table_columns: string[];
  files: string[];
}

let server = "";
/** A `fwtrack ui` over the runs' local copies (the fixture program logs online and locally). */
let ui = "";
const pids: number[] = [];
let logged: Logged;

test.beforeAll(async () => {
  test.setTimeout(180_000);
  const state = readState();
  const port = await freePort();
  const work = join(state.work, `injection-${port}`);
  mkdirSync(work, { recursive: true });
  server = `http://127.0.0.1:${port}`;
  const proc = startProcess(work, "injection-server", ["-m", "fwtrack", "server", "--port", String(port), "--data", join(work, "server-data")], {
    FWTRACK_SERVER_ADMIN_KEY: state.adminKey,
  });
  if (proc.pid !== undefined) pids.push(proc.pid);
  await waitHttp(`${server}/api/v1/health`, proc, join(work, "injection-server.log"));
  const out = join(work, "injection.json");
  await runPython(work, "injection-fixtures", [FIXTURES, "--url", server, "--key", state.adminKey, "--work", work, "--out", out, "--label", ...ARGV_PAYLOADS], {}, 150_000);
  logged = JSON.parse(readFileSync(out, "utf8")) as Logged;
  const uiPort = await freePort();
  ui = `http://127.0.0.1:${uiPort}`;
  const uiProc = startProcess(work, "injection-ui", ["-m", "fwtrack", "ui", "--dir", join(work, "injection-client"), "--port", String(uiPort)]);
  if (uiProc.pid !== undefined) pids.push(uiProc.pid);
  await waitHttp(`${ui}/api/v1/health`, uiProc, join(work, "injection-ui.log"));
});

test.afterAll(async () => {
  for (const pid of pids.reverse()) await stopPid(pid, 5000);
});

function url(hash: string, on: "server" | "ui" = "server"): string {
  return `${on === "server" ? server : ui}/#${hash}`;
}

function enc(s: string): string {
  return encodeURIComponent(s);
}

/** A CSS attribute selector matching `value` exactly (JSON string escapes are CSS escapes). */
function attr(name: string, value: string): string {
  return `[${name}=${JSON.stringify(value)}]`;
}

interface Watch {
  dialogs: string[];
  csp: string[];
  errors: string[];
}

/** Record dialogs (dismissed), script CSP violations and page errors of `page` from now on. */
async function watch(page: Page): Promise<Watch> {
  const w: Watch = { dialogs: [], csp: [], errors: [] };
  page.on("dialog", (d) => {
    w.dialogs.push(`${d.type()}: ${d.message()}`);
    void d.dismiss();
  });
  page.on("pageerror", (e) => {
    // The `admin` fixture's init script also runs in the sandboxed html frame, where it may
    // not touch localStorage: that frame is meant to have no access, so this error is fine.
    if (/sandboxed and lacks the 'allow-same-origin' flag/.test(e.message)) return;
    w.errors.push(e.message);
  });
  await page.exposeFunction("reportInjectionCsp", (text: string) => {
    w.csp.push(text);
  });
  await page.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (e) => {
      if (!e.effectiveDirective.startsWith("script")) return;
      const report = (window as unknown as { reportInjectionCsp: (t: string) => Promise<void> }).reportInjectionCsp;
      void report(`${e.effectiveDirective} blocked ${e.blockedURI} (${e.sample})`);
    });
  });
  return w;
}

/**
 * Nothing of a payload became markup: no handler attributes, no `javascript:` URLs, no
 * `<img src=x>`, no inline script, every iframe sandboxed without scripts; nothing ran.
 */
async function expectInert(page: Page, w: Watch, what: string): Promise<void> {
  const found = await page.evaluate(() => {
    const bad: string[] = [];
    const show = (el: Element): string => el.outerHTML.slice(0, 160);
    for (const el of Array.from(document.querySelectorAll("*"))) {
      const tag = el.tagName.toLowerCase();
      for (const a of Array.from(el.attributes)) {
        const name = a.name.toLowerCase();
        if (name.startsWith("on")) bad.push(`handler attribute ${name}: ${show(el)}`);
        if (["href", "src", "action", "formaction", "xlink:href", "data", "srcdoc"].includes(name) && /^\s*javascript:/i.test(a.value)) {
          bad.push(`javascript: URL in ${name}: ${show(el)}`);
        }
      }
      if (tag === "img" && el.getAttribute("src") === "x") bad.push(`payload image: ${show(el)}`);
      if (tag === "script" && !el.hasAttribute("src")) bad.push(`inline script: ${show(el)}`);
      if (tag === "iframe" && el.getAttribute("sandbox") !== "") bad.push(`iframe not fully sandboxed: ${show(el)}`);
      if (tag === "object" || tag === "embed") bad.push(`plugin element: ${show(el)}`);
    }
    return { bad, pwned: (window as unknown as { __pwned?: unknown }).__pwned !== undefined };
  });
  expect(found.bad, `markup from a payload on ${what}`).toEqual([]);
  expect(found.pwned, `a payload ran on ${what}`).toBe(false);
  expect(w.dialogs, `dialogs on ${what}`).toEqual([]);
  expect(w.csp, `blocked scripts on ${what}`).toEqual([]);
  expect(w.errors, `page errors on ${what}`).toEqual([]);
}

/** A chart panel scrolled into view (only panels in view fetch), once it has drawn its data. */
async function expectDrawn(panel: Locator): Promise<void> {
  await panel.scrollIntoViewIfNeeded();
  await expect(panel).toHaveAttribute("data-state", "ready");
}

/** `locator` shows `text` literally (as text, not markup). */
async function expectLiteral(locator: Locator, text: string): Promise<void> {
  await expect(locator).toContainText(text);
}

test("the projects page and the workspace show payloads as text", async ({ admin: page }) => {
  const w = await watch(page);
  const [img, script, js, svg] = logged.payloads;
  await page.goto(url("/"));
  await expect(page.locator(`[data-testid="project-row"]${attr("data-project", `${ENTITY}/${logged.project}`)}`)).toContainText("2");
  await expectInert(page, w, "the projects page");

  // the runs table: names, tags, and config and summary columns holding payloads
  // (a column id is a `.`-path: `nested.homepage` reaches into the nested dict)
  const cols = [`config.${img}`, "config.link", "config.nested.homepage", `summary.${script}`, "summary.homepage"];
  await page.goto(url(`/p/${ENTITY}/${logged.project}?cols=${enc(cols.join(","))}`));
  const rows = page.getByTestId("run-row");
  await expect(rows).toHaveCount(2);
  const runA = page.locator(`[data-testid="run-row"]${attr("data-run-id", "inj-a")}`);
  await expect(runA.getByTestId("run-name")).toHaveText(logged.runs["inj-a"] ?? "");
  await expect(page.locator(`[data-testid="run-row"]${attr("data-run-id", "inj-b")}`).getByTestId("run-name")).toHaveText(logged.runs["inj-b"] ?? "");
  for (const p of logged.payloads) await expect(runA.getByTestId("tag").filter({ hasText: p })).toHaveCount(1);
  await expectLiteral(runA.locator(`td${attr("data-field", `config.${img}`)}`), script);
  await expectLiteral(runA.locator(`td${attr("data-field", "config.link")}`), js);
  await expectLiteral(runA.locator(`td${attr("data-field", "config.nested.homepage")}`), js);
  await expectLiteral(runA.locator(`td${attr("data-field", `summary.${script}`)}`), img);
  await expectLiteral(runA.locator(`td${attr("data-field", "summary.homepage")}`), js);
  await expectLiteral(page.getByTestId("runs-table").locator("thead"), img);

  // the column picker lists the payload keys
  await page.getByTestId("column-picker-button").click();
  await expect(page.getByTestId("column-picker")).toBeVisible();
  await expect(page.locator(`[data-testid="column-option"]${attr("data-field", `summary.${script}`)}`)).toContainText(script);
  await expectInert(page, w, "the workspace's column picker");
  await page.keyboard.press("Escape");

  // charts: sections and panel titles from payload keys, the saved panel "leaf vs bare"
  for (const key of [logged.keys.leaf, logged.keys.section, logged.keys.bare]) {
    const panel = page.locator(`[data-testid="chart-panel"]${attr("data-key", key)}`).first();
    await expectDrawn(panel);
    await expectLiteral(panel.locator(".chart-title"), key);
  }
  const added = page.locator(`[data-testid="chart-panel"]${attr("data-panel-id", "payload-panel")}`);
  await expect(added.locator(".chart-title")).toContainText(`${logged.keys.leaf} vs ${logged.keys.bare}`);
  await expect(page.locator(`[data-testid="section"]${attr("data-section", svg)}`)).toContainText(svg);

  // the hover readout names the runs
  const leaf = page.locator(`[data-testid="chart-panel"]${attr("data-key", logged.keys.leaf)}`).first();
  await leaf.locator(".u-over").hover();
  await expect(leaf.locator(".chart-tip")).toBeVisible();
  await expectLiteral(leaf.locator(".chart-tip"), logged.runs["inj-a"] ?? "");
  await expectInert(page, w, "the workspace with charts and their hover readout");

  // search and filter with payloads echo them as text
  await page.getByTestId("runs-search").fill(img);
  await expect(rows).toHaveCount(1);
  await page.getByTestId("runs-search").fill("");
  await expect(rows).toHaveCount(2);
  await page.getByTestId("runs-filter").fill(svg);
  await page.getByTestId("runs-filter").press("Enter");
  await expect(page.getByTestId("filter-error")).toBeVisible();
  await expectInert(page, w, "the workspace after searching and filtering with payloads");
});

test("the run page's overview, config, summary, charts and histograms show payloads as text", async ({ admin: page }) => {
  const w = await watch(page);
  const [img, script, js, svg] = logged.payloads;
  const base = `/p/${ENTITY}/${logged.project}/r/inj-a`;
  await page.goto(url(base));
  await expect(page.getByTestId("run-overview")).toBeVisible();
  await expect(page.getByTestId("run-title-value")).toHaveText(logged.runs["inj-a"] ?? "");
  for (const p of logged.payloads) await expect(page.getByTestId("tag-editor").getByTestId("tag").filter({ hasText: p })).toHaveCount(1);
  await expect(page.getByTestId("run-notes-value")).toHaveText(`notes ${script} ${img} ${js} ${svg}`);
  const overview = page.getByTestId("run-overview");
  await expect(overview.locator(".field-row").filter({ hasText: "Group" }).locator("dd")).toHaveText(svg);
  await expect(overview.locator(".field-row").filter({ hasText: "Job type" }).locator("dd")).toHaveText(js);
  // arguments with spaces or quotes are shown JSON-quoted
  const command = overview.locator(".field-row").filter({ hasText: "Command" }).locator("dd");
  for (const arg of ARGV_PAYLOADS) await expectLiteral(command, /[\s"]/.test(arg) ? JSON.stringify(arg) : arg);
  await expectInert(page, w, "the run overview");

  await page.getByTestId("tab-config").click();
  const config = page.getByTestId("config-table");
  await expect(config.locator(`[data-testid="kv-row"]${attr("data-key", img)}`)).toContainText(script);
  await expect(config.locator(`[data-testid="kv-row"]${attr("data-key", "link")}`)).toContainText(js);
  await expect(config.locator('[data-testid="kv-row"]').filter({ hasText: svg })).toContainText(img);
  await config.getByRole("searchbox").fill(img);
  await expect(config.locator('[data-testid="kv-row"]').first()).toBeVisible();
  await expectInert(page, w, "the run's config tab");

  await page.getByTestId("tab-summary").click();
  const summary = page.getByTestId("summary-table");
  await expect(summary.locator(`[data-testid="kv-row"]${attr("data-key", script)}`)).toContainText(img);
  await expect(summary.locator(`[data-testid="kv-row"]${attr("data-key", "homepage")}`)).toContainText(js);
  await expect(summary.locator('[data-testid="kv-row"]').filter({ hasText: logged.keys.leaf })).toHaveCount(1);
  await expectInert(page, w, "the run's summary tab");

  await page.getByTestId("tab-charts").click();
  const bare = page.locator(`[data-testid="chart-panel"]${attr("data-key", logged.keys.bare)}`).first();
  await expectDrawn(bare);
  await expectLiteral(bare.locator(".chart-title"), script);
  await bare.locator(".u-over").hover();
  await expectLiteral(bare.locator(".chart-tip"), logged.runs["inj-a"] ?? "");
  // the options menu lists the payload keys as x axes
  await bare.getByRole("button", { name: `Options of ${logged.keys.bare}` }).click();
  await expect(bare.locator(".chart-menu select option").filter({ hasText: logged.keys.leaf })).toHaveCount(1);
  await expectInert(page, w, "the run's charts tab");

  await page.getByTestId("tab-histograms").click();
  const keys = page.getByTestId("histogram-keys");
  await expect(keys.getByRole("button", { name: logged.keys.hist })).toBeVisible();
  await expect(page.getByTestId("histogram-view")).toHaveAttribute("data-key", logged.keys.hist);
  await expectInert(page, w, "the run's histograms tab");
});

test("the run page's logs, files and media show payloads as text", async ({ admin: page }) => {
  const w = await watch(page);
  const [img, script, js, svg] = logged.payloads;
  const base = `/p/${ENTITY}/${logged.project}/r/inj-a`;

  // console lines, stdout and stderr, and a search for one of them
  await page.goto(url(`${base}?tab=logs`));
  const lines = page.getByTestId("log-line");
  for (const p of logged.payloads) {
    await expect(lines.filter({ hasText: `stdout ${p}` })).toHaveCount(1);
    await expect(lines.filter({ hasText: `stderr ${p}` })).toHaveCount(1);
  }
  await page.getByTestId("logs-search").fill(img);
  await page.getByTestId("logs-search").press("Enter");
  await expect(lines).toHaveCount(2);
  await expectInert(page, w, "the run's logs tab");

  // saved files: text, html (shown as text), json, diff
  await page.getByTestId("tab-files").click();
  for (const name of logged.files) {
    const row = page.locator(`[data-testid="file-row"]${attr("data-path", name)}`);
    await row.getByTestId("file-open").click();
    const text = page.locator(`[data-testid="file-preview"]${attr("data-path", name)}`).getByTestId("file-text");
    await expect(text).toBeVisible();
    // (JSON is shown indented, its quotes escaped)
    for (const p of name.endsWith(".json") ? [script, js] : logged.payloads) await expectLiteral(text, p);
    await expectInert(page, w, `the files tab previewing ${name}`);
  }

  // media: payload keys and captions, html in a frame that runs nothing, a table of payloads
  await page.getByTestId("tab-media").click();
  const image = page.locator(`[data-testid="media-panel"]${attr("data-key", logged.media.image)}`);
  await expectLiteral(image, logged.media.image);
  await expect(image.getByTestId("media-caption")).toHaveText(img);
  await expect.poll(() => image.getByTestId("media-image").evaluate((e) => (e as HTMLImageElement).naturalWidth)).toBeGreaterThan(0);
  await expect(image.getByTestId("media-image")).toHaveAttribute("alt", img);
  const html = page.locator(`[data-testid="media-panel"]${attr("data-key", logged.media.html)}`).getByTestId("media-html");
  await expect(html).toHaveAttribute("data-loaded", "true");
  await expect(page.frameLocator(`[data-testid="media-panel"]${attr("data-key", logged.media.html)} [data-testid="media-html"]`).locator("h1")).toContainText("report");
  const table = page.locator(`[data-testid="media-panel"]${attr("data-key", logged.media.table)}`);
  await expectLiteral(table, logged.media.table);
  await expectInert(page, w, "the run's media tab");

  await table.getByTestId("media-table-open").click();
  const viewer = page.getByTestId("table-viewer");
  await expect(viewer.getByTestId("table-row")).toHaveCount(2);
  for (const c of logged.table_columns) await expect(viewer.locator(`[data-testid="table-header"]${attr("data-column", c)}`)).toContainText(c);
  const first = viewer.getByTestId("table-row").first();
  await expect(first.locator(`td${attr("data-column", img)}`)).toHaveText(script);
  await expect(first.locator(`td${attr("data-column", svg)}`)).toHaveText(img);
  await expect(first.locator(`td${attr("data-column", "link")}`)).toHaveText(js);
  await viewer.getByTestId("table-filter").fill(svg);
  await viewer.getByTestId("table-filter").press("Enter");
  await expect(viewer.getByTestId("table-row")).toHaveCount(1);
  await viewer.locator(`[data-testid="table-header"]${attr("data-column", img)}`).getByRole("button").click();
  await expectInert(page, w, "the table viewer");
});

test("the compare view shows payloads as text", async ({ admin: page }) => {
  const w = await watch(page);
  const [img, script, js] = logged.payloads;
  await page.goto(url(`/p/${ENTITY}/${logged.project}/compare?runs=inj-a,inj-b`));
  const runs = page.getByTestId("compare-run");
  await expect(runs).toHaveCount(2);
  await expectLiteral(runs.first(), logged.runs["inj-a"] ?? "");
  await expectLiteral(runs.nth(1), logged.runs["inj-b"] ?? "");
  await expect(page.getByTestId("compare-config").locator(`[data-testid="compare-row"]${attr("data-key", img)}`)).toContainText(script);
  await expect(page.getByTestId("compare-config").locator(`[data-testid="compare-row"]${attr("data-key", "link")}`)).toContainText(js);
  await expect(page.getByTestId("compare-summary").locator(`[data-testid="compare-row"]${attr("data-key", script)}`)).toContainText(img);
  const leaf = page.locator(`[data-testid="chart-panel"]${attr("data-key", logged.keys.leaf)}`).first();
  await expectDrawn(leaf);
  await leaf.locator(".u-over").hover();
  await expectLiteral(leaf.locator(".chart-tip"), logged.runs["inj-b"] ?? "");
  await expectInert(page, w, "the compare view");
});

test("payloads in the address bar are shown as text", async ({ admin: page }) => {
  const w = await watch(page);
  const [img, , , svg] = logged.payloads;
  // an unknown page names its path
  // (the browser keeps the hash percent-encoded, and so does the page)
  await page.goto(url(`/${enc(img)}`));
  await expectLiteral(page.locator("#main"), enc(img));
  await expectInert(page, w, "the not-found page");
  // a run and a project that cannot exist
  await page.goto(url(`/p/${ENTITY}/${logged.project}/r/${enc(svg)}`));
  await expect(page.getByTestId("error").first()).toBeVisible();
  await expectLiteral(page.getByTestId("breadcrumbs"), svg);
  await expectInert(page, w, "the page of a run that cannot exist");
  await page.goto(url(`/p/${ENTITY}/${enc(img)}`));
  await expectLiteral(page.getByTestId("breadcrumbs"), img);
  await expectInert(page, w, "the workspace of a project that cannot exist");
  // compare with a run id that cannot exist, and a payload search in the URL
  await page.goto(url(`/p/${ENTITY}/${logged.project}/compare?runs=inj-a,${enc(img)}`));
  await expect(page.getByTestId("compare-page")).toBeVisible();
  await page.waitForTimeout(500);
  await expectInert(page, w, "the compare view with a payload run id");
  await page.goto(url(`/p/${ENTITY}/${logged.project}?q=${enc(svg)}&filter=${enc(img)}`));
  await expect(page.getByTestId("workspace")).toBeVisible();
  await expect(page.getByTestId("runs-search")).toHaveValue(svg);
  await expectInert(page, w, "the workspace with payloads in its URL");
});

test("the local dashboard (fwtrack ui) shows the same payloads as text", async ({ page }) => {
  const w = await watch(page);
  const [img, script, js] = logged.payloads;
  await page.goto(url(`/p/local/${logged.project}`, "ui"));
  const runA = page.locator(`[data-testid="run-row"]${attr("data-run-id", "inj-a")}`);
  await expect(runA.getByTestId("run-name")).toHaveText(logged.runs["inj-a"] ?? "");
  for (const p of logged.payloads) await expect(runA.getByTestId("tag").filter({ hasText: p })).toHaveCount(1);
  await expectDrawn(page.locator(`[data-testid="chart-panel"]${attr("data-key", logged.keys.leaf)}`).first());
  await expectInert(page, w, "the local workspace");

  const base = `/p/local/${logged.project}/r/inj-a`;
  await page.goto(url(base, "ui"));
  await expect(page.getByTestId("run-title-value")).toHaveText(logged.runs["inj-a"] ?? "");
  await expect(page.getByTestId("run-notes-value")).toContainText(script);
  await page.getByTestId("tab-config").click();
  await expect(page.getByTestId("config-table").locator(`[data-testid="kv-row"]${attr("data-key", "link")}`)).toContainText(js);
  await page.getByTestId("tab-logs").click();
  await expect(page.getByTestId("log-line").filter({ hasText: `stderr ${img}` })).toHaveCount(1);
  await expectInert(page, w, "the local run's overview, config and logs");

  await page.goto(url(`${base}?tab=files&file=payload.html`, "ui"));
  await expectLiteral(page.locator(`[data-testid="file-preview"]${attr("data-path", "payload.html")}`).getByTestId("file-text"), script);
  await expectInert(page, w, "the local run's files tab");
  await page.goto(url(`${base}?tab=media`, "ui"));
  const image = page.locator(`[data-testid="media-panel"]${attr("data-key", logged.media.image)}`);
  await expect(image.getByTestId("media-caption")).toHaveText(img);
  await expect(page.locator(`[data-testid="media-panel"]${attr("data-key", logged.media.html)}`).getByTestId("media-html")).toHaveAttribute("data-loaded", "true");
  await page.locator(`[data-testid="media-panel"]${attr("data-key", logged.media.table)}`).getByTestId("media-table-open").click();
  await expect(page.getByTestId("table-viewer").getByTestId("table-row")).toHaveCount(2);
  await expectInert(page, w, "the local run's media tab and table viewer");
});
