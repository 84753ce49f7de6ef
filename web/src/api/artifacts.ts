// Artifacts of a project (docs/server.md, "Artifacts"): types, collections, versions, their
// files, aliases, lineage and diffs; and what a run logged and used. No UI code here.

import { API, request, requestBlob } from "./client";
import { runsPath } from "./runs";
import type {
  ArtifactCollection,
  ArtifactCollectionDetail,
  ArtifactDiff,
  ArtifactFileListing,
  ArtifactTypeInfo,
  ArtifactUse,
  ArtifactVersion,
  Json,
  Lineage,
  LineageNode,
  RunArtifacts,
  UnresolvedArtifact,
} from "./types";

function seg(s: string): string {
  return encodeURIComponent(s);
}

function opts(signal: AbortSignal | undefined, query?: Record<string, string | number | undefined>): { signal?: AbortSignal; query?: Record<string, string | number | undefined> } {
  const o: { signal?: AbortSignal; query?: Record<string, string | number | undefined> } = {};
  if (signal !== undefined) o.signal = signal;
  if (query !== undefined) o.query = query;
  return o;
}

/** `/artifacts/{entity}/{project}` with each part escaped. */
export function artifactsPath(entity: string, project: string): string {
  return `/artifacts/${seg(entity)}/${seg(project)}`;
}

/** `…/collections/{name}`. */
export function collectionPath(entity: string, project: string, name: string): string {
  return `${artifactsPath(entity, project)}/collections/${seg(name)}`;
}

/** `…/collections/{name}/versions/{ref}`; `ref` is `vN`, an alias, `latest` or a `blake3:` digest. */
export function versionPath(entity: string, project: string, name: string, ref: string): string {
  return `${collectionPath(entity, project, name)}/versions/${seg(ref)}`;
}

/** The API path of one file of a version (each path segment escaped), relative to the API base. */
export function artifactFilePath(entity: string, project: string, name: string, ref: string, path: string): string {
  return `${versionPath(entity, project, name, ref)}/files/${path.split("/").map(seg).join("/")}`;
}

