// The chart grid's layout: which panels exist, their order, sections collapsed and per-panel
// options. Saved per project in the workspace document (under "charts") and, for sharing, the
// panel list goes in the URL (`panels=`). Pure functions, tested.

import { X_STEP, type XAxis } from "./align";

/** Options of one chart; a panel's own options override the grid's defaults. */
export interface ChartOptions {
  x: XAxis;
  smoothing: number;
  log: boolean;
}

/** A panel: one metric, optionally plotted against another metric or with its own options. */
export interface PanelSpec {
  id: string;
  key: string;
  options: Partial<ChartOptions>;
}

/** What is saved (the "charts" member of the project's workspace document). */
export interface Layout {
  version: 1;
  defaults: ChartOptions;
  /** Sections (key prefixes, "" = ungrouped) shown collapsed. */
  collapsed: string[];
  /** Panel ids in display order; panels not listed follow, sorted by key. */
  order: string[];
  /** Ids of the one-per-key panels the user removed. */
  removed: string[];
  /** Panels the user added beyond one per key. */
  added: PanelSpec[];
  /** Per-panel options of the one-per-key panels, by id (= key). */
  options: Record<string, Partial<ChartOptions>>;
}

export const DEFAULT_OPTIONS: ChartOptions = { x: X_STEP, smoothing: 0, log: false };

export function emptyLayout(): Layout {
  return { version: 1, defaults: { ...DEFAULT_OPTIONS }, collapsed: [], order: [], removed: [], added: [], options: {} };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((s): s is string => typeof s === "string") : [];
}

/** The options found in `v` (anything malformed is left out). */
export function parseOptions(v: unknown): Partial<ChartOptions> {
  const out: Partial<ChartOptions> = {};
  if (!isRecord(v)) return out;
  if (typeof v.x === "string" && v.x !== "") out.x = v.x;
  if (typeof v.smoothing === "number" && Number.isFinite(v.smoothing)) out.smoothing = clampSmoothing(v.smoothing);
  if (typeof v.log === "boolean") out.log = v.log;
  return out;
}

/** Smoothing weights stay in 0..0.99. */
export function clampSmoothing(v: number): number {
  if (!Number.isFinite(v)) return 0;
  return Math.min(0.99, Math.max(0, Math.round(v * 100) / 100));
}

/** A layout from a saved document member; unknown or malformed parts fall back to defaults. */
export function parseLayout(v: unknown): Layout {
  const out = emptyLayout();
  if (!isRecord(v)) return out;
  out.defaults = { ...DEFAULT_OPTIONS, ...parseOptions(v.defaults) };
  out.collapsed = strings(v.collapsed);
  out.order = strings(v.order);
  out.removed = strings(v.removed);
  if (Array.isArray(v.added)) {
    for (const p of v.added) {
      if (isRecord(p) && typeof p.id === "string" && typeof p.key === "string" && p.key !== "") {
        out.added.push({ id: p.id, key: p.key, options: parseOptions(p.options) });
      }
    }
  }
  if (isRecord(v.options)) {
    for (const [id, o] of Object.entries(v.options)) {
      const opts = parseOptions(o);
      if (Object.keys(opts).length > 0) out.options[id] = opts;
    }
  }
  return out;
}

/** The JSON form of a layout (what `parseLayout` reads back). */
export function serializeLayout(layout: Layout): Record<string, unknown> {
  return {
    version: 1,
    defaults: { ...layout.defaults },
    collapsed: [...layout.collapsed],
    order: [...layout.order],
    removed: [...layout.removed],
    added: layout.added.map((p) => ({ id: p.id, key: p.key, options: { ...p.options } })),
    options: Object.fromEntries(Object.entries(layout.options).map(([k, o]) => [k, { ...o }])),
  };
}

/** The section of a key: its first `/`-separated part, "" for keys without one. */
export function sectionOf(key: string): string {
  const i = key.indexOf("/");
  return i > 0 ? key.slice(0, i) : "";
}

/** Section order: named sections alphabetically with `system` after them, ungrouped last. */
export function compareSections(a: string, b: string): number {
  const rank = (s: string): number => (s === "" ? 2 : s === "system" ? 1 : 0);
  return rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0);
}

const collator = new Intl.Collator("en", { numeric: true });

/** The id of a panel added for `key` (against `x` when it is a custom metric), unique in `taken`. */
export function newPanelId(key: string, x: XAxis | undefined, taken: ReadonlySet<string>): string {
  const base = x !== undefined && x !== X_STEP ? `${key}@${x}` : key;
  if (!taken.has(base)) return base;
  for (let i = 2; ; i++) {
    const id = `${base}#${i}`;
    if (!taken.has(id)) return id;
  }
}

/** The spec of a panel id seen in a URL: `key`, `key@xmetric`, with an optional `#n` suffix. */
export function specFromId(id: string): PanelSpec {
  const hash = id.lastIndexOf("#");
  const base = hash > 0 && /^#\d+$/.test(id.slice(hash)) ? id.slice(0, hash) : id;
  const at = base.lastIndexOf("@");
  if (at > 0) return { id, key: base.slice(0, at), options: { x: base.slice(at + 1) } };
  return { id, key: base, options: {} };
}

