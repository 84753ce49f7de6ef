// The model registry of an entity (docs/registry.md): registered models, their versions (links
// to `model` artifact versions), aliases and stages, the audit trail and a version's card. No UI
// code here.

import { request } from "./client";
import { parseVersion } from "./artifacts";
import type { ArtifactVersion, Json } from "./types";

/** The standard stages: aliases the dashboard shows as badges of their own. */
export const STAGES = ["staging", "production", "archived"] as const;
export type Stage = (typeof STAGES)[number];

export interface RegisteredModel {
  entity: string;
  name: string;
  description: string | null;
  metadata: Record<string, Json>;
  tags: string[];
  /** Sorted. */
  protected_aliases: string[];
  /** User names, sorted. */
  maintainers: string[];
  versions: number;
  /** `vN` of the newest version, null while there is none. */
  latest: string | null;
  /** alias → `vN` (`latest` not included). */
  aliases: Record<string, string>;
  stages: Record<Stage, string | null>;
  created_at: number;
  updated_at: number;
  created_by: string | null;
}

export interface ModelRunRef {
  entity: string;
  project: string;
  id: string;
}

export interface ModelVersion {
  entity: string;
  model: string;
  /** `vN`. */
  version: string;
  index: number;
  /** Sorted; holds `latest` on the newest. */
  aliases: string[];
  linked_at: number;
  linked_by: string | null;
  /** The run that linked it. */
  run: ModelRunRef | null;
  /** The artifact version it links to. */
  artifact: ArtifactVersion;
}

export interface RegisteredModelDetail extends RegisteredModel {
  /** Newest first. */
  versions_list: ModelVersion[];
}

export type AuditAction = "link" | "alias.set" | "alias.remove" | "protect" | "unprotect" | "maintainers" | "update";

export interface AuditEntry {
  id: number;
  at: number;
  user: string | null;
  action: string;
  alias: string | null;
  from_version: string | null;
  to_version: string | null;
  detail: Json;
}

export interface CardRun {
  entity: string;
  project: string;
  id: string;
  name: string;
  state: string;
  config: Record<string, Json>;
  summary: Record<string, Json>;
}

export interface ModelCard {
  model: RegisteredModel;
  version: ModelVersion;
  /** The run that logged the artifact version (null once deleted). */
  run: CardRun | null;
  /** The committed artifact versions that run used. */
  datasets: ArtifactVersion[];
  /** Numeric summary values of that run, `a/b` keys. */
  evaluation: Record<string, number>;
}

export interface ModelPatch {
  description?: string;
  metadata?: Record<string, Json>;
  tags?: string[];
  protected_aliases?: string[];
  maintainers?: string[];
}

function seg(s: string): string {
  return encodeURIComponent(s);
}

/** `/registry/{entity}/models` with the entity escaped. */
export function modelsPath(entity: string): string {
  return `/registry/${seg(entity)}/models`;
}

/** `/registry/{entity}/models/{model}`. */
export function modelPath(entity: string, model: string): string {
  return `${modelsPath(entity)}/${seg(model)}`;
}

function opts(signal: AbortSignal | undefined, query?: Record<string, string | number | undefined>): { signal?: AbortSignal; query?: Record<string, string | number | undefined> } {
  const o: { signal?: AbortSignal; query?: Record<string, string | number | undefined> } = {};
  if (signal !== undefined) o.signal = signal;
  if (query !== undefined) o.query = query;
  return o;
}

// --- parsing: the answers made whole (lists sorted as promised, absent fields defaulted) ---

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function str(v: unknown, fallback = ""): string {
  return typeof v === "string" ? v : fallback;
}

function strOrNull(v: unknown): string | null {
  return typeof v === "string" ? v : null;
}

function num(v: unknown, fallback = 0): number {
  return typeof v === "number" && Number.isFinite(v) ? v : fallback;
}

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
}

