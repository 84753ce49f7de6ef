// A sweep (`#/p/{entity}/{project}/sweeps/{id}?brush=`): its state and controls, the agent
// command, the best runs, the metric over trials (with the running best), parallel coordinates
// whose brushes filter the runs table, parameter importance, the metric against each parameter,
// and the sweep's runs. Polled while the sweep runs (or trials still run).

import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { isAbort } from "../../api/client";
import { allowedActions, controlSweep, getImportance, getSweep, listTrials, type Importance, type Sweep, type SweepAction, type Trial } from "../../api/sweeps";
import { StateBadge } from "../../components/Badge";
import { ConfirmDialog } from "../../components/ConfirmDialog";
import { ProjectNav } from "../../components/ProjectNav";
import { ErrorState, Loading, PageError, errorMessage } from "../../components/states";
import { useAction } from "../../components/useAction";
import { formatDateTime, formatNumber, formatRelative, formatValue } from "../../lib/format";
import { useNow, useStable } from "../../lib/hooks";
import { poll } from "../../lib/poll";
import { href, navigate, withParams, type Params } from "../../lib/route";
import { importanceBars } from "./importance";
import { ParallelCoords } from "./ParallelCoords";
import { buildAxes, decodeBrushes, encodeBrushes, filterRows, METRIC_AXIS, type Brush, type PcRow } from "./parallel";
import { SweepChart } from "./SweepChart";
import { trialCounts } from "./SweepsPage";
import { agentCommand, bestTrials, categoryLabel, flatParams, metricSeries, paramNames, scatterPoints, trialState, type Goal } from "./trials";
import "./sweeps.css";

const LIVE_MS = 2000;

const ACTION_LABEL: Record<SweepAction, string> = { pause: "Pause", resume: "Resume", stop: "Stop", cancel: "Cancel sweep" };
const ACTION_HELP: Record<SweepAction, string> = {
  pause: "No new trials start until resumed; running trials go on",
  resume: "Start new trials again",
  stop: "No new trials; the running ones finish",
  cancel: "No new trials; the running ones are stopped",
};

function isLive(s: Sweep): boolean {
  return s.state === "running" || s.state === "paused" || s.counts.running > 0 || s.counts.queued > 0;
}

function Controls({ sweep, onChanged }: { sweep: Sweep; onChanged: (s: Sweep) => void }) {
  const action = useAction();
  const [confirming, setConfirming] = useState(false);
  const act = (a: SweepAction): Promise<void> =>
    action.run(async () => {
      onChanged(await controlSweep(sweep.entity, sweep.project, sweep.id, a));
    });
  const actions = allowedActions(sweep.state);
  return (
    <div class="sweep-controls" data-testid="sweep-controls">
      {actions.map((a) => (
        <button
          key={a}
          type="button"
          class={a === "cancel" ? "btn btn-small btn-danger-ghost" : "btn btn-small"}
          disabled={action.busy}
          title={ACTION_HELP[a]}
          onClick={() => {
            if (a === "cancel") setConfirming(true);
            else void act(a);
          }}
          data-testid={`sweep-${a}`}
        >
          {ACTION_LABEL[a]}
        </button>
      ))}
      {action.error !== null && (
        <span class="field-error" role="alert" data-testid="sweep-control-error">
          {action.error}
        </span>
      )}
      {confirming && (
        <ConfirmDialog
          title={`Cancel sweep ${sweep.name !== "" ? sweep.name : sweep.id}?`}
          confirmLabel="Cancel sweep"
          danger
          onCancel={() => {
            setConfirming(false);
          }}
          onConfirm={async () => {
            onChanged(await controlSweep(sweep.entity, sweep.project, sweep.id, "cancel"));
            setConfirming(false);
          }}
        >
          <p>
            No new trials start and the {sweep.counts.running === 1 ? "running trial is" : `${sweep.counts.running} running trials are`} stopped (their runs end as{" "}
            <em>stopped</em>, their history kept). A cancelled sweep cannot be resumed.
          </p>
        </ConfirmDialog>
      )}
    </div>
  );
}

