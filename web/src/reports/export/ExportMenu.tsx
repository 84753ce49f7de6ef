// The report page's "Export" menu: a self-contained static HTML file (charts drawn, data
// embedded, opens offline from disk), or Markdown with PNG images of the panels (a zip).
//
// HTML: the report is rendered once more, out of sight, with every API answer recorded
// (api/client.ts setRecorder) while it is scrolled through until no request is pending; the
// answers are embedded with the static page's script and css (static-report.js/.css of the
// dashboard's build) into one file, whose page answers every request from them.
// Markdown: the report document's blocks in order, each panel drawn from the page as shown.

import { render } from "preact";
import { useState } from "preact/hooks";

import { isReplaying, pendingRequests, request, requestBlob, setRecorder } from "../../api/client";
import { ReportPage } from "../../pages/report/ReportPage";
import { panelPng, tableRows } from "./draw";
import { assembleHtml, fileName } from "./html";
import { assembleMarkdown, zipMarkdown, type BlockOutput, type ExportBlock } from "./markdown";
import { recorderInto, type Answers } from "./record";

export interface ExportTarget {
  entity: string;
  project: string;
  reportId: string;
  title: string;
  root: () => HTMLElement | null;
}

const TICK_MS = 100;
/** Consecutive quiet ticks (no request pending, no panel busy) that count as loaded. */
const QUIET_TICKS = 6;
const SETTLE_LIMIT_MS = 90_000;

const sleep = (ms: number) =>
  new Promise<void>((ok) => {
    setTimeout(ok, ms);
  });

function busy(scope: ParentNode): boolean {
  return scope.querySelector('[aria-busy="true"], [data-loading="true"], [data-state="loading"]') !== null;
}

/** Wait until no request is pending and no panel in `scope` says it is loading, for a while. */
export async function settle(scope: ParentNode, limitMs = SETTLE_LIMIT_MS): Promise<void> {
  const deadline = Date.now() + limitMs;
  let quiet = 0;
  while (quiet < QUIET_TICKS) {
    if (Date.now() > deadline) {
      throw new Error("the report's panels did not finish loading; hint: check that the server answers, then export again");
    }
    await sleep(TICK_MS);
    quiet = pendingRequests() === 0 && !busy(scope) ? quiet + 1 : 0;
  }
}

function download(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  a.style.display = "none";
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => {
    URL.revokeObjectURL(url);
  }, 60_000);
}

/** One file of the static page's build, next to the dashboard's own files. */
async function staticAsset(name: string): Promise<string> {
  const url = new URL(name, document.baseURI);
  let resp: Response;
  try {
    resp = await fetch(url, { cache: "no-cache" });
  } catch {
    throw new Error(`cannot fetch ${name} from the server; hint: check that the server is running`);
  }
  if (!resp.ok) throw new Error(`the dashboard's build has no ${name} (${resp.status}); hint: rebuild the dashboard with \`make web\``);
  return resp.text();
}

/** Render the report out of sight with every API answer recorded, scrolled through until loaded. */
export async function recordReport(t: ExportTarget): Promise<Answers> {
  const answers: Answers = {};
  const box = document.createElement("div");
  box.setAttribute("aria-hidden", "true");
  box.inert = true;
  box.dataset.testid = "report-export-render";
  const width = t.root()?.getBoundingClientRect().width ?? 0;
  box.style.cssText = `position:fixed;left:0;top:0;height:100vh;width:${width > 0 ? `${Math.round(width)}px` : "100vw"};overflow:auto;opacity:0;pointer-events:none;z-index:-1`;
  document.body.append(box);
  setRecorder(recorderInto(answers));
  try {
    render(<ReportPage entity={t.entity} project={t.project} reportId={t.reportId} params={{}} viewer={null} />, box);
    await settle(box);
    // panels fetch once seen: scroll through so each one loads
    for (;;) {
      if (box.scrollTop + box.clientHeight >= box.scrollHeight - 1) break;
      box.scrollTop += Math.max(100, box.clientHeight - 50);
      await settle(box);
    }
  } finally {
    setRecorder(null);
    render(null, box);
    box.remove();
  }
  return answers;
}

