// A registered model (`#/registry/{entity}/models/{model}?tab=`): what it is (description, tags,
// maintainers), the version at each stage, and tabs for its versions (each promotable to a stage
// or alias, after a confirmation naming the version it replaces), its aliases (protect, demote)
// and its audit trail. Read-only in `fwtrack ui`.

import { useState } from "preact/hooks";
import { getModel, listAudit, patchModel, removeAlias, setAlias, STAGES, type ModelPatch, type RegisteredModelDetail } from "../../api/registry";
import { ChipEditor } from "../../components/ChipEditor";
import { CommentThread } from "../../components/comments/CommentThread";
import { ConfirmDialog } from "../../components/ConfirmDialog";
import { EditableText } from "../../components/Editable";
import { FieldRow } from "../../components/FieldRow";
import { FieldError } from "../../components/fields";
import { Empty, Loading, PageError, whenLoaded } from "../../components/states";
import { ActionsCell, CardTable, type Column } from "../../components/Table";
import { TabPanel, Tabs, type TabItem } from "../../components/Tabs";
import { TagEditor } from "../../components/TagEditor";
import { useAction } from "../../components/useAction";
import { formatDateTime, formatRelative } from "../../lib/format";
import { useAsync, useNow } from "../../lib/hooks";
import { href, navigate, withParams, type Params } from "../../lib/route";
import { RunLink, VersionLink } from "../artifacts/common";
import { AliasBadge, Lock, ModelAliases, ModelVersionLink, RegistryNav } from "./common";
import { aliasRows, auditText, demotionText, promotion, promotionTargets, promotionText, type Promotion } from "./moves";
import "../run/run.css";
import "../artifacts/artifacts.css";
import "./registry.css";

const TABS: readonly TabItem[] = [
  { id: "versions", label: "Versions" },
  { id: "aliases", label: "Aliases" },
  { id: "audit", label: "Audit trail" },
];

/** The move waiting for its confirmation. */
type Pending = { kind: "promote"; move: Promotion } | { kind: "demote"; alias: string; from: string; protected: boolean };

function PromoteControl({ model, version, onPromote }: { model: RegisteredModelDetail; version: string; onPromote: (alias: string) => void }) {
  const targets = promotionTargets(model);
  const [target, setTarget] = useState(targets[0] ?? "staging");
  return (
    <span class="promote">
      <select
        class="input input-small"
        value={target}
        aria-label={`Promote ${version} to`}
        data-testid="promote-target"
        onChange={(e) => {
          setTarget(e.currentTarget.value);
        }}
      >
        {targets.map((t) => (
          <option key={t} value={t}>
            {t}
            {model.protected_aliases.includes(t) ? " (protected)" : ""}
          </option>
        ))}
      </select>
      <button
        type="button"
        class="btn btn-small"
        data-testid="promote"
        aria-label={`Promote ${version} to the chosen alias`}
        onClick={() => {
          onPromote(target);
        }}
      >
        Promote
      </button>
    </span>
  );
}

const VERSION_COLUMNS: readonly Column[] = [{ label: "Version" }, { label: "Aliases" }, { label: "Artifact" }, { label: "Linked" }, { label: "Linked by" }, { label: "Run" }];

function Versions({ model, readOnly, onPromote }: { model: RegisteredModelDetail; readOnly: boolean; onPromote: (alias: string, version: string) => void }) {
  const now = useNow(30_000);
  if (model.versions_list.length === 0) {
    return (
      <Empty title="No versions linked yet">
        <p>
          <code>{`run.link_artifact(artifact, "registry/${model.name}")`}</code> links a logged model artifact.
        </p>
      </Empty>
    );
  }
  return (
    <CardTable columns={VERSION_COLUMNS} actions={!readOnly} testId="model-versions" label={`Versions of ${model.name}`}>
      {model.versions_list.map((v) => (
        <tr key={v.version} data-testid="model-version-row" data-version={v.version}>
          <td>
            <ModelVersionLink entity={model.entity} model={model.name} version={v.version} />
          </td>
          <td>
            <ModelAliases aliases={v.aliases} protectedAliases={model.protected_aliases} />
          </td>
          <td>
            <VersionLink entity={v.artifact.entity ?? model.entity} project={v.artifact.project} name={v.artifact.name} version={v.artifact.version} />
          </td>
          <td title={formatDateTime(v.linked_at)}>{formatRelative(v.linked_at, now)}</td>
          <td>{v.linked_by ?? <span class="muted">-</span>}</td>
          <td>{v.artifact.run === null ? <span class="muted">-</span> : <RunLink entity={v.artifact.entity ?? model.entity} run={v.artifact.run} />}</td>
          {!readOnly && (
            <ActionsCell>
              <PromoteControl
                model={model}
                version={v.version}
                onPromote={(alias) => {
                  onPromote(alias, v.version);
                }}
              />
            </ActionsCell>
          )}
        </tr>
      ))}
    </CardTable>
  );
}