function stringMap(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (isRecord(v)) for (const [k, x] of Object.entries(v)) if (typeof x === "string") out[k] = x;
  return out;
}

/** The index of `vN`, or -1. */
export function versionIndex(version: string): number {
  const m = /^v(\d+)$/.exec(version);
  return m === null ? -1 : Number(m[1]);
}

/** A registered model from the server, whole (`stages` has every standard stage). */
export function parseModel(raw: unknown): RegisteredModel {
  const m = isRecord(raw) ? raw : {};
  const aliases = stringMap(m.aliases);
  const given = isRecord(m.stages) ? m.stages : {};
  const stages = {} as Record<Stage, string | null>;
  for (const s of STAGES) stages[s] = typeof given[s] === "string" ? given[s] : (aliases[s] ?? null);
  return {
    entity: str(m.entity),
    name: str(m.name),
    description: strOrNull(m.description),
    metadata: isRecord(m.metadata) ? (m.metadata as Record<string, Json>) : {},
    tags: strings(m.tags),
    protected_aliases: strings(m.protected_aliases).sort(),
    maintainers: strings(m.maintainers).sort(),
    versions: num(m.versions),
    latest: strOrNull(m.latest),
    aliases,
    stages,
    created_at: num(m.created_at),
    updated_at: num(m.updated_at),
    created_by: strOrNull(m.created_by),
  };
}

/** A model version from the server, whole: `aliases` sorted, `artifact` parsed. */
export function parseModelVersion(raw: unknown): ModelVersion {
  const v = isRecord(raw) ? raw : {};
  const version = str(v.version);
  const run = isRecord(v.run) && typeof v.run.id === "string" && v.run.id !== "" ? { entity: str(v.run.entity), project: str(v.run.project), id: v.run.id } : null;
  return {
    entity: str(v.entity),
    model: str(v.model),
    version,
    index: typeof v.index === "number" ? v.index : Math.max(0, versionIndex(version)),
    aliases: strings(v.aliases).sort(),
    linked_at: num(v.linked_at),
    linked_by: strOrNull(v.linked_by),
    run,
    artifact: parseVersion(v.artifact),
  };
}

function byNewest(a: ModelVersion, b: ModelVersion): number {
  return b.index - a.index;
}

export function parseModelDetail(raw: unknown): RegisteredModelDetail {
  const m = isRecord(raw) ? raw : {};
  const list = Array.isArray(m.versions_list) ? m.versions_list.map(parseModelVersion) : [];
  return { ...parseModel(m), versions_list: list.sort(byNewest) };
}

export function parseAudit(raw: unknown): AuditEntry {
  const a = isRecord(raw) ? raw : {};
  return {
    id: num(a.id),
    at: num(a.at),
    user: strOrNull(a.user),
    action: str(a.action),
    alias: strOrNull(a.alias),
    from_version: strOrNull(a.from_version),
    to_version: strOrNull(a.to_version),
    detail: (a.detail ?? null) as Json,
  };
}

export function parseCard(raw: unknown): ModelCard {
  const c = isRecord(raw) ? raw : {};
  const r = isRecord(c.run) ? c.run : null;
  const evaluation: Record<string, number> = {};
  if (isRecord(c.evaluation)) for (const [k, v] of Object.entries(c.evaluation)) if (typeof v === "number" && Number.isFinite(v)) evaluation[k] = v;
  return {
    model: parseModel(c.model),
    version: parseModelVersion(c.version),
    run:
      r === null || typeof r.id !== "string"
        ? null
        : {
            entity: str(r.entity),
            project: str(r.project),
            id: r.id,
            name: str(r.name),
            state: str(r.state),
            config: isRecord(r.config) ? (r.config as Record<string, Json>) : {},
            summary: isRecord(r.summary) ? (r.summary as Record<string, Json>) : {},
          },
    datasets: Array.isArray(c.datasets) ? c.datasets.map(parseVersion) : [],
    evaluation,
  };
}