/** A section of the grid, with its panels in display order. */
export interface Section {
  name: string;
  panels: PanelSpec[];
}

/**
 * The panels to show: one per key (minus removed ones) plus the added ones, or exactly the ids of
 * `urlPanels` when the URL names them; ordered by `layout.order`, then by key; grouped into sections.
 */
export function resolvePanels(layout: Layout, keys: readonly string[], urlPanels?: readonly string[]): Section[] {
  const byId = new Map<string, PanelSpec>();
  for (const key of keys) byId.set(key, { id: key, key, options: layout.options[key] ?? {} });
  for (const p of layout.added) byId.set(p.id, p);
  let panels: PanelSpec[];
  if (urlPanels !== undefined && urlPanels.length > 0) {
    panels = [...new Set(urlPanels)].map((id) => byId.get(id) ?? specFromId(id));
  } else {
    const removed = new Set(layout.removed);
    panels = [...byId.values()].filter((p) => !removed.has(p.id));
  }
  const rank = new Map(layout.order.map((id, i) => [id, i]));
  const listed = urlPanels !== undefined && urlPanels.length > 0 ? new Map(urlPanels.map((id, i) => [id, i])) : rank;
  panels.sort((a, b) => {
    const ra = listed.get(a.id);
    const rb = listed.get(b.id);
    if (ra !== undefined && rb !== undefined) return ra - rb;
    if (ra !== undefined) return -1;
    if (rb !== undefined) return 1;
    return collator.compare(a.key, b.key) || collator.compare(a.id, b.id);
  });
  const sections = new Map<string, PanelSpec[]>();
  for (const p of panels) {
    const name = sectionOf(p.key);
    let list = sections.get(name);
    if (list === undefined) {
      list = [];
      sections.set(name, list);
    }
    list.push(p);
  }
  return [...sections.entries()]
    .sort(([a], [b]) => compareSections(a, b))
    .map(([name, list]) => ({ name, panels: list }));
}

/** All panel ids of `sections`, in display order. */
export function panelOrder(sections: readonly Section[]): string[] {
  return sections.flatMap((s) => s.panels.map((p) => p.id));
}

/**
 * The display order after moving panel `id` before `beforeId` (or to the end of its section when
 * `beforeId` is null). Moves stay within the panel's section.
 */
export function movePanel(sections: readonly Section[], id: string, beforeId: string | null): string[] {
  const out: string[] = [];
  for (const s of sections) {
    const ids = s.panels.map((p) => p.id);
    if (!ids.includes(id) || beforeId === id) {
      out.push(...ids);
      continue;
    }
    const rest = ids.filter((x) => x !== id);
    const at = beforeId === null ? -1 : rest.indexOf(beforeId);
    if (at < 0) rest.push(id);
    else rest.splice(at, 0, id);
    out.push(...rest);
  }
  return out;
}

/** The display order after moving panel `id` one place up (-1) or down (+1) within its section. */
export function shiftPanel(sections: readonly Section[], id: string, by: -1 | 1): string[] {
  const out: string[] = [];
  for (const s of sections) {
    const ids = s.panels.map((p) => p.id);
    const i = ids.indexOf(id);
    const j = i + by;
    if (i >= 0 && j >= 0 && j < ids.length) {
      ids[i] = ids[j] as string;
      ids[j] = id;
    }
    out.push(...ids);
  }
  return out;
}

/** `panels=` value: ids joined by commas (commas inside ids escaped). */
export function formatPanelsParam(ids: readonly string[]): string {
  return ids.map((id) => id.replace(/%/g, "%25").replace(/,/g, "%2C")).join(",");
}

/** The ids of a `panels=` value. */
export function parsePanelsParam(v: string | undefined): string[] {
  if (v === undefined || v === "") return [];
  return v
    .split(",")
    .filter((s) => s !== "")
    .map((s) => s.replace(/%2C/gi, ",").replace(/%25/g, "%"));
}

/** Grid defaults from URL parameters (`x`, `smooth`, `log`), over `base`. */
export function optionsFromParams(params: Record<string, string>, base: ChartOptions): ChartOptions {
  const out = { ...base };
  if (params.x !== undefined && params.x !== "") out.x = params.x;
  if (params.smooth !== undefined) {
    const v = Number(params.smooth);
    if (Number.isFinite(v)) out.smoothing = clampSmoothing(v);
  }
  if (params.log !== undefined) out.log = params.log === "1" || params.log === "true";
  return out;
}

/** URL parameters for grid defaults (only those that differ from the built-in defaults). */
export function optionsToParams(o: ChartOptions): Record<string, string | undefined> {
  return {
    x: o.x === DEFAULT_OPTIONS.x ? undefined : o.x,
    smooth: o.smoothing === 0 ? undefined : String(o.smoothing),
    log: o.log ? "1" : undefined,
  };
}

/** The effective options of a panel. */
export function panelOptions(layout: Layout, defaults: ChartOptions, p: PanelSpec): ChartOptions {
  return { ...defaults, ...p.options, ...(layout.options[p.id] ?? {}) };
}
