// How the Files tab shows a file: by name and extension. Pure.

import type { RunFile } from "../../api/types";
import type { Column } from "../../components/Table";

export type PreviewKind = "image" | "json" | "diff" | "text" | "none";

const IMAGE = new Set(["png", "jpg", "jpeg", "gif", "webp", "bmp"]);
const TEXT = new Set([
  "txt", "log", "md", "rst", "csv", "tsv", "yaml", "yml", "toml", "ini", "cfg", "conf", "sh", "bash",
  "py", "pyi", "ipynb", "js", "mjs", "ts", "tsx", "jsx", "rs", "go", "c", "h", "cc", "cpp", "hpp",
  "java", "kt", "scala", "rb", "r", "jl", "lua", "sql", "html", "css", "xml", "env", "lock",
]);
/** Larger text files are cut in the preview (the download has all of it). */
export const PREVIEW_LIMIT = 1_000_000;
/** The columns of a list of files (a run's, a version's): name, size, download button. */
export const FILE_COLUMNS: readonly Column[] = [{ label: "Name" }, { label: "Size", class: "num" }, { label: "Download", srOnly: true }];

function ext(path: string): string {
  const name = path.split("/").pop() ?? "";
  const i = name.lastIndexOf(".");
  return i <= 0 ? "" : name.slice(i + 1).toLowerCase();
}

export function previewKind(path: string): PreviewKind {
  const e = ext(path);
  if (IMAGE.has(e)) return "image";
  if (e === "json") return "json";
  if (e === "patch" || e === "diff") return "diff";
  if (TEXT.has(e)) return "text";
  const name = path.split("/").pop() ?? "";
  if (/^(requirements.*|Dockerfile|Makefile|LICENSE|README)$/i.test(name)) return "text";
  return "none";
}

/** JSON text indented (the text as it is when it does not parse). */
export function prettyJson(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

export type DiffLineKind = "add" | "del" | "hunk" | "meta" | "ctx";

/** The kind of a unified-diff line: added, removed, hunk header, file header, context. */
export function diffLineKind(line: string): DiffLineKind {
  if (line.startsWith("+++") || line.startsWith("---") || line.startsWith("diff ") || line.startsWith("index ")) return "meta";
  if (line.startsWith("@@")) return "hunk";
  if (line.startsWith("+")) return "add";
  if (line.startsWith("-")) return "del";
  return "ctx";
}

/** The files listed at the top and the content-addressed media payloads (shown collapsed). */
export function splitMedia(files: readonly RunFile[]): { main: RunFile[]; media: RunFile[] } {
  const main: RunFile[] = [];
  const media: RunFile[] = [];
  for (const f of files) (f.path.startsWith("media/") ? media : main).push(f);
  return { main, media };
}
