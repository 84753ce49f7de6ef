// A model version's card (`#/registry/{entity}/models/{model}/{ref}?depth=`): the model's
// description and tags, the version's aliases, artifact, metadata, the run that trained it (a
// link), the data that run used, its numeric summary (the evaluation), a few of its metrics
// charted (the run page's chart grid) and the lineage graph of the artifact version.

import { getModelCard, type CardRun, type ModelCard } from "../../api/registry";
import { getRun } from "../../api/runs";
import type { ArtifactVersion } from "../../api/types";
import { Badge } from "../../components/Badge";
import { FieldRow } from "../../components/FieldRow";
import { KeyValueTable } from "../../components/KeyValueTable";
import { Empty, Loading, PageError, whenLoaded } from "../../components/states";
import { CardTable } from "../../components/Table";
import { PanelGrid } from "../../charts/PanelGrid";
import { runColor } from "../../lib/colors";
import { formatBytes, formatDateTime, formatNumber, formatRelative } from "../../lib/format";
import { useAsync, useNow, useStable } from "../../lib/hooks";
import { href, intParam, navigate, withParams, type Params } from "../../lib/route";
import { Digest, VersionLink } from "../artifacts/common";
import { LineageGraph } from "../artifacts/LineageGraph";
import { ModelAliases, RegistryNav } from "./common";
import "../run/run.css";
import "../artifacts/artifacts.css";
import "./registry.css";

/** How many of the run's metrics the card charts. */
export const CHART_KEYS = 4;

/**
 * The metrics a card charts: the run's history keys without system metrics, those its summary
 * holds (the evaluation) first, at most `n`.
 */
export function chartKeys(keys: readonly string[], evaluation: Readonly<Record<string, number>>, n = CHART_KEYS): string[] {
  const metrics = keys.filter((k) => !k.startsWith("system/") && !k.startsWith("_"));
  const scored = metrics.filter((k) => k in evaluation);
  const rest = metrics.filter((k) => !(k in evaluation));
  return [...scored, ...rest].slice(0, n);
}

function Charts({ run, evaluation }: { run: CardRun; evaluation: Record<string, number> }) {
  const info = useAsync((signal) => getRun(run.entity, run.project, run.id, signal), [run.entity, run.project, run.id]);
  const keys = useStable(info.data === undefined ? [] : chartKeys(info.data.keys, evaluation));
  const runs = useStable(info.data === undefined ? [] : [{ id: run.id, name: run.name === "" ? run.id : run.name, color: runColor(run.id), start: info.data.created_at, running: info.data.state === "running" }]);
  return (
    <div class="card-charts" data-testid="card-charts">
      {whenLoaded(info, { loading: "Loading the run's metrics…", failed: "Cannot load the run's metrics" }, (r) =>
        keys.length === 0 ? (
          <Empty title="The run logged no metrics" />
        ) : (
          <PanelGrid entity={run.entity} project={run.project} runs={runs} keys={keys} live={r.state === "running"} layoutScope="run" />
        ),
      )}
    </div>
  );
}

function Datasets({ entity, list }: { entity: string; list: readonly ArtifactVersion[] }) {
  if (list.length === 0) return <Empty title="The run used no artifact" />;
  return (
    <CardTable columns={["Artifact", "Type", "Digest", { label: "Size", class: "num" }]} testId="card-datasets" label="Data the run used">
      {list.map((d) => (
        <tr key={`${d.project}/${d.name}:${d.version}`} data-testid="card-dataset" data-version={`${d.name}:${d.version}`}>
          <td>
            <VersionLink entity={d.entity ?? entity} project={d.project} name={d.name} version={d.version} />
          </td>
          <td>
            <Badge title="artifact type">{d.type}</Badge>
          </td>
          <td>
            <Digest digest={d.digest} />
          </td>
          <td class="num">{formatBytes(d.size)}</td>
        </tr>
      ))}
    </CardTable>
  );
}

function Evaluation({ values }: { values: Record<string, number> }) {
  const keys = Object.keys(values).filter((k) => !k.startsWith("_") && !k.startsWith("system/")).sort();
  if (keys.length === 0) return <Empty title="The run has no numeric summary" />;
  return (
    <CardTable columns={["Metric", { label: "Value", class: "num" }]} testId="card-evaluation" label="Evaluation">
      {keys.map((k) => (
        <tr key={k} data-testid="card-metric" data-key={k}>
          <td class="mono">{k}</td>
          <td class="num mono">{formatNumber(values[k] as number)}</td>
        </tr>
      ))}
    </CardTable>
  );
}

