// A project's sweeps (`#/p/{entity}/{project}/sweeps`): name, id, method, state, trials by
// state, the best value and when it was created; a row opens the sweep. Polled while a sweep
// of the list runs.

import { useEffect, useRef, useState } from "preact/hooks";
import { isAbort } from "../../api/client";
import { listSweeps, type Sweep } from "../../api/sweeps";
import { StateBadge } from "../../components/Badge";
import { ProjectNav } from "../../components/ProjectNav";
import { Empty, ErrorState, Loading } from "../../components/states";
import { CardTable, type Column } from "../../components/Table";
import { formatDateTime, formatNumber, formatRelative } from "../../lib/format";
import { useNow } from "../../lib/hooks";
import { poll } from "../../lib/poll";
import { href } from "../../lib/route";
import "./sweeps.css";

const LIVE_MS = 3000;
const IDLE_MS = 15000;

const COLUMNS: readonly Column[] = [
  { label: "Sweep" },
  { label: "Method" },
  { label: "State" },
  { label: "Trials", class: "num", title: "finished / all (running)" },
  { label: "Best", class: "num" },
  { label: "Created" },
];

/** `done/total (n running)`, the counts of a sweep's trials. */
export function trialCounts(s: Sweep): string {
  const c = s.counts;
  const ended = c.finished + c.stopped + c.failed + c.crashed;
  const cap = s.run_cap ?? s.grid_size;
  return `${ended}/${c.total}${cap !== null ? ` of ${cap}` : ""}${c.running > 0 ? ` (${c.running} running)` : ""}`;
}

function SweepRow({ s, now }: { s: Sweep; now: number }) {
  const best = s.best?.value ?? null;
  return (
    <tr data-testid="sweep-row" data-sweep-id={s.id} data-state={s.state}>
      <td>
        <a href={href.sweep(s.entity, s.project, s.id)} data-testid="sweep-link">
          {s.name !== "" ? s.name : s.id}
        </a>{" "}
        <span class="muted mono" data-testid="sweep-id">
          {s.id}
        </span>
      </td>
      <td data-testid="sweep-method">{s.method}</td>
      <td>
        <StateBadge state={s.state} />
      </td>
      <td class="num nowrap" data-testid="sweep-counts" data-total={s.counts.total} data-finished={s.counts.finished}>
        {trialCounts(s)}
      </td>
      <td class="num mono" data-testid="sweep-best" data-value={best ?? ""}>
        {best === null ? <span class="muted">-</span> : formatNumber(best)}
        {s.metric !== null && <span class="muted metric-note"> {s.metric.goal === "maximize" ? "max" : "min"} {s.metric.name}</span>}
      </td>
      <td class="nowrap" title={formatDateTime(s.created_at)}>
        {formatRelative(s.created_at, now)}
      </td>
    </tr>
  );
}

/** `#/p/{entity}/{project}/sweeps`. */
export function SweepsPage({ entity, project }: { entity: string; project: string }) {
  const [sweeps, setSweeps] = useState<Sweep[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [nonce, setNonce] = useState(0);
  const liveRef = useRef(false);
  const now = useNow(30_000);

  useEffect(() => {
    let last = 0;
    let first = true;
    return poll(async (signal) => {
      if (!first && !liveRef.current && Date.now() - last < IDLE_MS) return;
      first = false;
      last = Date.now();
      try {
        const list = await listSweeps(entity, project, signal);
        liveRef.current = list.some((s) => s.state === "running" || s.counts.running > 0);
        setSweeps(list);
        setError(null);
      } catch (err) {
        if (isAbort(err)) return;
        setError(err);
        throw err;
      }
    }, LIVE_MS);
  }, [entity, project, nonce]);

  let body;
  if (sweeps === null) {
    body =
      error === null ? (
        <Loading label="Loading sweeps…" />
      ) : (
        <ErrorState
          title="Cannot load the sweeps"
          error={error}
          onRetry={() => {
            setNonce((n) => n + 1);
          }}
        />
      );
  } else if (sweeps.length === 0) {
    body = (
      <Empty title="No sweeps in this project yet">
        <p>
          Start one with <code>fwtrack sweep sweep.yaml --project {project}</code>, then run <code>fwtrack agent SWEEP_ID</code> on any number of
          machines.
        </p>
      </Empty>
    );
  } else {
    body = (
      <CardTable columns={COLUMNS} testId="sweeps-table" label={`Sweeps of ${entity}/${project}`}>
        {sweeps.map((s) => (
          <SweepRow key={s.id} s={s} now={now} />
        ))}
      </CardTable>
    );
  }

  return (
    <div class="page sweeps-page" data-testid="sweeps-page">
      <div class="workspace-header">
        <h1 class="page-title">
          <span class="muted">{entity} /</span> {project}
        </h1>
        <ProjectNav entity={entity} project={project} current="sweeps" />
      </div>
      {body}
    </div>
  );
}