function Stages({ model, readOnly, onDemote }: { model: RegisteredModelDetail; readOnly: boolean; onDemote: (alias: string, from: string) => void }) {
  return (
    <div class="stage-cards" data-testid="model-stages">
      {STAGES.map((s) => {
        const v = model.stages[s];
        const locked = model.protected_aliases.includes(s);
        return (
          <section key={s} class={`card stage-card stage-card-${s}`} aria-label={`Stage ${s}`} data-testid="stage-card" data-stage={s} data-version={v ?? ""} data-protected={locked ? "true" : "false"}>
            <h2 class="stage-card-title">
              <AliasBadge alias={s} locked={locked} />
            </h2>
            <div class="stage-card-version">{v === null ? <span class="muted">no version</span> : <ModelVersionLink entity={model.entity} model={model.name} version={v} />}</div>
            {!readOnly && v !== null && (
              <button
                type="button"
                class="btn btn-small btn-danger-ghost"
                aria-label={`Demote ${v} from ${s}`}
                data-testid="demote"
                onClick={() => {
                  onDemote(s, v);
                }}
              >
                Demote
              </button>
            )}
          </section>
        );
      })}
    </div>
  );
}

function Aliases({ model, readOnly, onDemote, onSave }: {
  model: RegisteredModelDetail;
  readOnly: boolean;
  onDemote: (alias: string, from: string) => void;
  onSave: (patch: ModelPatch) => Promise<void>;
}) {
  const action = useAction();
  const rows = aliasRows(model);
  const toggle = (alias: string, on: boolean): void => {
    const next = on ? [...model.protected_aliases, alias] : model.protected_aliases.filter((a) => a !== alias);
    void action.run(() => onSave({ protected_aliases: [...new Set(next)].sort() }));
  };
  const unused = STAGES.filter((s) => !rows.some((r) => r.alias === s));
  return (
    <div class="model-aliases">
      <p class="muted">
        A protected alias is moved only by the entity's admins and the model's maintainers ({model.maintainers.length === 0 ? "none named" : model.maintainers.join(", ")}).
      </p>
      <CardTable columns={["Alias", "Version", "Protected"]} actions={!readOnly} testId="alias-table" label={`Aliases of ${model.name}`}>
        {[...rows, ...unused.map((alias) => ({ alias, version: null, protected: false }))].map((r) => (
          <tr key={r.alias} data-testid="alias-row" data-alias={r.alias} data-version={r.version ?? ""} data-protected={r.protected ? "true" : "false"}>
            <td>
              <AliasBadge alias={r.alias} locked={false} />
            </td>
            <td>{r.version === null ? <span class="muted">-</span> : <ModelVersionLink entity={model.entity} model={model.name} version={r.version} />}</td>
            <td>{r.protected ? <Lock alias={r.alias} /> : <span class="muted">no</span>}</td>
            {!readOnly && (
              <ActionsCell>
                <button
                  type="button"
                  class="btn btn-small"
                  disabled={action.busy}
                  data-testid={r.protected ? "unprotect" : "protect"}
                  aria-label={r.protected ? `Unprotect ${r.alias}` : `Protect ${r.alias}`}
                  onClick={() => {
                    toggle(r.alias, !r.protected);
                  }}
                >
                  {r.protected ? "Unprotect" : "Protect"}
                </button>
                {r.version !== null && (
                  <button
                    type="button"
                    class="btn btn-small btn-danger-ghost"
                    aria-label={`Remove ${r.alias} from ${r.version}`}
                    data-testid="alias-remove"
                    onClick={() => {
                      if (r.version !== null) onDemote(r.alias, r.version);
                    }}
                  >
                    Remove
                  </button>
                )}
              </ActionsCell>
            )}
          </tr>
        ))}
      </CardTable>
      <FieldError error={action.error} testId="alias-table-error" />
    </div>
  );
}

