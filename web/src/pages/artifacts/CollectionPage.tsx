// A collection: its versions (newest first: aliases, size, files, who and which run logged
// them) and the diff of two of them, picked with the A and B columns (`?a=v0&b=v1`).

import { diffVersions, getCollection } from "../../api/artifacts";
import type { ArtifactCollectionDetail } from "../../api/types";
import { Badge } from "../../components/Badge";
import { Empty, Loading, PageError, whenLoaded } from "../../components/states";
import { CardTable, type Column } from "../../components/Table";
import { formatBytes, formatDateTime, formatRelative } from "../../lib/format";
import { useAsync, useNow } from "../../lib/hooks";
import { href, navigate, withParams, type Params } from "../../lib/route";
import { AliasBadges, Digest, RunLink, VersionLink } from "./common";
import { DiffView } from "./DiffView";
import "./artifacts.css";

function Diff({ entity, project, name, a, b }: { entity: string; project: string; name: string; a: string; b: string }) {
  const diff = useAsync((signal) => diffVersions(entity, project, name, a, b, signal), [entity, project, name, a, b]);
  return <>{whenLoaded(diff, { loading: "Comparing the versions…", failed: "Cannot compare the versions" }, (d) => <DiffView diff={d} entity={entity} project={project} />)}</>;
}

const VERSION_COLUMNS: readonly Column[] = [
  { label: "A", class: "col-pick", title: "The version to compare from" },
  { label: "B", class: "col-pick", title: "The version to compare to" },
  { label: "Version" },
  { label: "Aliases" },
  { label: "Size", class: "num" },
  { label: "Files", class: "num" },
  { label: "Digest" },
  { label: "Created" },
  { label: "Created by" },
  { label: "Run" },
];

function Versions({ entity, project, c, a, b, pick }: {
  entity: string;
  project: string;
  c: ArtifactCollectionDetail;
  a: string | undefined;
  b: string | undefined;
  pick: (side: "a" | "b", version: string) => void;
}) {
  const now = useNow(30_000);
  return (
    <CardTable columns={VERSION_COLUMNS} testId="versions-table" label={`Versions of ${c.name}`}>
      {c.versions_list.map((v) => (
        <tr key={v.version} data-testid="version-row" data-version={v.version}>
          <td class="col-pick">
            <input type="radio" name="diff-a" checked={a === v.version} aria-label={`Compare from ${v.version}`} data-testid="pick-a" onChange={() => { pick("a", v.version); }} />
          </td>
          <td class="col-pick">
            <input type="radio" name="diff-b" checked={b === v.version} aria-label={`Compare to ${v.version}`} data-testid="pick-b" onChange={() => { pick("b", v.version); }} />
          </td>
          <td>
            <VersionLink entity={entity} project={project} name={v.name} version={v.version} />
          </td>
          <td>
            <AliasBadges aliases={v.aliases} />
          </td>
          <td class="num" title={`${v.size.toLocaleString("en-US")} bytes`}>
            {formatBytes(v.size)}
          </td>
          <td class="num">{v.files.toLocaleString("en-US")}</td>
          <td>
            <Digest digest={v.digest} />
          </td>
          <td title={formatDateTime(v.created_at)}>{formatRelative(v.created_at, now)}</td>
          <td>{v.created_by ?? <span class="muted">-</span>}</td>
          <td>{v.run === null ? <span class="muted">-</span> : <RunLink entity={entity} run={v.run} />}</td>
        </tr>
      ))}
    </CardTable>
  );
}

/** `#/p/{entity}/{project}/artifacts/{name}?a=&b=`. */
export function CollectionPage({ entity, project, name, params }: { entity: string; project: string; name: string; params: Params }) {
  const state = useAsync((signal) => getCollection(entity, project, name, signal), [entity, project, name]);
  const { a, b } = params;
  const pick = (side: "a" | "b", version: string): void => {
    navigate(href.collection(entity, project, name, withParams(params, { [side]: version })), true);
  };
  const c = state.data;
  if (c === undefined) {
    if (state.error === null) return <Loading label="Loading the collection…" />;
    return (
      <PageError error={state.error} thing="collection" onRetry={state.reload}>
        <a href={href.artifacts(entity, project)}>All artifacts of {project}</a>
      </PageError>
    );
  }
  return (
    <div class="page artifact-page" data-testid="collection-page" data-name={c.name}>
      <div class="run-header">
        <h1 class="page-title mono">{c.name}</h1>
        <Badge title="artifact type">{c.type}</Badge>
        <span class="muted">
          {c.versions} {c.versions === 1 ? "version" : "versions"}, latest {c.latest} ({formatBytes(c.size)})
        </span>
        <div class="run-actions">
          <a class="btn btn-small" href={href.artifacts(entity, project, { type: c.type })}>
            All {c.type} artifacts
          </a>
        </div>
      </div>
      {c.description !== null && c.description !== "" && <p class="collection-description">{c.description}</p>}
      <h2 class="section-title">Versions</h2>
      {c.versions_list.length === 0 ? <Empty title="No versions yet" /> : <Versions entity={entity} project={project} c={c} a={a} b={b} pick={pick} />}
      <h2 class="section-title">Compare two versions</h2>
      {a !== undefined && b !== undefined ? (
        <Diff entity={entity} project={project} name={name} a={a} b={b} />
      ) : (
        <p class="muted" data-testid="diff-hint">
          Pick a version in column A and one in column B to see the files and metadata that differ.
        </p>
      )}
    </div>
  );
}
