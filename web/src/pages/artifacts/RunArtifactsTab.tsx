// The run page's Artifacts tab: the versions the run logged and the versions it used, in log
// order, each linked to its page. An artifact the server does not hold yet (its bytes still
// uploading) is listed by name and digest.

import { isResolved, runArtifacts } from "../../api/artifacts";
import type { ArtifactVersion, UnresolvedArtifact } from "../../api/types";
import { Badge } from "../../components/Badge";
import { Empty, whenLoaded } from "../../components/states";
import { CardTable } from "../../components/Table";
import { formatBytes, formatDateTime } from "../../lib/format";
import { useAsync } from "../../lib/hooks";
import { AliasBadges, Digest, VersionLink } from "./common";
import "./artifacts.css";

function Rows({ entity, items, kind }: { entity: string; items: readonly (ArtifactVersion | UnresolvedArtifact)[]; kind: "logged" | "used" }) {
  const title = kind === "logged" ? "Logged" : "Used";
  if (items.length === 0) {
    return (
      <section aria-label={`${title} artifacts`}>
        <h2 class="section-title">{title}</h2>
        <Empty title={kind === "logged" ? "This run logged no artifact" : "This run used no artifact"} />
      </section>
    );
  }
  return (
    <section aria-label={`${title} artifacts`}>
      <h2 class="section-title">{title}</h2>
      <CardTable columns={["Version", "Type", "Aliases", { label: "Size", class: "num" }, "Digest", "Created"]} testId={`run-artifacts-${kind}`} label={`Artifacts ${kind} by this run`}>
        {items.map((a, i) =>
          isResolved(a) ? (
            <tr key={`${a.project}/${a.name}:${a.version}`} data-testid="run-artifact" data-kind={kind} data-version={`${a.name}:${a.version}`}>
              <td>
                <VersionLink entity={entity} project={a.project} name={a.name} version={a.version} />
                {a.project !== "" && <span class="muted small"> in {a.project}</span>}
              </td>
              <td>
                <Badge>{a.type}</Badge>
              </td>
              <td>
                <AliasBadges aliases={a.aliases} />
              </td>
              <td class="num">{formatBytes(a.size)}</td>
              <td>
                <Digest digest={a.digest} />
              </td>
              <td>{formatDateTime(a.created_at)}</td>
            </tr>
          ) : (
            <tr key={`${a.name}@${a.digest}@${i}`} data-testid="run-artifact" data-kind={kind} data-version={`${a.name}:`}>
              <td>
                <span class="mono">{a.name}</span> <span class="muted small">not on the server yet</span>
              </td>
              <td>{a.type !== null && <Badge>{a.type}</Badge>}</td>
              <td />
              <td class="num muted">-</td>
              <td>
                <Digest digest={a.digest} />
              </td>
              <td />
            </tr>
          ),
        )}
      </CardTable>
    </section>
  );
}

export function RunArtifactsTab({ entity, project, runId }: { entity: string; project: string; runId: string }) {
  const state = useAsync((signal) => runArtifacts(entity, project, runId, signal), [entity, project, runId]);
  return (
    <div class="run-artifacts" data-testid="run-artifacts">
      {whenLoaded(state, { loading: "Loading artifacts…", failed: "Cannot load the run's artifacts" }, (a) => (
        <>
          <Rows entity={entity} items={a.logged} kind="logged" />
          <Rows entity={entity} items={a.used} kind="used" />
        </>
      ))}
    </div>
  );
}
