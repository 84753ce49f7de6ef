// Two to N runs side by side: config and summary tables (differences highlighted) and the
// overlaid charts.

import { useEffect, useMemo, useState } from "preact/hooks";
import { isAbort } from "../api/client";
import { getRuns } from "../api/runs";
import type { Json, RunInfo } from "../api/types";
import { StateBadge } from "../components/Badge";
import { Empty, ErrorState, Loading } from "../components/states";
import { colorsOf } from "../lib/colors";
import { formatValue } from "../lib/format";
import { useStable } from "../lib/hooks";
import { poll } from "../lib/poll";
import { formatRoute, href, listParam, navigate, withParams, type Params } from "../lib/route";
import { PanelGrid } from "../charts/PanelGrid";
import { compareRows } from "./compare";

interface Loaded {
  runs: RunInfo[];
  missing: string[];
}

export function CompareTable({ title, runs, pick, onlyDiff, q, testid }: {
  title: string;
  runs: readonly RunInfo[];
  pick: (r: RunInfo) => Record<string, Json>;
  onlyDiff: boolean;
  q: string;
  testid: string;
}) {
  const rows = useMemo(() => compareRows(runs.map(pick)), [runs, pick]);
  const colorOf = useMemo(() => colorsOf(runs.map((r) => r.id)), [runs]);
  const needle = q.trim().toLowerCase();
  const shown = rows.filter((r) => (!onlyDiff || r.differs) && (needle === "" || r.key.toLowerCase().includes(needle)));
  const diffCount = rows.filter((r) => r.differs).length;
  return (
    <section class="compare-section" aria-label={title}>
      <h2 class="section-title">
        {title} <span class="muted">{rows.length} keys, {diffCount} differ</span>
      </h2>
      {rows.length === 0 ? (
        <Empty title={`No ${title.toLowerCase()} recorded`} />
      ) : shown.length === 0 ? (
        <Empty title={onlyDiff ? "No differences" : "No key matches"} />
      ) : (
        <div class="table-wrap card">
          <table class="table compare-table" data-testid={testid}>
            <thead>
              <tr>
                <th scope="col">Key</th>
                {runs.map((r) => (
                  <th scope="col" key={r.id}>
                    <span class="swatch" style={{ background: colorOf(r.id) }} aria-hidden="true" />
                    {r.name}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {shown.map((row) => (
                <tr key={row.key} class={row.differs ? "diff" : undefined} data-testid="compare-row" data-key={row.key} data-differs={row.differs ? "true" : "false"}>
                  <th scope="row" class="mono kv-key">
                    {row.differs && <span class="sr-only">differs: </span>}
                    {row.key}
                  </th>
                  {row.values.map((v, i) => (
                    <td key={runs[i]?.id ?? i} class={v === undefined ? "mono muted" : "mono"}>
                      {v === undefined ? "—" : formatValue(v)}
                    </td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

const pickConfig = (r: RunInfo): Record<string, Json> => r.config;
const pickSummary = (r: RunInfo): Record<string, Json> => r.summary;

/** `#/p/{entity}/{project}/compare?runs=a,b,c`. */
export function ComparePage({ entity, project, params }: { entity: string; project: string; params: Params }) {
  const ids = useMemo(() => [...new Set(listParam(params, "runs"))], [params.runs]);
  const onlyDiff = params.diff === "1";
  const [q, setQ] = useState("");
  const [loaded, setLoaded] = useState<Loaded | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [nonce, setNonce] = useState(0);

  useEffect(() => {
    setLoaded(null);
    setError(null);
    if (ids.length === 0) return;
    let running = true;
    const stop = poll(async (signal) => {
      if (!running) return;
      try {
        const { runs, missing } = await getRuns(entity, project, ids, signal);
        running = runs.some((r) => r.state === "running");
        setLoaded({ runs, missing });
        setError(null);
      } catch (err) {
        if (isAbort(err)) return;
        setError(err);
        throw err;
      }
    }, 2000);
    return stop;
  }, [entity, project, ids, nonce]);

  const setParams = (changes: Record<string, string | string[] | undefined>): void => {
    navigate(formatRoute({ page: "compare", entity, project, params: withParams(params, changes) }), true);
  };
  const colorOf = useMemo(() => colorsOf((loaded?.runs ?? []).map((r) => r.id)), [loaded]);
  const chartRuns = useStable((loaded?.runs ?? []).map((r) => ({ id: r.id, name: r.name, color: colorOf(r.id), start: r.created_at, running: r.state === "running" })));
  const keys = useStable([...new Set((loaded?.runs ?? []).flatMap((r) => r.keys))].sort());

  let body;
  if (ids.length === 0) {
    body = (
      <Empty title="Pick runs to compare">
        <p>
          Select two or more runs in the <a href={href.workspace(entity, project)}>workspace</a> and press Compare.
        </p>
      </Empty>
    );
  } else if (loaded === null) {
    body = error !== null ? <ErrorState error={error} onRetry={() => { setNonce((n) => n + 1); }} /> : <Loading label="Loading runs…" />;
  } else {
    const runs = loaded.runs;
    body = (
      <>
        {loaded.missing.length > 0 && (
          <div class="notice" role="status" data-testid="compare-missing">
            Not found (deleted?): {loaded.missing.join(", ")}
          </div>
        )}
        {runs.length < 2 && (
          <div class="notice" role="status">
            Add at least one more run to compare (select runs in the <a href={href.workspace(entity, project)}>workspace</a>).
          </div>
        )}
        <div class="compare-runs" data-testid="compare-runs">
          {runs.map((r) => (
            <div class="compare-run card" key={r.id} data-testid="compare-run" data-run-id={r.id}>
              <span class="swatch" style={{ background: colorOf(r.id) }} aria-hidden="true" />
              <a href={href.run(entity, project, r.id)} class="run-link">
                {r.name}
              </a>
              <StateBadge state={r.state} />
              <button
                type="button"
                class="btn btn-ghost btn-small"
                aria-label={`Remove ${r.name} from the comparison`}
                onClick={() => {
                  setParams({ runs: ids.filter((x) => x !== r.id) });
                }}
              >
                ×
              </button>
            </div>
          ))}
        </div>
        <div class="toolbar">
          <input
            class="input input-small"
            type="search"
            placeholder="Search keys…"
            aria-label="Search config and summary keys"
            value={q}
            onInput={(e) => {
              setQ(e.currentTarget.value);
            }}
          />
          <label class="check-inline">
            <input
              type="checkbox"
              checked={onlyDiff}
              onChange={() => {
                setParams({ diff: onlyDiff ? undefined : "1" });
              }}
              data-testid="only-differences"
            />
            Only differences
          </label>
        </div>
        <div class="compare-tables">
          <CompareTable title="Config" runs={runs} pick={pickConfig} onlyDiff={onlyDiff} q={q} testid="compare-config" />
          <CompareTable title="Summary" runs={runs} pick={pickSummary} onlyDiff={onlyDiff} q={q} testid="compare-summary" />
        </div>
        <section class="compare-section" aria-label="Charts">
          <h2 class="section-title">Charts</h2>
          {keys.length === 0 ? (
            <Empty title="No metrics logged yet" />
          ) : (
            <PanelGrid entity={entity} project={project} runs={chartRuns} keys={keys} live={runs.some((r) => r.state === "running")} layoutScope="run" />
          )}
        </section>
      </>
    );
  }

  return (
    <div class="page compare-page" data-testid="compare-page">
      <h1 class="page-title">
        Compare <span class="muted">{ids.length} runs</span>
      </h1>
      {body}
    </div>
  );
}