export async function exportHtml(t: ExportTarget): Promise<void> {
  const [answers, js, css] = await Promise.all([recordReport(t), staticAsset("static-report.js"), staticAsset("static-report.css")]);
  const html = assembleHtml({
    title: t.title,
    css,
    js,
    data: { format: 1, entity: t.entity, project: t.project, reportId: t.reportId, title: t.title, exported_at: Date.now() / 1000, answers },
  });
  download(new Blob([html], { type: "text/html" }), fileName(t.title, "html"));
}

interface ReportDoc {
  title: string;
  description?: string;
  url?: string;
  blocks: ExportBlock[];
}

const IMAGE_EXT: Record<string, string> = { "image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "image/webp": "webp" };

function blockElement(root: HTMLElement | null, id: string): HTMLElement | null {
  if (root === null) return null;
  return root.querySelector<HTMLElement>(`[data-block-id="${CSS.escape(id)}"]`);
}

async function blockOutput(t: ExportTarget, b: ExportBlock): Promise<BlockOutput> {
  if (b.type === "image") {
    const src = b.src ?? "";
    if (!src.startsWith("asset:")) return { kind: "missing", why: "not an uploaded image" };
    const blob = await requestBlob(`/reports/${enc(t.entity)}/${enc(t.project)}/${enc(t.reportId)}/assets/${enc(src.slice("asset:".length))}`);
    const type = blob.type.split(";")[0] ?? "";
    return { kind: "image", bytes: new Uint8Array(await blob.arrayBuffer()), ext: IMAGE_EXT[type] ?? "bin" };
  }
  const block = blockElement(t.root(), b.id);
  if (block === null) return { kind: "missing", why: "not shown on the page" };
  const el = block.querySelector<HTMLElement>('[data-testid="report-panel"]') ?? block;
  el.scrollIntoView({ block: "center" });
  await settle(el);
  if (b.type === "runs_table" || b.type === "compare") {
    const rows = tableRows(el);
    if (rows !== null && rows.length > 0) return { kind: "table", rows };
  }
  return { kind: "png", bytes: await panelPng(el) };
}

const enc = encodeURIComponent;

export async function exportMarkdown(t: ExportTarget): Promise<void> {
  const doc = await request<ReportDoc>(`/reports/${enc(t.entity)}/${enc(t.project)}/${enc(t.reportId)}`);
  const outputs = new Map<string, BlockOutput>();
  for (const b of doc.blocks) {
    if (b.type === "markdown") continue;
    try {
      outputs.set(b.id, await blockOutput(t, b));
    } catch (err) {
      outputs.set(b.id, { kind: "missing", why: err instanceof Error ? err.message : String(err) });
    }
  }
  const md = assembleMarkdown(doc, doc.blocks, outputs);
  const zip = zipMarkdown(md);
  download(new Blob([zip.slice().buffer], { type: "application/zip" }), fileName(t.title, "zip"));
}

export function ExportMenu(props: ExportTarget) {
  const [working, setWorking] = useState<"html" | "markdown" | null>(null);
  const [error, setError] = useState<string | null>(null);
  if (isReplaying()) return null; // the exported page itself

  const run = (kind: "html" | "markdown") => {
    setWorking(kind);
    setError(null);
    const job = kind === "html" ? exportHtml(props) : exportMarkdown(props);
    job.then(
      () => {
        setWorking(null);
      },
      (err: unknown) => {
        setWorking(null);
        setError(`Export failed: ${err instanceof Error ? err.message : String(err)}`);
      },
    );
  };

  return (
    <span class="report-export" data-testid="report-export">
      <button type="button" class="btn btn-small" data-testid="export-html" disabled={working !== null} onClick={() => {
        run("html");
      }} title="A single HTML file with the charts and their data: it opens offline from disk">
        {working === "html" ? "Exporting…" : "Export HTML"}
      </button>
      <button type="button" class="btn btn-small" data-testid="export-markdown" disabled={working !== null} onClick={() => {
        run("markdown");
      }} title="A zip of report.md with the panels as PNG images">
        {working === "markdown" ? "Exporting…" : "Export Markdown"}
      </button>
      {working !== null && <span class="muted" role="status">Exporting…</span>}
      {error !== null && (
        <span class="error" role="alert" data-testid="export-error">
          {error}
        </span>
      )}
    </span>
  );
}
