// The Markdown export: report.md with the markdown blocks as written, image blocks as files
// (images/<n>.<ext>), panels as PNG files (panels/<n>.png) or, for tables, markdown tables;
// zipped with fflate.

import { strToU8, zipSync } from "fflate";

/** The block fields the export reads (the report document's Block, loosely). */
export interface ExportBlock {
  id: string;
  type: string;
  text?: string;
  src?: string;
  alt?: string;
  caption?: string;
  title?: string;
  key?: string;
  y?: string[];
}

/** What the page gave for one block. */
export type BlockOutput =
  | { kind: "png"; bytes: Uint8Array }
  | { kind: "table"; rows: string[][] }
  | { kind: "image"; bytes: Uint8Array; ext: string }
  | { kind: "missing"; why: string };

/** A table cell safe in a markdown table row. */
function cell(s: string): string {
  return s.replace(/\\/g, "\\\\").replace(/\|/g, "\\|").replace(/\s*\n\s*/g, " ").trim();
}

/** Rows (the first is the header) as a GitHub-flavoured markdown table. */
export function markdownTable(rows: string[][]): string {
  if (rows.length === 0) return "";
  const width = Math.max(1, ...rows.map((r) => r.length));
  const line = (r: string[]) => `| ${Array.from({ length: width }, (_, i) => cell(r[i] ?? "")).join(" | ")} |`;
  const [head = [], ...body] = rows;
  return [line(head), `| ${Array.from({ length: width }, () => "---").join(" | ")} |`, ...body.map(line)].join("\n");
}

/** Alt text safe inside `![...]`. */
function alt(s: string): string {
  return s.replace(/[[\]\\]/g, (c) => `\\${c}`).replace(/\s+/g, " ").trim();
}

/** A panel's caption: its title, else what it shows. */
export function panelTitle(b: ExportBlock): string {
  if (b.title !== undefined && b.title !== "") return b.title;
  if (b.y !== undefined && b.y.length > 0) return b.y.join(", ");
  if (b.key !== undefined && b.key !== "") return `${b.type}: ${b.key}`;
  return b.type.replace("_", " ");
}

export interface MarkdownExport {
  markdown: string;
  files: Record<string, Uint8Array>;
}

export function assembleMarkdown(report: { title: string; description?: string; url?: string }, blocks: ExportBlock[], outputs: Map<string, BlockOutput>): MarkdownExport {
  const parts: string[] = [`# ${report.title.replace(/\s*\n\s*/g, " ")}`];
  if (report.description !== undefined && report.description.trim() !== "") parts.push(report.description.trim());
  const files: Record<string, Uint8Array> = {};
  let panels = 0;
  let images = 0;
  for (const b of blocks) {
    if (b.type === "markdown") {
      parts.push((b.text ?? "").trim());
      continue;
    }
    const out = outputs.get(b.id);
    if (b.type === "image") {
      const text = alt(b.alt ?? b.caption ?? "image");
      if (out?.kind === "image") {
        images++;
        const path = `images/${images}.${out.ext}`;
        files[path] = out.bytes;
        parts.push(`![${text}](${path})`);
      } else if (b.src !== undefined && /^https:\/\//.test(b.src)) {
        parts.push(`![${text}](<${b.src}>)`);
      } else {
        parts.push(`*(image not exported: ${out?.kind === "missing" ? out.why : "not available"})*`);
      }
      if (b.caption !== undefined && b.caption !== "") parts.push(`*${b.caption.replace(/\*/g, "\\*")}*`);
      continue;
    }
    const title = panelTitle(b);
    if (out?.kind === "png") {
      panels++;
      const path = `panels/${panels}.png`;
      files[path] = out.bytes;
      parts.push(`![${alt(title)}](${path})`);
    } else if (out?.kind === "table") {
      parts.push(`**${title.replace(/\*/g, "\\*")}**\n\n${markdownTable(out.rows)}`);
    } else {
      parts.push(`*(${alt(title)}: panel not exported: ${out?.kind === "missing" ? out.why : "not shown on the page"})*`);
    }
  }
  if (report.url !== undefined) parts.push(`---\n\nExported from fwtrack: <${report.url}>`);
  return { markdown: parts.filter((p) => p !== "").join("\n\n") + "\n", files };
}

/** report.md + its files as one zip. */
export function zipMarkdown(exp: MarkdownExport): Uint8Array {
  const entries: Record<string, Uint8Array> = { "report.md": strToU8(exp.markdown) };
  for (const [path, bytes] of Object.entries(exp.files)) entries[path] = bytes;
  return zipSync(entries, { level: 6 });
}
