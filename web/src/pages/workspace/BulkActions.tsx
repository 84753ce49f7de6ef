// The runs table's selection bar: Tag…, Untag…, Move to… and Delete on the selected runs, each
// confirmed in a dialog naming how many runs ("Delete 3 runs?"). One request acts on all of
// them (`POST .../bulk`); a run that failed is listed with its reason. Shown to writers only.

import { useEffect, useState } from "preact/hooks";
import { listProjects } from "../../api/projects";
import { bulkRuns, type BulkAnswer, type BulkRequest } from "../../api/runs";
import type { RunInfo, Viewer } from "../../api/types";
import { ChipEditor } from "../../components/ChipEditor";
import { ConfirmDialog } from "../../components/ConfirmDialog";

/** `3 runs`, `1 run`. */
export function runCount(n: number): string {
  return `${n} ${n === 1 ? "run" : "runs"}`;
}

/** Whether `viewer` may change `entity`'s runs (a team's `viewer` may not; a viewer JSON
 * without `read_only` counts as writable). */
export function writesRuns(viewer: (Viewer & { read_only?: string[] }) | null, entity: string): boolean {
  if (viewer === null) return false;
  if (viewer.is_admin) return true;
  if (viewer.name !== entity && !viewer.teams.includes(entity)) return false;
  return !(viewer.read_only ?? []).includes(entity);
}

/** The tags of `runs`, each once, in first-seen order. */
export function tagsOf(runs: readonly RunInfo[]): string[] {
  const out: string[] = [];
  for (const r of runs) for (const t of r.tags) if (!out.includes(t)) out.push(t);
  return out;
}

const NAME = /^[A-Za-z0-9_.-]{1,128}$/;

type Mode = "tag" | "untag" | "move" | "delete" | null;

function MovePicker({ entity, project, target, onTarget }: { entity: string; project: string; target: string; onTarget: (name: string) => void }) {
  const [projects, setProjects] = useState<string[] | null>(null);
  const [fresh, setFresh] = useState(false);
  useEffect(() => {
    const ctl = new AbortController();
    listProjects(ctl.signal).then(
      (all) => {
        const names = all.filter((p) => p.entity === entity && p.name !== project).map((p) => p.name);
        setProjects(names);
        setFresh(true);
      },
      () => {
        setProjects([]);
        setFresh(true);
      },
    );
    return () => {
      ctl.abort();
    };
  }, [entity, project]);
  return (
    <div class="bulk-move">
      <label>
        Project of {entity}{" "}
        <select
          class="input input-small"
          value={fresh ? "" : target}
          aria-label="Target project"
          data-testid="bulk-move-project"
          onChange={(e) => {
            const v = e.currentTarget.value;
            setFresh(v === "");
            onTarget(v);
          }}
        >
          <option value="" disabled={projects === null}>
            {projects === null ? "Loading…" : "A new project…"}
          </option>
          {(projects ?? []).map((p) => (
            <option key={p} value={p}>
              {p}
            </option>
          ))}
        </select>
      </label>
      {fresh && (
        <input
          class="input input-small"
          type="text"
          placeholder="new-project"
          aria-label="New project name"
          value={target}
          data-testid="bulk-move-new"
          onInput={(e) => {
            onTarget(e.currentTarget.value.trim());
          }}
        />
      )}
    </div>
  );
}

/**
 * The bar over the runs table while runs are `selected`. `runs` are the loaded runs (their tags
 * fill Untag…); `onDone` runs after an action (refresh the table, clear the selection).
 */
