// How the version page shows a file: by name; CSV parsed into rows. Pure.

import { previewKind as runPreviewKind } from "../run/files";

export type ArtifactPreviewKind = "image" | "json" | "csv" | "text" | "none";

/** The preview of a file of an artifact (CSV and TSV as a table; diffs as text). */
export function artifactPreviewKind(path: string): ArtifactPreviewKind {
  if (/\.(csv|tsv)$/i.test(path)) return "csv";
  const kind = runPreviewKind(path);
  return kind === "diff" ? "text" : kind;
}

/**
 * Rows of CSV text (RFC 4180: quoted fields with `""` escapes and line breaks; CRLF or LF),
 * at most `maxRows`; `truncated` when more followed. The separator is `,` or, for TSV, a tab.
 */
export function parseCsv(text: string, maxRows = 200, sep = ","): { rows: string[][]; truncated: boolean } {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  let i = 0;
  const endRow = (): boolean => {
    row.push(field);
    field = "";
    rows.push(row);
    row = [];
    return rows.length >= maxRows;
  };
  while (i < text.length) {
    const ch = text[i] as string;
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i += 2;
          continue;
        }
        quoted = false;
      } else field += ch;
      i++;
      continue;
    }
    if (ch === '"' && field === "") quoted = true;
    else if (ch === sep) {
      row.push(field);
      field = "";
    } else if (ch === "\n" || ch === "\r") {
      if (ch === "\r" && text[i + 1] === "\n") i++;
      if (endRow()) return { rows, truncated: i + 1 < text.length };
    } else field += ch;
    i++;
  }
  if (field !== "" || row.length > 0) endRow();
  return { rows, truncated: false };
}