function Audit({ entity, model, stamp }: { entity: string; model: string; stamp: number }) {
  const audit = useAsync((signal) => listAudit(entity, model, { limit: 200 }, signal), [entity, model, stamp]);
  const now = useNow(30_000);
  return (
    <>
      {whenLoaded(audit, { loading: "Loading the audit trail…", failed: "Cannot load the audit trail" }, (list) =>
        list.length === 0 ? (
          <Empty title="Nothing recorded yet" />
        ) : (
          <CardTable columns={["When", "User", "Change"]} testId="audit-table" label={`Audit trail of ${model}`}>
            {list.map((e) => (
              <tr key={e.id} data-testid="audit-row" data-action={e.action} data-alias={e.alias ?? ""} data-from={e.from_version ?? ""} data-to={e.to_version ?? ""}>
                <td title={formatDateTime(e.at)}>{formatRelative(e.at, now)}</td>
                <td>{e.user ?? <span class="muted">-</span>}</td>
                <td>{auditText(e)}</td>
              </tr>
            ))}
          </CardTable>
        ),
      )}
    </>
  );
}

function Confirm({ pending, model, onDone, onCancel }: { pending: Pending; model: RegisteredModelDetail; onDone: () => void; onCancel: () => void }) {
  if (pending.kind === "promote") {
    const p = pending.move;
    return (
      <ConfirmDialog
        title={`Promote ${p.to} to ${p.alias}?`}
        confirmLabel={`Promote ${p.to}`}
        onCancel={onCancel}
        onConfirm={async () => {
          // compare-and-set: refused (409) when someone moved the alias since this page loaded
          await setAlias(model.entity, model.name, p.alias, p.to, p.from);
          onDone();
        }}
      >
        <p data-testid="confirm-replaces" data-from={p.from ?? ""}>
          {promotionText(p)}
        </p>
        {p.protected && <p class="hint">{p.alias} is protected: only the entity's admins and the model's maintainers may move it.</p>}
      </ConfirmDialog>
    );
  }
  return (
    <ConfirmDialog
      title={`Demote ${pending.from} from ${pending.alias}?`}
      confirmLabel="Demote"
      danger
      onCancel={onCancel}
      onConfirm={async () => {
        await removeAlias(model.entity, model.name, pending.alias);
        onDone();
      }}
    >
      <p data-testid="confirm-replaces" data-from={pending.from}>
        {demotionText(pending.alias, pending.from)}
      </p>
      {pending.protected && <p class="hint">{pending.alias} is protected: only the entity's admins and the model's maintainers may remove it.</p>}
    </ConfirmDialog>
  );
}

