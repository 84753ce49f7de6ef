// A project's artifacts: the types (with their counts) on the left, the collections of the
// chosen type (or all) on the right; a collection opens its versions.

import { useMemo, useState } from "preact/hooks";
import { listArtifactTypes, listCollections } from "../../api/artifacts";
import { Badge } from "../../components/Badge";
import { ProjectNav } from "../../components/ProjectNav";
import { Empty, whenLoaded } from "../../components/states";
import { CardTable } from "../../components/Table";
import { formatBytes, formatDateTime, formatRelative } from "../../lib/format";
import { useAsync, useNow } from "../../lib/hooks";
import { href, navigate, withParams, type Params } from "../../lib/route";
import { AliasBadges, VersionLink } from "./common";
import "./artifacts.css";

/** `#/p/{entity}/{project}/artifacts?type=`. */
export function ArtifactsPage({ entity, project, params }: { entity: string; project: string; params: Params }) {
  const type = params.type;
  const types = useAsync((signal) => listArtifactTypes(entity, project, signal), [entity, project]);
  const collections = useAsync((signal) => listCollections(entity, project, type, signal), [entity, project, type]);
  const [q, setQ] = useState("");
  const now = useNow(30_000);
  const shown = useMemo(() => {
    const needle = q.trim().toLowerCase();
    const all = collections.data ?? [];
    return needle === "" ? all : all.filter((c) => c.name.toLowerCase().includes(needle));
  }, [collections.data, q]);
  const setType = (t: string | undefined): void => {
    navigate(href.artifacts(entity, project, withParams(params, { type: t })), true);
  };
  const total = (types.data ?? []).reduce((n, t) => n + t.collections, 0);

  return (
    <div class="page artifacts-page" data-testid="artifacts-page">
      <div class="workspace-header">
        <h1 class="page-title">
          <span class="muted">{entity} /</span> {project}
        </h1>
        <ProjectNav entity={entity} project={project} current="artifacts" />
      </div>
      {whenLoaded(types, { loading: "Loading artifacts…", failed: "Cannot load the artifacts" }, (list) =>
        list.length === 0 ? (
          <Empty title="No artifacts in this project yet">
            <p>
              Log one from a run: <code>{'run.log_artifact(fwtrack.Artifact("mnist-train", type="dataset"))'}</code>, or{" "}
              <code>fwtrack artifact put PATH --name {project}/NAME --type dataset</code>.
            </p>
          </Empty>
        ) : (
          <div class="artifacts-layout">
            <nav class="card artifact-types" aria-label="Artifact types" data-testid="artifact-types">
              <ul>
                <li>
                  <button type="button" class={type === undefined ? "list-button selected" : "list-button"} aria-current={type === undefined} onClick={() => { setType(undefined); }} data-testid="artifact-type" data-type="">
                    All types <span class="muted">{total}</span>
                  </button>
                </li>
                {list.map((t) => (
                  <li key={t.type}>
                    <button
                      type="button"
                      class={type === t.type ? "list-button selected" : "list-button"}
                      aria-current={type === t.type}
                      onClick={() => {
                        setType(t.type);
                      }}
                      data-testid="artifact-type"
                      data-type={t.type}
                      title={`${t.collections} ${t.collections === 1 ? "collection" : "collections"}, ${t.versions} ${t.versions === 1 ? "version" : "versions"}`}
                    >
                      {t.type}{" "}
                      <span class="muted">
                        {t.collections} · {t.versions} {t.versions === 1 ? "version" : "versions"}
                      </span>
                    </button>
                  </li>
                ))}
              </ul>
            </nav>
            <section class="artifact-collections" aria-label="Collections">
              <div class="toolbar">
                <input
                  class="input input-small"
                  type="search"
                  placeholder="Search collections…"
                  aria-label="Search collections"
                  value={q}
                  onInput={(e) => {
                    setQ(e.currentTarget.value);
                  }}
                />
              </div>
              {whenLoaded(collections, { loading: "Loading collections…", failed: "Cannot load the collections" }, () =>
                shown.length === 0 ? (
                  <Empty title={q === "" ? "No collections of this type" : "No collection matches"} />
                ) : (
                  <CardTable columns={["Collection", "Type", { label: "Versions", class: "num" }, "Latest", "Aliases", { label: "Size", class: "num" }, "Updated"]} testId="collections-table" label="Collections">
                    {shown.map((c) => (
                      <tr key={c.name} data-testid="collection-row" data-name={c.name} data-type={c.type}>
                        <td>
                          <a class="project-link" href={href.collection(entity, project, c.name)} data-testid="collection-link">
                            <strong>{c.name}</strong>
                          </a>
                          {c.description !== null && c.description !== "" && <div class="muted small">{c.description}</div>}
                        </td>
                        <td>
                          <Badge>{c.type}</Badge>
                        </td>
                        <td class="num">{c.versions.toLocaleString("en-US")}</td>
                        <td>{c.latest !== "" && <VersionLink entity={entity} project={project} name={c.name} version={c.latest} />}</td>
                        <td>
                          <AliasBadges aliases={Object.entries(c.aliases).map(([alias, v]) => `${alias} → ${v}`)} />
                        </td>
                        <td class="num" title={`${c.size.toLocaleString("en-US")} bytes (latest version)`}>
                          {formatBytes(c.size)}
                        </td>
                        <td title={formatDateTime(c.updated_at)}>{formatRelative(c.updated_at, now)}</td>
                      </tr>
                    ))}
                  </CardTable>
                ),
              )}
            </section>
          </div>
        ),
      )}
    </div>
  );
}