// --- the routes ---

/** The registered models of an entity, sorted by name (only those tagged `tag` when given). */
export async function listModels(entity: string, tag?: string, signal?: AbortSignal): Promise<RegisteredModel[]> {
  const raw = await request<unknown[]>(modelsPath(entity), opts(signal, { tag: tag === "" ? undefined : tag }));
  return raw.map(parseModel).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Register a model (409 when it exists). */
export async function createModel(entity: string, body: { name: string; description?: string; tags?: string[]; metadata?: Record<string, Json> }): Promise<RegisteredModel> {
  return parseModel(await request<unknown>(modelsPath(entity), { method: "POST", body }));
}

/** One model with its versions, newest first. */
export async function getModel(entity: string, model: string, signal?: AbortSignal): Promise<RegisteredModelDetail> {
  return parseModelDetail(await request<unknown>(modelPath(entity, model), opts(signal)));
}

/** Change a model's description, metadata, tags, protected aliases or maintainers. */
export async function patchModel(entity: string, model: string, patch: ModelPatch): Promise<RegisteredModelDetail> {
  return parseModelDetail(await request<unknown>(modelPath(entity, model), { method: "PATCH", body: patch }));
}

/** Delete a model (its artifact versions stay). */
export async function deleteModel(entity: string, model: string): Promise<void> {
  await request<unknown>(modelPath(entity, model), { method: "DELETE" });
}

/** A model's versions, newest first. */
export async function listModelVersions(entity: string, model: string, signal?: AbortSignal): Promise<ModelVersion[]> {
  const raw = await request<unknown[]>(`${modelPath(entity, model)}/versions`, opts(signal));
  return raw.map(parseModelVersion).sort(byNewest);
}

/** One version by `vN`, alias or `latest`. */
export async function getModelVersion(entity: string, model: string, ref: string, signal?: AbortSignal): Promise<ModelVersion> {
  return parseModelVersion(await request<unknown>(`${modelPath(entity, model)}/versions/${seg(ref)}`, opts(signal)));
}

/** The card of a version: its model, the run that logged it, the data it used, its evaluation. */
export async function getModelCard(entity: string, model: string, ref: string, signal?: AbortSignal): Promise<ModelCard> {
  return parseCard(await request<unknown>(`${modelPath(entity, model)}/versions/${seg(ref)}/card`, opts(signal)));
}

/**
 * Point `alias` at `version`. With `expect` (a `vN`, or null for "no version yet") the server
 * refuses with 409 when the alias names another version by now: a move decided on a stale page
 * is never applied.
 */
export async function setAlias(entity: string, model: string, alias: string, version: string, expect?: string | null): Promise<ModelVersion> {
  const body: { version: string; expect?: string | null } = { version };
  if (expect !== undefined) body.expect = expect;
  return parseModelVersion(await request<unknown>(`${modelPath(entity, model)}/aliases/${seg(alias)}`, { method: "PUT", body }));
}

/** Take `alias` off the version that has it; answers the version it named. */
export async function removeAlias(entity: string, model: string, alias: string): Promise<{ alias: string; from: string | null }> {
  const raw = await request<unknown>(`${modelPath(entity, model)}/aliases/${seg(alias)}`, { method: "DELETE" });
  const r = isRecord(raw) ? raw : {};
  return { alias: str(r.alias, alias), from: strOrNull(r.from) };
}

/** The audit trail of a model, newest first (`before`: an entry id, for the next page). */
export async function listAudit(entity: string, model: string, q: { limit?: number; before?: number } = {}, signal?: AbortSignal): Promise<AuditEntry[]> {
  const raw = await request<unknown[]>(`${modelPath(entity, model)}/audit`, opts(signal, { limit: q.limit, before: q.before }));
  return raw.map(parseAudit).sort((a, b) => b.at - a.at || b.id - a.id);
}
