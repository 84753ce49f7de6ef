// The exported report file: one HTML document holding the static page's css and script inline
// and the recorded API answers as JSON. Nothing in it loads from anywhere (it opens from disk).

import type { ExportData } from "./record";

export const DATA_ID = "fwtrack-report-data";

/** JSON safe inside `<script type="application/json">`: no `<` (so no `</script>` or `<!--`). */
export function jsonForScript(data: unknown): string {
  return JSON.stringify(data).replace(/</g, "\\u003c").replace(/\u2028/g, "\\u2028").replace(/\u2029/g, "\\u2029");
}

/** Script text safe inside `<script>`: `</script` and `<!--` cannot end or confuse it. */
export function scriptForHtml(js: string): string {
  return js.replace(/<\/(script)/gi, "<\\/$1").replace(/<!--/g, "<\\!--");
}

/** Css text safe inside `<style>`. */
export function styleForHtml(css: string): string {
  return css.replace(/<\/(style)/gi, "<\\/$1");
}

export function escapeHtml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** A file name from a report title: `<title>.html` with unsafe characters replaced. */
export function fileName(title: string, ext: string): string {
  const base = Array.from(title, (c) => (c < " " ? "_" : c)).join("").replace(/[\\/:*?"<>|]+/g, "_").replace(/\s+/g, " ").trim().slice(0, 120);
  return `${base === "" || /^\.+$/.test(base) ? "report" : base}.${ext}`;
}

export function assembleHtml(parts: { title: string; css: string; js: string; data: ExportData }): string {
  return [
    "<!doctype html>",
    '<html lang="en">',
    "<head>",
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<meta name="generator" content="fwtrack">',
    `<title>${escapeHtml(parts.title)}</title>`,
    `<style>${styleForHtml(parts.css)}</style>`,
    "</head>",
    "<body>",
    '<div id="app"></div>',
    `<script type="application/json" id="${DATA_ID}">${jsonForScript(parts.data)}</script>`,
    `<script>${scriptForHtml(parts.js)}</script>`,
    "</body>",
    "</html>",
    "",
  ].join("\n");
}