export function BulkActions({ entity, project, selected, runs, viewer, onDone }: {
  entity: string;
  project: string;
  selected: readonly string[];
  runs: readonly RunInfo[];
  viewer: Viewer | null;
  onDone: () => void;
}) {
  const [mode, setMode] = useState<Mode>(null);
  const [tags, setTags] = useState<string[]>([]);
  const [untag, setUntag] = useState<string[]>([]);
  const [target, setTarget] = useState("");
  const [outcome, setOutcome] = useState<BulkAnswer | null>(null);
  const n = selected.length;
  if (!writesRuns(viewer, entity) || (n === 0 && outcome === null)) return null;
  const chosen = runs.filter((r) => selected.includes(r.id));
  const selectedTags = tagsOf(chosen);

  const open = (m: Mode): void => {
    setTags([]);
    setUntag([]);
    setTarget("");
    setOutcome(null);
    setMode(m);
  };
  const act = async (body: Omit<BulkRequest, "run_ids">): Promise<void> => {
    const answer = await bulkRuns(entity, project, { ...body, run_ids: selected });
    setMode(null);
    setOutcome(answer);
    onDone();
  };
  const failed = outcome?.results.filter((r) => !r.ok) ?? [];
  const verb = { tag: "Tagged", untag: "Untagged", move: "Moved", delete: "Deleted" };

  return (
    <div class="bulk-bar" role="toolbar" aria-label="Actions on the selected runs" data-testid="bulk-bar">
      {n > 0 && (
        <>
          <span class="muted" data-testid="bulk-count">
            {runCount(n)} selected
          </span>
          <button type="button" class="btn btn-small" onClick={() => { open("tag"); }} data-testid="bulk-tag">
            Tag…
          </button>
          <button type="button" class="btn btn-small" disabled={selectedTags.length === 0} onClick={() => { open("untag"); }} data-testid="bulk-untag">
            Untag…
          </button>
          <button type="button" class="btn btn-small" onClick={() => { open("move"); }} data-testid="bulk-move">
            Move to…
          </button>
          <button type="button" class="btn btn-small btn-danger" onClick={() => { open("delete"); }} data-testid="bulk-delete">
            Delete
          </button>
        </>
      )}
      {outcome !== null && (
        <div class="bulk-outcome" role="status" data-testid="bulk-outcome">
          <span>
            {verb[outcome.action]} {runCount(outcome.succeeded)}
            {outcome.failed > 0 ? `; ${runCount(outcome.failed)} failed:` : "."}
          </span>
          {failed.length > 0 && (
            <ul class="bulk-errors" data-testid="bulk-errors">
              {failed.map((r) => (
                <li key={r.id} data-run-id={r.id}>
                  <span class="mono">{r.id}</span>: {r.error ?? `error ${r.status}`}
                </li>
              ))}
            </ul>
          )}
          <button type="button" class="btn btn-ghost btn-small" aria-label="Dismiss" onClick={() => { setOutcome(null); }}>
            ×
          </button>
        </div>
      )}
      {mode === "tag" && (
        <ConfirmDialog
          title={`Tag ${runCount(n)}`}
          confirmLabel="Add tags"
          onCancel={() => { setMode(null); }}
          onConfirm={() => {
            if (tags.length === 0) return Promise.reject(new Error("Add a tag first (type it, then Enter)"));
            return act({ action: "tag", tags });
          }}
        >
          <div class="tag-editor">
          <ChipEditor
            items={tags}
            noun="bulk-tag-chip"
            listLabel="Tags to add"
            addLabel="Add a tag"
            chipClass="tag"
            check={(t) => (t.length > 256 ? "A tag has at most 256 characters" : null)}
            onSave={(next) => {
              setTags(next);
              return Promise.resolve();
            }}
          />
          </div>
        </ConfirmDialog>
      )}
      {mode === "untag" && (
        <ConfirmDialog
          title={`Untag ${runCount(n)}`}
          confirmLabel="Remove tags"
          onCancel={() => { setMode(null); }}
          onConfirm={() => {
            if (untag.length === 0) return Promise.reject(new Error("Pick the tags to remove"));
            return act({ action: "untag", tags: untag });
          }}
        >
          <ul class="bulk-untag" aria-label="Tags of the selected runs">
            {selectedTags.map((t) => (
              <li key={t}>
                <label>
                  <input
                    type="checkbox"
                    checked={untag.includes(t)}
                    data-testid="bulk-untag-choice"
                    data-tag={t}
                    onChange={() => {
                      setUntag(untag.includes(t) ? untag.filter((x) => x !== t) : [...untag, t]);
                    }}
                  />{" "}
                  {t}
                </label>
              </li>
            ))}
          </ul>
        </ConfirmDialog>
      )}
      {mode === "move" && (
        <ConfirmDialog
          title={`Move ${runCount(n)} to ${target === "" ? "…" : target}?`}
          confirmLabel="Move"
          onCancel={() => { setMode(null); }}
          onConfirm={() => {
            if (!NAME.test(target)) {
              return Promise.reject(new Error("Pick a project, or name a new one (letters, digits, _ . -)"));
            }
            return act({ action: "move", to_project: target });
          }}
        >
          <MovePicker entity={entity} project={project} target={target} onTarget={setTarget} />
          <p class="muted">The runs keep their ids, history, files and media; artifacts stay in {project}.</p>
        </ConfirmDialog>
      )}
      {mode === "delete" && (
        <ConfirmDialog
          title={`Delete ${runCount(n)}?`}
          confirmLabel="Delete"
          danger
          onCancel={() => { setMode(null); }}
          onConfirm={() => act({ action: "delete" })}
        >
          <p>Their logs, files and media are removed. This cannot be undone.</p>
        </ConfirmDialog>
      )}
    </div>
  );
}