/** The URL of a file of a version (a link target: the same origin serves the API). */
export function artifactFileUrl(entity: string, project: string, name: string, ref: string, path: string): string {
  return API + artifactFilePath(entity, project, name, ref, path);
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

/** A version from the server, whole: `aliases` sorted, `metadata` an object, `run` null or a ref. */
export function parseVersion(raw: unknown): ArtifactVersion {
  const v = isRecord(raw) ? raw : {};
  const version = str(v.version);
  const index = typeof v.index === "number" ? v.index : Number(/^v(\d+)$/.exec(version)?.[1] ?? 0);
  const run = isRecord(v.run) ? { entity: strOrNull(v.run.entity), project: str(v.run.project), id: str(v.run.id) } : null;
  return {
    id: str(v.id),
    entity: strOrNull(v.entity),
    project: str(v.project),
    name: str(v.name),
    type: str(v.type),
    version,
    index,
    digest: str(v.digest),
    size: num(v.size),
    files: num(v.files),
    aliases: Array.isArray(v.aliases) ? v.aliases.filter((a): a is string => typeof a === "string").sort() : [],
    description: strOrNull(v.description),
    metadata: isRecord(v.metadata) ? (v.metadata as Record<string, Json>) : {},
    created_at: num(v.created_at),
    created_by: strOrNull(v.created_by),
    run: run !== null && run.id !== "" ? run : null,
  };
}

/** True for a logged/used artifact the server holds (it has a version). */
export function isResolved(a: ArtifactVersion | UnresolvedArtifact): a is ArtifactVersion {
  return typeof a.version === "string" && a.version !== "";
}

function parseRunArtifact(raw: unknown): ArtifactVersion | UnresolvedArtifact {
  const v = isRecord(raw) ? raw : {};
  if (typeof v.version === "string" && v.version !== "") return parseVersion(v);
  return { project: str(v.project), name: str(v.name), digest: str(v.digest), type: strOrNull(v.type), version: null };
}

function parseCollection(raw: unknown): ArtifactCollection {
  const c = isRecord(raw) ? raw : {};
  const aliases: Record<string, string> = {};
  if (isRecord(c.aliases)) for (const [k, v] of Object.entries(c.aliases)) if (typeof v === "string") aliases[k] = v;
  return {
    project: str(c.project),
    name: str(c.name),
    type: str(c.type),
    description: strOrNull(c.description),
    versions: num(c.versions),
    latest: str(c.latest),
    aliases,
    size: num(c.size),
    created_at: num(c.created_at),
    updated_at: num(c.updated_at),
  };
}

// --- the routes ---

/** The artifact types of a project with their collection and version counts. */
export function listArtifactTypes(entity: string, project: string, signal?: AbortSignal): Promise<ArtifactTypeInfo[]> {
  return request<ArtifactTypeInfo[]>(`${artifactsPath(entity, project)}/types`, opts(signal));
}

/** The collections of a project, of one type when `type` is given. */
export async function listCollections(entity: string, project: string, type?: string, signal?: AbortSignal): Promise<ArtifactCollection[]> {
  const raw = await request<unknown[]>(`${artifactsPath(entity, project)}/collections`, opts(signal, { type: type === "" ? undefined : type }));
  return raw.map(parseCollection);
}

/** One collection with its versions, newest first. */
export async function getCollection(entity: string, project: string, name: string, signal?: AbortSignal): Promise<ArtifactCollectionDetail> {
  const raw = await request<Record<string, unknown>>(collectionPath(entity, project, name), opts(signal));
  const versions = Array.isArray(raw.versions_list) ? raw.versions_list.map(parseVersion) : [];
  versions.sort((x, y) => y.index - x.index);
  return { ...parseCollection(raw), versions_list: versions };
}

/** Versions of a project (of one type or collection), newest first. */
export async function listVersions(entity: string, project: string, q: { type?: string; name?: string } = {}, signal?: AbortSignal): Promise<ArtifactVersion[]> {
  const raw = await request<unknown[]>(`${artifactsPath(entity, project)}/versions`, opts(signal, { type: q.type, name: q.name }));
  return raw.map(parseVersion);
}

/** One version by `vN`, alias, `latest` or digest. */
export async function getVersion(entity: string, project: string, name: string, ref: string, signal?: AbortSignal): Promise<ArtifactVersion> {
  return parseVersion(await request<unknown>(versionPath(entity, project, name, ref), opts(signal)));
}

export interface VersionPatch {
  /** The full set of this version's aliases (without `latest`): moved here from other versions. */
  aliases?: string[];
  description?: string;
}

/** Set a version's aliases and/or description; answers the version as it is now. */
export async function patchVersion(entity: string, project: string, name: string, ref: string, patch: VersionPatch): Promise<ArtifactVersion> {
  return parseVersion(await request<unknown>(versionPath(entity, project, name, ref), { method: "PATCH", body: patch }));
}

/** The stored manifest of a version (`{"version": 1, "entries": {...}}`). */
export function getManifest(entity: string, project: string, name: string, ref: string, signal?: AbortSignal): Promise<Record<string, Json>> {
  return request<Record<string, Json>>(`${versionPath(entity, project, name, ref)}/manifest`, opts(signal));
}

/** One level of a version's files under `prefix` (`""` or `dir/`), a page of at most `limit`. */
export async function listArtifactFiles(
  entity: string,
  project: string,
  name: string,
  ref: string,
  q: { prefix?: string; limit?: number; cursor?: string | null } = {},
  signal?: AbortSignal,
): Promise<ArtifactFileListing> {
  const query = { prefix: q.prefix === "" ? undefined : q.prefix, limit: q.limit, cursor: q.cursor ?? undefined };
  const raw = await request<Partial<ArtifactFileListing>>(`${versionPath(entity, project, name, ref)}/files`, opts(signal, query));
  return {
    prefix: raw.prefix ?? q.prefix ?? "",
    dirs: raw.dirs ?? [],
    files: raw.files ?? [],
    next_cursor: raw.next_cursor ?? null,
  };
}

/** One file's bytes (sent with the API key). */
export function fetchArtifactFile(entity: string, project: string, name: string, ref: string, path: string, signal?: AbortSignal): Promise<Blob> {
  return requestBlob(artifactFilePath(entity, project, name, ref, path), opts(signal));
}

/** The runs that used a version. */
export function usedBy(entity: string, project: string, name: string, ref: string, signal?: AbortSignal): Promise<ArtifactUse[]> {
  return request<ArtifactUse[]>(`${versionPath(entity, project, name, ref)}/used_by`, opts(signal));
}

/** The largest lineage depth the server answers. */
export const MAX_LINEAGE_DEPTH = 5;

/** The runs and versions around a version, `depth` hops (1..5) each way. */
export async function getLineage(entity: string, project: string, name: string, ref: string, depth: number, signal?: AbortSignal): Promise<Lineage> {
  const d = Math.max(1, Math.min(MAX_LINEAGE_DEPTH, Math.round(depth)));
  const raw = await request<Partial<Lineage>>(`${versionPath(entity, project, name, ref)}/lineage`, opts(signal, { depth: d }));
  const nodes = ((raw.nodes ?? []) as unknown[]).filter((n): n is LineageNode => isRecord(n) && typeof n.id === "string" && (n.kind === "run" || n.kind === "artifact"));
  const ids = new Set(nodes.map((n) => n.id));
  // edges between the nodes given (an edge to a node past the depth has nothing to point at)
  const edges = (raw.edges ?? []).filter((e) => ids.has(e.from) && ids.has(e.to));
  return { nodes, edges };
}

/** The files and metadata that differ from version `a` to version `b` of a collection. */
export async function diffVersions(entity: string, project: string, name: string, a: string, b: string, signal?: AbortSignal): Promise<ArtifactDiff> {
  const raw = await request<Partial<ArtifactDiff>>(`${collectionPath(entity, project, name)}/diff`, opts(signal, { a, b }));
  const meta: Partial<ArtifactDiff["metadata"]> = raw.metadata ?? {};
  return {
    a: parseVersion(raw.a),
    b: parseVersion(raw.b),
    added: raw.added ?? [],
    removed: raw.removed ?? [],
    changed: raw.changed ?? [],
    unchanged: num(raw.unchanged),
    metadata: { added: meta.added ?? {}, removed: meta.removed ?? {}, changed: meta.changed ?? {} },
  };
}

/** What a run logged and used (artifacts not on the server yet have `version: null`). */
export async function runArtifacts(entity: string, project: string, runId: string, signal?: AbortSignal): Promise<RunArtifacts> {
  const raw = await request<{ logged?: unknown[]; used?: unknown[] }>(`${runsPath(entity, project, runId)}/artifacts`, opts(signal));
  return { logged: (raw.logged ?? []).map(parseRunArtifact), used: (raw.used ?? []).map(parseRunArtifact) };
}
