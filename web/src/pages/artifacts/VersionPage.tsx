// One version of an artifact: what it is (type, digest, size, files, who and which run logged
// it, description, aliases, editable where the server takes edits) and tabs for its files, its
// metadata, the runs that used it and its lineage.

import { getVersion, patchVersion, usedBy, type VersionPatch } from "../../api/artifacts";
import type { ArtifactVersion } from "../../api/types";
import { Badge, StateBadge } from "../../components/Badge";
import { EditableText } from "../../components/Editable";
import { FieldRow } from "../../components/FieldRow";
import { KeyValueTable } from "../../components/KeyValueTable";
import { Empty, Loading, PageError, whenLoaded } from "../../components/states";
import { CardTable } from "../../components/Table";
import { TabPanel, Tabs, type TabItem } from "../../components/Tabs";
import { formatBytes, formatDateTime, formatRelative } from "../../lib/format";
import { useAsync, useNow } from "../../lib/hooks";
import { href, intParam, navigate, withParams, type Params } from "../../lib/route";
import { AliasEditor } from "./AliasEditor";
import { Digest, RunLink } from "./common";
import { FileBrowser } from "./FileBrowser";
import { LineageGraph } from "./LineageGraph";
import "../run/run.css";
import "./artifacts.css";

const TABS: readonly TabItem[] = [
  { id: "files", label: "Files" },
  { id: "metadata", label: "Metadata" },
  { id: "runs", label: "Runs" },
  { id: "lineage", label: "Lineage" },
];

function Runs({ entity, version }: { entity: string; version: ArtifactVersion }) {
  const uses = useAsync((signal) => usedBy(entity, version.project, version.name, version.version, signal), [entity, version.project, version.name, version.version]);
  const now = useNow(30_000);
  return (
    <div class="artifact-runs">
      <h2 class="section-title">Logged by</h2>
      <p data-testid="logged-by">
        {version.run === null ? <span class="muted">No run (committed without one)</span> : <RunLink entity={entity} run={version.run} />}
      </p>
      <h2 class="section-title">Used by</h2>
      {whenLoaded(uses, { loading: "Loading runs…", failed: "Cannot load the runs that used this version" }, (list) =>
        list.length === 0 ? (
          <Empty title="No run used this version yet">
            <p>
              <code>{`run.use_artifact("${version.name}:${version.version}")`}</code> records a use.
            </p>
          </Empty>
        ) : (
          <CardTable columns={["Run", "State", "Project", "Used"]} testId="used-by" label="Runs that used this version">
            {list.map((u) => (
              <tr key={`${u.entity}/${u.project}/${u.run_id}`} data-testid="used-by-row" data-run-id={u.run_id}>
                <td>
                  <RunLink entity={entity} run={{ entity: u.entity, project: u.project, id: u.run_id }} label={u.name === "" ? u.run_id : u.name} />
                </td>
                <td>
                  <StateBadge state={u.state} />
                </td>
                <td class="muted">
                  {u.entity}/{u.project}
                </td>
                <td title={formatDateTime(u.used_at)}>{formatRelative(u.used_at, now)}</td>
              </tr>
            ))}
          </CardTable>
        ),
      )}
    </div>
  );
}