/** `#/registry/{entity}/models/{model}?tab=`. */
export function ModelPage({ entity, model: name, params, readOnly }: { entity: string; model: string; params: Params; readOnly: boolean }) {
  const tab = TABS.some((t) => t.id === params.tab) ? (params.tab as string) : "versions";
  const state = useAsync((signal) => getModel(entity, name, signal), [entity, name]);
  const [pending, setPending] = useState<Pending | null>(null);
  const [stamp, setStamp] = useState(0);
  const [notice, setNotice] = useState<string | null>(null);
  const now = useNow(30_000);

  const m = state.data;
  if (m === undefined) {
    if (state.error === null) return <Loading label="Loading the model…" />;
    return (
      <PageError error={state.error} thing="model" onRetry={state.reload}>
        <a href={href.registry(entity)}>All models of {entity}</a>
      </PageError>
    );
  }
  const save = async (patch: ModelPatch): Promise<void> => {
    state.setData(await patchModel(entity, name, patch));
    setStamp((s) => s + 1);
  };
  const moved = (text: string): void => {
    setPending(null);
    setNotice(text);
    state.reload();
    setStamp((s) => s + 1);
  };
  const promote = (alias: string, version: string): void => {
    const p = promotion(m, alias, version);
    if (p.unchanged) {
      setNotice(promotionText(p));
      return;
    }
    setNotice(null);
    setPending({ kind: "promote", move: p });
  };
  const demote = (alias: string, from: string): void => {
    setNotice(null);
    setPending({ kind: "demote", alias, from, protected: m.protected_aliases.includes(alias) });
  };

  let panel;
  switch (tab) {
    case "aliases":
      panel = <Aliases model={m} readOnly={readOnly} onDemote={demote} onSave={save} />;
      break;
    case "audit":
      panel = <Audit entity={entity} model={name} stamp={stamp} />;
      break;
    default:
      panel = <Versions model={m} readOnly={readOnly} onPromote={promote} />;
  }
  return (
    <div class="page registry-page" data-testid="model-page" data-name={m.name}>
      <div class="run-header">
        <h1 class="page-title mono">{m.name}</h1>
        <span class="muted">
          {m.versions} {m.versions === 1 ? "version" : "versions"}
          {m.latest !== null && `, latest ${m.latest}`}
        </span>
        <div class="run-actions">
          <a class="btn btn-small" href={href.registry(entity)}>
            All models of {entity}
          </a>
        </div>
      </div>
      <RegistryNav entity={entity} current="models" local={readOnly} />
      <div class="overview">
        <dl class="fields card" data-testid="model-overview">
          <FieldRow label="Entity">{m.entity === "" ? entity : m.entity}</FieldRow>
          <FieldRow label="Created">
            {formatDateTime(m.created_at)} <span class="muted">({formatRelative(m.created_at, now)})</span>
          </FieldRow>
          <FieldRow label="Created by">{m.created_by ?? <span class="muted">-</span>}</FieldRow>
          <FieldRow label="Maintainers" testid="model-maintainers">
            {readOnly ? (
              m.maintainers.length === 0 ? <span class="muted">none</span> : m.maintainers.join(", ")
            ) : (
              <ChipEditor
                items={m.maintainers}
                noun="maintainer"
                listLabel="Maintainers"
                addLabel="Add a maintainer"
                chipClass="tag"
                check={(n) => (/^[A-Za-z0-9_.-]{1,64}$/.test(n) ? null : `${n.slice(0, 40)} is not a user name`)}
                onSave={(maintainers) => save({ maintainers })}
              />
            )}
          </FieldRow>
        </dl>
        <div class="card overview-edit">
          <h2 class="section-title">Description</h2>
          {readOnly ? (
            <p data-testid="model-description">{m.description ?? <span class="muted">No description</span>}</p>
          ) : (
            <EditableText value={m.description ?? ""} label="Description" multiline placeholder="No description" testid="model-description" onSave={(description) => save({ description })} />
          )}
          <h2 class="section-title">Tags</h2>
          {readOnly ? (
            <p>{m.tags.length === 0 ? <span class="muted">none</span> : m.tags.map((t) => <span key={t} class="tag" data-testid="tag">{t}</span>)}</p>
          ) : (
            <TagEditor tags={m.tags} onChange={(tags) => save({ tags })} />
          )}
        </div>
      </div>
      <Stages model={m} readOnly={readOnly} onDemote={demote} />
      {notice !== null && (
        <p class="registry-notice" role="status" data-testid="move-notice">
          {notice}
        </p>
      )}
      <Tabs
        tabs={TABS}
        selected={tab}
        label="Model sections"
        onSelect={(t) => {
          navigate(href.model(entity, name, withParams(params, { tab: t === "versions" ? undefined : t })), true);
        }}
      />
      <TabPanel id={tab}>{panel}</TabPanel>
      <CommentThread entity={entity} target="model" targetKey={name} />
      {pending !== null && (
        <Confirm
          pending={pending}
          model={m}
          onCancel={() => {
            setPending(null);
          }}
          onDone={() => {
            moved(pending.kind === "promote" ? `${pending.move.alias} now names ${pending.move.to}.` : `${pending.alias} was taken off ${pending.from}.`);
          }}
        />
      )}
    </div>
  );
}
