// What an alias move does, in words: the confirmation before a promotion or a demotion, and an
// entry of the audit trail. Pure.

import { STAGES, type AuditEntry, type RegisteredModel } from "../../api/registry";

export interface Promotion {
  alias: string;
  /** The version the alias moves to. */
  to: string;
  /** The version it names now (replaced by the move), or null. */
  from: string | null;
  /** True when the alias already names `to`: nothing to do. */
  unchanged: boolean;
  /** Only entity admins and maintainers may move it. */
  protected: boolean;
}

/** What moving `alias` of `model` to `version` would do. */
export function promotion(model: Pick<RegisteredModel, "aliases" | "protected_aliases">, alias: string, version: string): Promotion {
  const from = model.aliases[alias] ?? null;
  return { alias, to: version, from, unchanged: from === version, protected: model.protected_aliases.includes(alias) };
}

/** The sentence of the promotion's confirmation: which version it replaces. */
export function promotionText(p: Promotion): string {
  if (p.unchanged) return `${p.alias} already names ${p.to}.`;
  if (p.from === null) return `${p.alias} names no version yet; it will name ${p.to}.`;
  return `${p.alias} now names ${p.from}; ${p.to} replaces ${p.from} as ${p.alias}.`;
}

/** The sentence of a demotion's confirmation. */
export function demotionText(alias: string, from: string): string {
  return `${from} stops being ${alias}; no version will be ${alias} until one is promoted.`;
}

/** The aliases a version can be promoted to: the stages first, then the model's other aliases. */
export function promotionTargets(model: Pick<RegisteredModel, "aliases" | "protected_aliases">): string[] {
  const others = new Set([...Object.keys(model.aliases), ...model.protected_aliases]);
  for (const s of STAGES) others.delete(s);
  others.delete("latest");
  return [...STAGES, ...[...others].sort()];
}

/** The aliases of a model as rows: alias, version, protected; stages first, then by name. */
export function aliasRows(model: Pick<RegisteredModel, "aliases" | "protected_aliases">): { alias: string; version: string | null; protected: boolean }[] {
  const names = new Set([...Object.keys(model.aliases), ...model.protected_aliases]);
  names.delete("latest");
  const stage = (a: string): number => {
    const i = (STAGES as readonly string[]).indexOf(a);
    return i < 0 ? STAGES.length : i;
  };
  return [...names]
    .sort((a, b) => stage(a) - stage(b) || (a < b ? -1 : a > b ? 1 : 0))
    .map((alias) => ({ alias, version: model.aliases[alias] ?? null, protected: model.protected_aliases.includes(alias) }));
}

function list(v: unknown): string {
  return Array.isArray(v) ? v.filter((x) => typeof x === "string").join(", ") : "";
}

/** One audit entry in words (`production: v1 → v2`). */
export function auditText(e: AuditEntry): string {
  const d = typeof e.detail === "object" && e.detail !== null && !Array.isArray(e.detail) ? e.detail : {};
  switch (e.action) {
    case "link":
      return `linked ${e.to_version ?? "a version"}`;
    case "alias.set":
      return e.from_version === null ? `${e.alias ?? "alias"} set to ${e.to_version ?? "?"}` : `${e.alias ?? "alias"} moved ${e.from_version} → ${e.to_version ?? "?"}`;
    case "alias.remove":
      return `${e.alias ?? "alias"} removed from ${e.from_version ?? "?"}`;
    case "protect":
      return `${e.alias ?? "alias"} protected`;
    case "unprotect":
      return `${e.alias ?? "alias"} unprotected`;
    case "maintainers": {
      // detail: {"from", "to", "added", "removed"} (user names)
      const who = list(d.to);
      return who === "" ? "maintainers removed" : `maintainers set to ${who}`;
    }
    case "update": {
      // detail: {"changed": {field: [before, after]}}
      const changed = typeof d.changed === "object" && d.changed !== null && !Array.isArray(d.changed) ? Object.keys(d.changed).sort() : [];
      return changed.length === 0 ? "model updated" : `updated ${changed.join(", ")}`;
    }
    default:
      return e.action;
  }
}
