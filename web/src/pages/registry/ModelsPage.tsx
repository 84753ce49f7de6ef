// The registered models of an entity (`#/registry/{entity}?tag=`): each with its versions, its
// latest, the versions at each stage and its tags; a tag filters the list. A form registers a
// new model (not in `fwtrack ui`, which shows the local registry read-only).

import { useState } from "preact/hooks";
import { createModel, listModels, STAGES, type RegisteredModel } from "../../api/registry";
import { FieldError, TextField } from "../../components/fields";
import { Empty, whenLoaded } from "../../components/states";
import { CardTable, type Column } from "../../components/Table";
import { useAction } from "../../components/useAction";
import { formatDateTime, formatRelative } from "../../lib/format";
import { useAsync, useNow } from "../../lib/hooks";
import { href, navigate, withParams, type Params } from "../../lib/route";
import { AliasBadge, ModelVersionLink, RegistryNav } from "./common";
import "../artifacts/artifacts.css";
import "./registry.css";

const COLUMNS: readonly Column[] = [{ label: "Model" }, { label: "Versions", class: "num" }, { label: "Latest" }, { label: "Stages" }, { label: "Tags" }, { label: "Updated" }];

function ModelRow({ m, now, onTag }: { m: RegisteredModel; now: number; onTag: (tag: string) => void }) {
  const staged = STAGES.filter((s) => m.stages[s] !== null);
  return (
    <tr data-testid="model-row" data-name={m.name}>
      <td>
        <a class="mono" href={href.model(m.entity, m.name)} data-testid="model-link">
          {m.name}
        </a>
        {m.description !== null && m.description !== "" && <div class="muted model-summary">{m.description.split("\n")[0]}</div>}
      </td>
      <td class="num">{m.versions}</td>
      <td>{m.latest === null ? <span class="muted">-</span> : <ModelVersionLink entity={m.entity} model={m.name} version={m.latest} />}</td>
      <td>
        {staged.length === 0 ? (
          <span class="muted">-</span>
        ) : (
          <span class="alias-list">
            {staged.map((s) => (
              <span key={s} class="stage-pair" data-testid="model-stage" data-stage={s} data-version={m.stages[s] ?? ""}>
                <AliasBadge alias={s} locked={m.protected_aliases.includes(s)} /> {m.stages[s]}
              </span>
            ))}
          </span>
        )}
      </td>
      <td>
        {m.tags.map((t) => (
          <button key={t} type="button" class="tag tag-button" title={`Only models tagged ${t}`} data-testid="tag" onClick={() => { onTag(t); }}>
            {t}
          </button>
        ))}
      </td>
      <td title={formatDateTime(m.updated_at)}>{formatRelative(m.updated_at, now)}</td>
    </tr>
  );
}

function NewModel({ entity }: { entity: string }) {
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const action = useAction();
  return (
    <form
      class="card registry-form"
      aria-label="Register a model"
      data-testid="new-model"
      onSubmit={(e) => {
        e.preventDefault();
        const n = name.trim();
        if (n === "") {
          action.setError("name the model");
          return;
        }
        void action.run(async () => {
          const body: { name: string; description?: string } = { name: n };
          if (description.trim() !== "") body.description = description.trim();
          const m = await createModel(entity, body);
          navigate(href.model(entity, m.name));
        });
      }}
    >
      <h2 class="section-title">Register a model</h2>
      <div class="registry-form-row">
        <TextField label="Name" value={name} onValue={setName} testId="new-model-name" placeholder="mnist-classifier" mono />
        <TextField label="Description" value={description} onValue={setDescription} testId="new-model-description" placeholder="optional" />
        <button type="submit" class="btn btn-primary" disabled={action.busy} data-testid="new-model-submit">
          {action.busy ? "Registering…" : "Register"}
        </button>
      </div>
      <FieldError error={action.error} testId="new-model-error" />
    </form>
  );
}

/** `#/registry/{entity}?tag=`. */
export function ModelsPage({ entity, params, readOnly }: { entity: string; params: Params; readOnly: boolean }) {
  const tag = params.tag;
  const models = useAsync((signal) => listModels(entity, tag, signal), [entity, tag]);
  const now = useNow(30_000);
  const setTag = (t: string | undefined): void => {
    navigate(href.registry(entity, withParams(params, { tag: t })), true);
  };
  return (
    <div class="page registry-page" data-testid="registry-page" data-entity={entity}>
      <div class="run-header">
        <h1 class="page-title">Model registry</h1>
        <span class="muted">{entity}</span>
      </div>
      <RegistryNav entity={entity} current="models" local={readOnly} />
      {tag !== undefined && (
        <p class="registry-filter" data-testid="tag-filter">
          Models tagged <span class="tag">{tag}</span>{" "}
          <button type="button" class="btn btn-ghost btn-small" onClick={() => { setTag(undefined); }}>
            Show all
          </button>
        </p>
      )}
      {whenLoaded(models, { loading: "Loading models…", failed: "Cannot load the models" }, (list) =>
        list.length === 0 ? (
          <Empty title={tag === undefined ? `No models registered in ${entity} yet` : `No model of ${entity} is tagged ${tag}`}>
            <p>
              <code>{`run.link_model("model.pt", "registry/<name>", aliases=["staging"])`}</code> logs a model and links it here.
            </p>
          </Empty>
        ) : (
          <CardTable columns={COLUMNS} testId="models-table" label={`Models of ${entity}`}>
            {list.map((m) => (
              <ModelRow key={m.name} m={m} now={now} onTag={setTag} />
            ))}
          </CardTable>
        ),
      )}
      {!readOnly && <NewModel entity={entity} />}
    </div>
  );
}
