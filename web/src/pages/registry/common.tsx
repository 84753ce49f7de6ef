// Pieces every registry view shares: the entity's registry sections, alias badges (stages in
// their colours, protected ones locked), links to a model and to one of its versions.

import { STAGES } from "../../api/registry";
import { href } from "../../lib/route";

/** The registry's sections of an entity: its models and (on a server) its webhooks. */
export function RegistryNav({ entity, current, local }: { entity: string; current: "models" | "webhooks"; local: boolean }) {
  const link = (id: "models" | "webhooks", label: string, to: string) => (
    <a class={current === id ? "project-nav-link selected" : "project-nav-link"} href={to} aria-current={current === id ? "page" : undefined} data-testid={`registry-nav-${id}`}>
      {label}
    </a>
  );
  return (
    <nav class="project-nav" aria-label="Registry sections" data-testid="registry-nav">
      {link("models", "Models", href.registry(entity))}
      {!local && link("webhooks", "Webhooks", href.webhooks(entity))}
    </nav>
  );
}

function isStage(alias: string): boolean {
  return (STAGES as readonly string[]).includes(alias);
}

/** A lock marking a protected alias (named for screen readers). */
export function Lock({ alias }: { alias: string }) {
  return (
    <span class="alias-lock" role="img" aria-label={`${alias} is protected`} title="Protected: only entity admins and the model's maintainers move it" data-testid="alias-lock">
      <svg viewBox="0 0 12 14" width="9" height="11" aria-hidden="true" focusable="false">
        <path d="M3 6V4a3 3 0 0 1 6 0v2" fill="none" stroke="currentColor" stroke-width="1.6" />
        <rect x="1" y="6" width="10" height="8" rx="1.5" fill="currentColor" />
      </svg>
    </span>
  );
}

/** One alias as a badge: a stage in its colour, `latest` marked, a lock when protected. */
export function AliasBadge({ alias, locked }: { alias: string; locked: boolean }) {
  const cls = alias === "latest" ? "badge alias alias-latest" : isStage(alias) ? `badge alias stage stage-${alias}` : "badge alias";
  return (
    <span class={cls} data-testid="alias" data-alias={alias} data-protected={locked ? "true" : undefined}>
      {locked && <Lock alias={alias} />}
      {alias}
    </span>
  );
}

/** The aliases of a model version: stages first, then the others, `latest` last. */
export function ModelAliases({ aliases, protectedAliases }: { aliases: readonly string[]; protectedAliases: readonly string[] }) {
  if (aliases.length === 0) return <span class="muted">-</span>;
  const rank = (a: string): number => (a === "latest" ? 2 : isStage(a) ? 0 : 1);
  const sorted = [...aliases].sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
  return (
    <span class="alias-list" data-testid="aliases">
      {sorted.map((a) => (
        <AliasBadge key={a} alias={a} locked={protectedAliases.includes(a)} />
      ))}
    </span>
  );
}

/** A link to a model version's card (`model:v3`). */
export function ModelVersionLink({ entity, model, version }: { entity: string; model: string; version: string }) {
  return (
    <a class="mono version-link" href={href.modelVersion(entity, model, version)} data-testid="model-version-link" data-version={version}>
      {model}:{version}
    </a>
  );
}
