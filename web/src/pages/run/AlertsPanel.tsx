// The alerts a run raised (`fwtrack.alert`): level badge, title, text and time, newest first.
// Polled every 5 s while the run is running; absent while the run has none.

import { useEffect, useState } from "preact/hooks";
import { isAbort } from "../../api/client";
import { getAlerts, type RunAlert } from "../../api/alerts";
import { ErrorState } from "../../components/states";
import { formatDateTime } from "../../lib/format";
import { poll } from "../../lib/poll";

const POLL_MS = 5000;
/** The most alerts the panel fetches (newest shown first). */
const MAX_ALERTS = 1000;

const LEVEL_LABEL: Record<RunAlert["level"], string> = { INFO: "Info", WARN: "Warning", ERROR: "Error" };

async function allAlerts(entity: string, project: string, runId: string, signal: AbortSignal): Promise<RunAlert[]> {
  const out: RunAlert[] = [];
  let offset: number | null = 0;
  while (offset !== null && out.length < MAX_ALERTS) {
    const page = await getAlerts(entity, project, runId, offset, signal);
    out.push(...page.alerts);
    offset = page.next;
  }
  return out;
}

export function AlertsPanel({ entity, project, runId, running }: { entity: string; project: string; runId: string; running: boolean }) {
  const [alerts, setAlerts] = useState<RunAlert[] | null>(null);
  const [error, setError] = useState<unknown>(null);

  useEffect(() => {
    setAlerts(null);
    setError(null);
  }, [entity, project, runId]);

  useEffect(() => {
    let first = true;
    const stop = poll(async (signal) => {
      if (!first && !running) return;
      first = false;
      try {
        setAlerts(await allAlerts(entity, project, runId, signal));
        setError(null);
      } catch (err) {
        if (!isAbort(err)) setError(err);
      }
    }, POLL_MS);
    return stop;
  }, [entity, project, runId, running]);

  if (error !== null) return <ErrorState error={error} title="Alerts could not be loaded" />;
  if (alerts === null || alerts.length === 0) return null;
  const newest = [...alerts].reverse();
  return (
    <section class="card alerts" data-testid="run-alerts" aria-labelledby="run-alerts-title">
      <h3 id="run-alerts-title" class="alerts-title">
        Alerts <span class="muted">({alerts.length})</span>
      </h3>
      <ul class="alert-list">
        {newest.map((a) => (
          <li key={a.seq} class={`alert alert-${a.level.toLowerCase()}`} data-testid="alert" data-level={a.level}>
            <div class="alert-head">
              <span class={`badge alert-badge-${a.level.toLowerCase()}`} data-testid="alert-level">
                {LEVEL_LABEL[a.level]}
              </span>
              <strong class="alert-title" data-testid="alert-title">
                {a.title}
              </strong>
              <time class="muted alert-time" dateTime={new Date(a.ts * 1000).toISOString()} data-testid="alert-time">
                {formatDateTime(a.ts)}
              </time>
            </div>
            {a.text !== "" && (
              <p class="alert-text" data-testid="alert-text">
                {a.text}
              </p>
            )}
          </li>
        ))}
      </ul>
    </section>
  );
}
