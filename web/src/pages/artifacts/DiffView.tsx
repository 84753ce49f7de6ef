// The differences between two versions of a collection: files added, removed and changed (by
// content address, or ETag for references), and metadata keys added, removed and changed.

import type { ArtifactDiff, ArtifactFileState, Json } from "../../api/types";
import { Empty } from "../../components/states";
import { CardTable, type Column } from "../../components/Table";
import { formatBytes } from "../../lib/format";
import { shortDigest, VersionLink } from "./common";

function size(n: number | null | undefined): string {
  return n === null || n === undefined ? "-" : formatBytes(n);
}

function identity(s: ArtifactFileState): string {
  if (s.address !== undefined) return shortDigest(s.address);
  if (s.etag !== undefined) return `ETag ${s.etag}`;
  return "";
}

/** A metadata value as text: strings as they are, the rest as JSON. */
function value(v: Json | undefined): string {
  if (v === undefined) return "";
  return typeof v === "string" ? v : JSON.stringify(v);
}

type MetaRow = { key: string; change: "added" | "removed" | "changed"; old?: Json; now?: Json };

/** The metadata changes as rows, by key. */
export function metadataRows(meta: ArtifactDiff["metadata"]): MetaRow[] {
  const rows: MetaRow[] = [];
  for (const [key, now] of Object.entries(meta.added)) rows.push({ key, change: "added", now });
  for (const [key, old] of Object.entries(meta.removed)) rows.push({ key, change: "removed", old });
  for (const [key, pair] of Object.entries(meta.changed)) rows.push({ key, change: "changed", old: pair[0], now: pair[1] });
  return rows.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

const MARK = { added: "+", removed: "−", changed: "~" } as const;
/** The first column of both tables: the change's mark, named for screen readers only. */
const CHANGE: Column = { label: "Change", srOnly: true };

function Mark({ change }: { change: keyof typeof MARK }) {
  return (
    <td class="diff-mark" title={change}>
      {MARK[change]}
    </td>
  );
}

/** The diff of `diff.a` to `diff.b`. */
export function DiffView({ diff, entity, project }: { diff: ArtifactDiff; entity: string; project: string }) {
  const meta = metadataRows(diff.metadata);
  const files = diff.added.length + diff.removed.length + diff.changed.length;
  return (
    <section class="artifact-diff" data-testid="artifact-diff" aria-label={`Differences from ${diff.a.version} to ${diff.b.version}`}>
      <p class="diff-summary" data-testid="diff-summary" data-added={diff.added.length} data-removed={diff.removed.length} data-changed={diff.changed.length} data-unchanged={diff.unchanged}>
        From <VersionLink entity={entity} project={project} name={diff.a.name} version={diff.a.version} /> to{" "}
        <VersionLink entity={entity} project={project} name={diff.b.name} version={diff.b.version} />:{" "}
        <span class="diff-added">{diff.added.length} added</span>, <span class="diff-removed">{diff.removed.length} removed</span>,{" "}
        <span class="diff-changed">{diff.changed.length} changed</span>, {diff.unchanged} unchanged
        {diff.a.digest === diff.b.digest && <strong> (the same content)</strong>}
      </p>
      <h2 class="section-title">Files</h2>
      {files === 0 ? (
        <Empty title="No file differs" />
      ) : (
        <CardTable columns={[CHANGE, "Path", { label: `Size in ${diff.a.version}`, class: "num" }, { label: `Size in ${diff.b.version}`, class: "num" }, "Content"]} testId="diff-files" label="Files that differ">
          {diff.added.map((f) => (
            <tr key={`+${f.path}`} class="diff-row-added" data-testid="diff-row" data-change="added" data-path={f.path}>
              <Mark change="added" />
              <td class="mono">{f.path}</td>
              <td class="num muted">-</td>
              <td class="num">{size(f.size)}</td>
              <td class="muted">added</td>
            </tr>
          ))}
          {diff.removed.map((f) => (
            <tr key={`-${f.path}`} class="diff-row-removed" data-testid="diff-row" data-change="removed" data-path={f.path}>
              <Mark change="removed" />
              <td class="mono">{f.path}</td>
              <td class="num">{size(f.size)}</td>
              <td class="num muted">-</td>
              <td class="muted">removed</td>
            </tr>
          ))}
          {diff.changed.map((f) => (
            <tr key={`~${f.path}`} class="diff-row-changed" data-testid="diff-row" data-change="changed" data-path={f.path}>
              <Mark change="changed" />
              <td class="mono">{f.path}</td>
              <td class="num">{size(f.a.size)}</td>
              <td class="num">{size(f.b.size)}</td>
              <td class="mono small">
                {identity(f.a)} → {identity(f.b)}
              </td>
            </tr>
          ))}
        </CardTable>
      )}
      <h2 class="section-title">Metadata</h2>
      {meta.length === 0 ? (
        <Empty title="The metadata is the same" />
      ) : (
        <CardTable columns={[CHANGE, "Key", diff.a.version, diff.b.version]} testId="diff-metadata" label="Metadata that differs">
          {meta.map((r) => (
            <tr key={r.key} class={`diff-row-${r.change}`} data-testid="diff-meta-row" data-change={r.change} data-key={r.key}>
              <Mark change={r.change} />
              <td class="mono">{r.key}</td>
              <td class="mono">{value(r.old)}</td>
              <td class="mono">{value(r.now)}</td>
            </tr>
          ))}
        </CardTable>
      )}
    </section>
  );
}