function BestRuns({ sweep, trials, goal }: { sweep: Sweep; trials: readonly Trial[]; goal: Goal }) {
  const best = bestTrials(trials, goal, 5);
  return (
    <section class="card sweep-card" aria-labelledby="best-runs-title">
      <h2 class="section-title" id="best-runs-title">
        Best runs <span class="muted">{sweep.metric === null ? "" : `${goal === "maximize" ? "highest" : "lowest"} ${sweep.metric.name}`}</span>
      </h2>
      {best.length === 0 ? (
        <p class="muted">No trial has reported the metric yet.</p>
      ) : (
        <ol class="best-runs" data-testid="best-runs">
          {best.map((t) => (
            <li key={t.id} data-testid="best-run" data-run-id={t.run_id} data-value={t.value ?? ""}>
              <a href={href.run(sweep.entity, sweep.project, t.run_id)}>{t.run !== null && t.run.name !== "" ? t.run.name : t.run_id}</a>{" "}
              <span class="mono">{formatNumber(t.value as number)}</span> <span class="muted">trial {t.number}</span>
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}

function ImportanceTable({ imp, error }: { imp: Importance | null; error: unknown }) {
  let body;
  if (imp === null) body = error !== null ? <p class="field-error">{errorMessage(error)}</p> : <Loading label="Fitting…" />;
  else {
    const bars = importanceBars(imp);
    body = (
      <>
        {imp.detail !== null && (
          <p class="muted" data-testid="importance-detail">
            {imp.detail}
          </p>
        )}
        <table class="table importance-table" data-testid="importance-table" aria-label="Parameter importance">
          <thead>
            <tr>
              <th scope="col">Parameter</th>
              <th scope="col">Importance</th>
              <th scope="col">Correlation</th>
            </tr>
          </thead>
          <tbody>
            {bars.map((b) => (
              <tr key={b.name} data-testid="importance-row" data-param={b.name} data-importance={b.importance ?? ""} data-correlation={b.correlation ?? ""}>
                <td class="mono">{b.name}</td>
                <td>
                  <div class="bar-cell" title={b.importance === null ? "unknown" : b.importance.toFixed(3)}>
                    <div class="bar bar-importance" style={{ width: `${(b.importanceWidth * 100).toFixed(1)}%` }} />
                    <span class="bar-value">{b.importance === null ? "-" : b.importance.toFixed(3)}</span>
                  </div>
                </td>
                <td>
                  <div class="bar-cell bar-cell-centered" title={b.correlation === null ? "unknown" : b.correlation.toFixed(3)}>
                    <div class="bar-axis" />
                    <div
                      class={b.correlation !== null && b.correlation < 0 ? "bar bar-negative" : "bar bar-positive"}
                      style={{ left: `${(b.correlationLeft * 100).toFixed(1)}%`, width: `${(b.correlationWidth * 100).toFixed(1)}%` }}
                    />
                    <span class="bar-value">{b.correlation === null ? "-" : b.correlation.toFixed(3)}</span>
                  </div>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </>
    );
  }
  return (
    <section class="card sweep-card" aria-labelledby="importance-title" data-testid="importance">
      <h2 class="section-title" id="importance-title">
        Parameter importance <span class="muted">{imp === null || imp.metric === null ? "" : `for ${imp.metric}, ${imp.count} trials`}</span>
      </h2>
      {body}
    </section>
  );
}

function SweepRunsTable({ sweep, trials, names, shownIds, brushed }: { sweep: Sweep; trials: readonly Trial[]; names: readonly string[]; shownIds: Set<number>; brushed: boolean }) {
  const rows = trials.filter((t) => shownIds.has(t.id));
  return (
    <section class="card sweep-card" aria-labelledby="sweep-runs-title">
      <h2 class="section-title" id="sweep-runs-title">
        Runs{" "}
        <span class="muted" data-testid="sweep-runs-count">
          {brushed ? `${rows.length} of ${trials.length} inside the brushes` : `${trials.length}`}
        </span>{" "}
        <a href={href.workspace(sweep.entity, sweep.project, { filter: `sweep = ${sweep.id}` })} data-testid="sweep-workspace-link">
          Open in the workspace
        </a>
      </h2>
      <div class="table-wrap">
        <table class="table sweep-runs-table" data-testid="sweep-runs-table" aria-label={`Runs of sweep ${sweep.id}`}>
          <thead>
            <tr>
              <th scope="col" class="num">
                Trial
              </th>
              <th scope="col">Run</th>
              <th scope="col">State</th>
              {names.map((n) => (
                <th key={n} scope="col" class="mono" data-param={n}>
                  {n}
                </th>
              ))}
              <th scope="col" class="num">
                {sweep.metric?.name ?? "value"}
              </th>
            </tr>
          </thead>
          <tbody>
            {rows.map((t) => {
              const p = flatParams(t.params);
              const state = trialState(t);
              return (
                <tr key={t.id} data-testid="sweep-run-row" data-trial={t.number} data-run-id={t.run_id} data-state={state} data-value={t.value ?? ""}>
                  <td class="num">{t.number}</td>
                  <td>
                    {t.state === "queued" ? (
                      <span class="muted mono">{t.run_id}</span>
                    ) : (
                      <a href={href.run(sweep.entity, sweep.project, t.run_id)} data-testid="sweep-run-link">
                        {t.run !== null && t.run.name !== "" ? t.run.name : t.run_id}
                      </a>
                    )}
                    {t.attempt > 0 && <span class="muted"> attempt {t.attempt + 1}</span>}
                  </td>
                  <td>
                    <StateBadge state={state} />
                  </td>
                  {names.map((n) => (
                    <td key={n} class="mono num" data-param={n}>
                      {formatValue(p[n])}
                    </td>
                  ))}
                  <td class="mono num">{t.value === null ? <span class="muted">-</span> : formatNumber(t.value)}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
    </section>
  );
}

/** `#/p/{entity}/{project}/sweeps/{id}`. `readOnly`: the controls are hidden; `local`: `fwtrack ui`. */
export function SweepPage({ entity, project, sweepId, params, readOnly, local }: {
  entity: string;
  project: string;
  sweepId: string;
  params: Params;
  readOnly: boolean;
  local: boolean;
}) {
  const [sweep, setSweep] = useState<Sweep | null>(null);
  const [trialsNow, setTrials] = useState<Trial[]>([]);
  const [imp, setImp] = useState<Importance | null>(null);
  const [impError, setImpError] = useState<unknown>(null);
  const [error, setError] = useState<unknown>(null);
  const [nonce, setNonce] = useState(0);
  const liveRef = useRef(true);
  /** The importance asked for (`wanted`, a key of the ended trials), the one shown, one request at a time. */
  const imps = useRef({ wanted: "", loaded: null as string | null, inflight: false });
  const now = useNow(30_000);

  const loadImportance = (signal: AbortSignal): void => {
    const st = imps.current;
    if (st.inflight || st.wanted === st.loaded || signal.aborted) return;
    st.inflight = true;
    const key = st.wanted;
    getImportance(entity, project, sweepId, signal)
      .then((v) => {
        setImp(v);
        setImpError(null);
      })
      .catch((err: unknown) => {
        if (!isAbort(err)) setImpError(err);
      })
      .finally(() => {
        // a failure is asked again once the trials change
        st.loaded = key;
        st.inflight = false;
        loadImportance(signal);
      });
  };

  useEffect(() => {
    let first = true;
    imps.current = { wanted: "", loaded: null, inflight: false };
    return poll(async (signal) => {
      if (!first && !liveRef.current) return;
      first = false;
      try {
        const [s, ts] = await Promise.all([getSweep(entity, project, sweepId, signal), listTrials(entity, project, sweepId, signal)]);
        liveRef.current = isLive(s);
        setSweep(s);
        setTrials(ts);
        setError(null);
        // importance is refitted only when the ended trials change (fitting takes a while: not in the poll's chain)
        imps.current.wanted = ts
          .filter((t) => t.value !== null && (t.state === "finished" || t.state === "stopped"))
          .map((t) => `${t.id}:${t.value}`)
          .join(",");
        loadImportance(signal);
      } catch (err) {
        if (isAbort(err)) return;
        setError(err);
        throw err;
      }
    }, LIVE_MS);
  }, [entity, project, sweepId, nonce]);

  const trials = useStable(trialsNow);
  const brushes = useMemo(() => decodeBrushes(params.brush), [params.brush]);
  const setBrushes = (b: Brush[]): void => {
    navigate(href.sweep(entity, project, sweepId, withParams(params, { brush: encodeBrushes(b) })), true);
  };

  const goal: Goal = sweep?.metric?.goal ?? "minimize";
  const names = useMemo(() => paramNames(sweep?.parameters ?? [], trials), [sweep?.parameters, trials]);
  const rows: PcRow[] = useMemo(
    () =>
      trials.map((t) => {
        const p = flatParams(t.params);
        const values: PcRow["values"] = {};
        for (const n of names) values[n] = p[n];
        values[METRIC_AXIS] = t.value;
        return { id: t.id, values };
      }),
    [trials, names],
  );
  const axes = useMemo(() => buildAxes(names, sweep?.parameters ?? [], rows, sweep?.metric?.name ?? "value"), [names, sweep?.parameters, rows, sweep?.metric?.name]);
  const shownIds = useMemo(() => filterRows(rows, axes, brushes), [rows, axes, brushes]);

  if (sweep === null) {
    if (error === null) return <Loading label="Loading the sweep…" />;
    return (
      <PageError
        error={error}
        thing="sweep"
        onRetry={() => {
          setNonce((n) => n + 1);
        }}
      >
        <a href={href.sweeps(entity, project)}>All sweeps of {project}</a>
      </PageError>
    );
  }

  const series = metricSeries(trials, goal);
  const metricName = sweep.metric?.name ?? "value";
  const command = agentCommand(sweep, local);

  return (
    <div class="page sweep-page" data-testid="sweep-page" data-sweep-id={sweep.id} data-state={sweep.state}>
      <div class="workspace-header">
        <h1 class="page-title" data-testid="sweep-title">
          <span class="muted">{entity} /</span> {project} <span class="muted">/</span> {sweep.name !== "" ? sweep.name : sweep.id}
        </h1>
        <ProjectNav entity={entity} project={project} current="sweeps" />
        {isLive(sweep) && (
          <span class="live" data-testid="live-indicator" title="The sweep is running: this page updates every 2 s">
            <span class="pulse" aria-hidden="true" /> Live
          </span>
        )}
      </div>
      {error !== null && <ErrorState title="Cannot refresh the sweep" error={error} />}
      <section class="card sweep-card sweep-summary" aria-label="Sweep">
        <div class="sweep-summary-row">
          <span data-testid="sweep-state" data-state={sweep.state}>
            <StateBadge state={sweep.state} />
          </span>
          <span class="mono muted" data-testid="sweep-id">
            {sweep.id}
          </span>
          <span>
            <span class="muted">method</span> <b data-testid="sweep-method">{sweep.method}</b>
          </span>
          {sweep.metric !== null && (
            <span data-testid="sweep-metric">
              <span class="muted">{sweep.metric.goal}</span> <b class="mono">{sweep.metric.name}</b>
              {sweep.metric.target !== null && <span class="muted"> target {formatNumber(sweep.metric.target)}</span>}
            </span>
          )}
          <span data-testid="sweep-counts" data-total={sweep.counts.total} data-finished={sweep.counts.finished} data-running={sweep.counts.running}>
            <span class="muted">trials</span> {trialCounts(sweep)}
          </span>
          <span class="muted" title={formatDateTime(sweep.created_at)}>
            created {formatRelative(sweep.created_at, now)}
            {sweep.created_by !== null && ` by ${sweep.created_by}`}
          </span>
          {!readOnly && (
            <Controls
              sweep={sweep}
              onChanged={(s) => {
                setSweep(s);
                liveRef.current = isLive(s);
              }}
            />
          )}
        </div>
        {sweep.description !== null && sweep.description !== "" && <p class="sweep-description">{sweep.description}</p>}
        <div class="agent-command">
          <span class="muted" id="agent-command-label">
            Run an agent:
          </span>{" "}
          <code data-testid="agent-command" aria-labelledby="agent-command-label">
            {command}
          </code>
          <span class="muted" data-testid="sweep-agents">
            {" "}
            {sweep.agents.filter((a) => a.state === "running").length} agents running
          </span>
        </div>
      </section>

      <div class="sweep-grid">
        <BestRuns sweep={sweep} trials={trials} goal={goal} />
        <section class="card sweep-card" aria-labelledby="metric-title">
          <h2 class="section-title" id="metric-title">
            {metricName} over trials
          </h2>
          <SweepChart
            testid="sweep-metric-chart"
            title={`${metricName} by trial number, with the running best`}
            xLabel="trial"
            xScale="integer"
            x={series.x}
            series={[
              { label: metricName, y: series.y, color: "#2f5bd3", kind: "points" },
              { label: "best so far", y: series.best, color: "#de6e19", kind: "step" },
            ]}
            attrs={{
              values: JSON.stringify(series.x.map((n, i) => [n, Number.isFinite(series.y[i]) ? series.y[i] : null])),
              best: JSON.stringify(series.best.map((v) => (Number.isFinite(v) ? v : null))),
            }}
          />
        </section>
      </div>

      <section class="card sweep-card" aria-labelledby="pc-title">
        <h2 class="section-title" id="pc-title">
          Parallel coordinates <span class="muted">drag along an axis to keep a range; the runs below follow</span>
        </h2>
        {rows.length === 0 ? <p class="muted">No trials yet.</p> : <ParallelCoords axes={axes} rows={rows} brushes={brushes} onBrushes={setBrushes} goal={goal} />}
      </section>

      <ImportanceTable imp={imp} error={impError} />

      <section class="card sweep-card" aria-labelledby="scatter-title">
        <h2 class="section-title" id="scatter-title">
          {metricName} against each parameter
        </h2>
        <div class="scatter-grid">
          {axes
            .filter((a) => a.key !== METRIC_AXIS)
            .map((a) => {
              const cats = a.kind === "category" ? a.categories : null;
              const pts = scatterPoints(trials, a.key, cats);
              return (
                <SweepChart
                  key={a.key}
                  testid="sweep-scatter"
                  title={`${metricName} against ${a.label}`}
                  xLabel={a.label}
                  x={pts.x}
                  xCategories={cats}
                  xScale={a.kind === "log" ? "log" : "linear"}
                  series={[{ label: metricName, y: pts.y, color: "#2f5bd3", kind: "points" }]}
                  attrs={{
                    param: a.key,
                    values: JSON.stringify(pts.x.map((x, i) => [cats === null ? x : categoryLabel(cats[x]), pts.y[i]])),
                  }}
                />
              );
            })}
        </div>
      </section>

      <SweepRunsTable sweep={sweep} trials={trials} names={names} shownIds={shownIds} brushed={brushes.length > 0} />
    </div>
  );
}