/** `#/p/{entity}/{project}/artifacts/{name}/{ref}?tab=files&prefix=&file=&depth=`. */
export function VersionPage({ entity, project, name, refName, params, readOnly }: {
  entity: string;
  project: string;
  name: string;
  /** What the URL names: `vN`, an alias, `latest` or a digest. */
  refName: string;
  params: Params;
  readOnly: boolean;
}) {
  const tab = TABS.some((t) => t.id === params.tab) ? (params.tab as string) : "files";
  const depth = Math.max(1, Math.min(5, intParam(params, "depth", 2)));
  const state = useAsync((signal) => getVersion(entity, project, name, refName, signal), [entity, project, name, refName]);
  const now = useNow(30_000);
  const setParams = (changes: Record<string, string | undefined>): void => {
    navigate(href.version(entity, project, name, refName, withParams(params, changes)), true);
  };

  const v = state.data;
  if (v === undefined) {
    if (state.error === null) return <Loading label="Loading version…" />;
    return (
      <PageError error={state.error} thing="version" onRetry={state.reload}>
        <a href={href.collection(entity, project, name)}>All versions of {name}</a>
      </PageError>
    );
  }
  const save = async (patch: VersionPatch): Promise<void> => {
    state.setData(await patchVersion(entity, project, name, v.version, patch));
  };

  let panel;
  switch (tab) {
    case "metadata":
      panel = Object.keys(v.metadata).length === 0 ? <Empty title="No metadata recorded for this version" /> : <KeyValueTable data={v.metadata} label="Metadata" testid="artifact-metadata" />;
      break;
    case "runs":
      panel = <Runs entity={entity} version={v} />;
      break;
    case "lineage":
      panel = (
        <LineageGraph
          entity={entity}
          project={project}
          name={name}
          version={v.version}
          depth={depth}
          onDepth={(d) => {
            setParams({ depth: d === 2 ? undefined : String(d) });
          }}
        />
      );
      break;
    default:
      panel = (
        <FileBrowser
          entity={entity}
          project={project}
          name={name}
          version={v.version}
          prefix={params.prefix ?? ""}
          selected={params.file}
          onPrefix={(prefix) => {
            setParams({ prefix, file: undefined });
          }}
          onSelect={(file) => {
            setParams({ file });
          }}
        />
      );
  }
  const previous = v.index > 0 ? `v${v.index - 1}` : undefined;
  return (
    <div class="page artifact-page" data-testid="version-page" data-version={`${v.name}:${v.version}`} data-digest={v.digest}>
      <div class="run-header">
        <h1 class="page-title">
          <span class="mono">
            {v.name}:{v.version}
          </span>
        </h1>
        <Badge title="artifact type">{v.type}</Badge>
        <div class="run-actions">
          <a class="btn btn-small" href={href.collection(entity, project, name)} data-testid="all-versions">
            All versions
          </a>
          {previous !== undefined && (
            <a class="btn btn-small" href={href.collection(entity, project, name, { a: previous, b: v.version })} data-testid="compare-previous">
              Compare with {previous}
            </a>
          )}
        </div>
      </div>
      <div class="overview">
        <dl class="fields card" data-testid="version-overview">
          <FieldRow label="Digest" testid="version-digest">
            <Digest digest={v.digest} full />
          </FieldRow>
          <FieldRow label="Size" testid="version-size">
            <span title={`${v.size.toLocaleString("en-US")} bytes`}>{formatBytes(v.size)}</span> <span class="muted">in {v.files.toLocaleString("en-US")} {v.files === 1 ? "file" : "files"}</span>
          </FieldRow>
          <FieldRow label="Created">
            {formatDateTime(v.created_at)} <span class="muted">({formatRelative(v.created_at, now)})</span>
          </FieldRow>
          <FieldRow label="Created by" testid="version-created-by">
            {v.created_by ?? <span class="muted">-</span>}
          </FieldRow>
          <FieldRow label="Logged by run" testid="version-run">
            {v.run === null ? <span class="muted">-</span> : <RunLink entity={entity} run={v.run} />}
          </FieldRow>
        </dl>
        <div class="card overview-edit">
          <h2 class="section-title">Aliases</h2>
          <AliasEditor
            aliases={v.aliases}
            readOnly={readOnly}
            onSave={(aliases) => save({ aliases })}
          />
          <h2 class="section-title">Description</h2>
          {readOnly ? (
            <p data-testid="version-description">{v.description ?? <span class="muted">No description</span>}</p>
          ) : (
            <EditableText value={v.description ?? ""} label="Description" multiline placeholder="No description" testid="version-description" onSave={(description) => save({ description })} />
          )}
        </div>
      </div>
      <Tabs
        tabs={TABS}
        selected={tab}
        label="Version sections"
        onSelect={(t) => {
          setParams({ tab: t === "files" ? undefined : t });
        }}
      />
      <TabPanel id={tab}>{panel}</TabPanel>
    </div>
  );
}