function Card({ entity, card, depth, setParams }: { entity: string; card: ModelCard; depth: number; setParams: (changes: Record<string, string | undefined>) => void }) {
  const { model, version, run } = card;
  const a = version.artifact;
  const artifactEntity = a.entity ?? entity;
  const now = useNow(30_000);
  const metadata = a.metadata;
  return (
    <>
      <div class="overview">
        <dl class="fields card" data-testid="card-overview">
          <FieldRow label="Aliases" testid="card-aliases">
            <ModelAliases aliases={version.aliases} protectedAliases={model.protected_aliases} />
          </FieldRow>
          <FieldRow label="Artifact" testid="card-artifact">
            <VersionLink entity={artifactEntity} project={a.project} name={a.name} version={a.version} /> <Badge title="artifact type">{a.type}</Badge>
          </FieldRow>
          <FieldRow label="Digest">
            <Digest digest={a.digest} />
          </FieldRow>
          <FieldRow label="Size">
            {formatBytes(a.size)} <span class="muted">in {a.files.toLocaleString("en-US")} {a.files === 1 ? "file" : "files"}</span>
          </FieldRow>
          <FieldRow label="Linked">
            {formatDateTime(version.linked_at)} <span class="muted">({formatRelative(version.linked_at, now)}{version.linked_by === null ? "" : `, by ${version.linked_by}`})</span>
          </FieldRow>
          <FieldRow label="Training run" testid="card-run">
            {run === null ? (
              <span class="muted">-</span>
            ) : (
              <a class="run-link" href={href.run(run.entity, run.project, run.id)} data-testid="card-run-link" data-run-id={run.id}>
                {run.name === "" ? run.id : run.name}
              </a>
            )}
            {run !== null && <span class="muted"> {run.entity}/{run.project} · {run.state}</span>}
          </FieldRow>
        </dl>
        <div class="card overview-edit">
          <h2 class="section-title">Model</h2>
          <p data-testid="card-description">{model.description === null || model.description === "" ? <span class="muted">No description</span> : model.description}</p>
          {a.description !== null && a.description !== "" && <p class="muted" data-testid="card-artifact-description">{a.description}</p>}
          <h2 class="section-title">Tags</h2>
          <p data-testid="card-tags">
            {model.tags.length === 0 ? (
              <span class="muted">none</span>
            ) : (
              model.tags.map((t) => (
                <span key={t} class="tag" data-testid="tag">
                  {t}
                </span>
              ))
            )}
          </p>
        </div>
      </div>
      <h2 class="section-title">Metadata</h2>
      {Object.keys(metadata).length === 0 ? <Empty title="No metadata recorded for this version" /> : <KeyValueTable data={metadata} label="Metadata" testid="card-metadata" />}
      <div class="card-columns">
        <section aria-labelledby="card-data-title">
          <h2 class="section-title" id="card-data-title">
            Data
          </h2>
          <Datasets entity={artifactEntity} list={card.datasets} />
        </section>
        <section aria-labelledby="card-eval-title">
          <h2 class="section-title" id="card-eval-title">
            Evaluation
          </h2>
          <Evaluation values={card.evaluation} />
        </section>
      </div>
      <h2 class="section-title">Training metrics</h2>
      {run === null ? <Empty title="The run that logged this version is gone" /> : <Charts run={run} evaluation={card.evaluation} />}
      <h2 class="section-title">Lineage</h2>
      <LineageGraph
        entity={artifactEntity}
        project={a.project}
        name={a.name}
        version={a.version}
        depth={depth}
        onDepth={(d) => {
          setParams({ depth: d === 2 ? undefined : String(d) });
        }}
      />
    </>
  );
}

/** `#/registry/{entity}/models/{model}/{ref}?depth=`. */
export function ModelVersionPage({ entity, model, refName, params, readOnly }: { entity: string; model: string; refName: string; params: Params; readOnly: boolean }) {
  const state = useAsync((signal) => getModelCard(entity, model, refName, signal), [entity, model, refName]);
  const depth = Math.max(1, Math.min(5, intParam(params, "depth", 2)));
  const setParams = (changes: Record<string, string | undefined>): void => {
    navigate(href.modelVersion(entity, model, refName, withParams(params, changes)), true);
  };
  const card = state.data;
  if (card === undefined) {
    if (state.error === null) return <Loading label="Loading the model version…" />;
    return (
      <PageError error={state.error} thing="model version" onRetry={state.reload}>
        <a href={href.model(entity, model)}>All versions of {model}</a>
      </PageError>
    );
  }
  const v = card.version;
  return (
    <div class="page registry-page" data-testid="model-version-page" data-version={`${model}:${v.version}`}>
      <div class="run-header">
        <h1 class="page-title mono">
          {model}:{v.version}
        </h1>
        <ModelAliases aliases={v.aliases} protectedAliases={card.model.protected_aliases} />
        <div class="run-actions">
          <a class="btn btn-small" href={href.model(entity, model)} data-testid="all-model-versions">
            All versions
          </a>
        </div>
      </div>
      <RegistryNav entity={entity} current="models" local={readOnly} />
      <Card entity={entity} card={card} depth={depth} setParams={setParams} />
    </div>
  );
}
