// The chart grid (web/README.md, "Contracts"): one chart per metric key, in collapsible sections
// by key prefix, all given runs overlaid, a shared cursor; it fetches its own data (only panels
// in view, one batched request), polls while live, and keeps its layout (saved per project).

import type { ComponentChildren } from "preact";
import { useCallback, useEffect, useMemo, useRef, useState } from "preact/hooks";
import { parseRoute, formatRoute, navigate, withParams, type Params } from "../lib/route";
import { poll } from "../lib/poll";
import { X_STEP, type XAxis } from "./align";
import type { ChartRun } from "./build";
import { Chart } from "./Chart";
import { SmoothingInput, XAxisOptions } from "./controls";
import type { ChartGrouping } from "./groupChart";
import { CustomChartPanels } from "./vega/CustomChartPanels";
import {
  emptyLayout,
  formatPanelsParam,
  movePanel,
  newPanelId,
  optionsFromParams,
  optionsToParams,
  panelOrder,
  panelOptions,
  parseLayout,
  parsePanelsParam,
  resolvePanels,
  serializeLayout,
  shiftPanel,
  type ChartOptions,
  type Layout,
  type PanelSpec,
  type Section,
} from "./layout";
import { HistoryStore } from "./store";
import { loadWorkspace, saveWorkspaceMember } from "./workspaceDoc";
import "./charts.css";

export type { ChartRun } from "./build";

export interface PanelGridProps {
  entity: string;
  project: string;
  runs: ChartRun[];
  /** Metric keys to chart (the union of the runs' `keys`). */
  keys: string[];
  /** Poll for new points every 2 s (while the tab is visible). */
  live: boolean;
  /** "project": the layout is saved in the project's workspace document; "run": kept in memory. */
  layoutScope: "project" | "run";
  /** Draw the runs in groups (the workspace's "Group by"). */
  grouping?: ChartGrouping | undefined;
  /** More controls for each chart's header (the workspace's "Add to report"). */
  panelActions?: (panel: PanelSpec, options: ChartOptions) => ComponentChildren;
  /** The viewer may not write the project (a team's `viewer`): layout changes stay in this page, unsaved. */
  readOnly?: boolean;
}

/** The workspace document member the grid owns. */
export const LAYOUT_MEMBER = "charts";
const LIVE_INTERVAL_MS = 2000;
const SAVE_DELAY_MS = 600;

let gridCount = 0;

function routeParams(): Params {
  return typeof window === "undefined" ? {} : parseRoute(window.location.hash).params;
}

/** Write `changes` into the current route's query (replacing the history entry). */
function updateUrl(changes: Record<string, string | undefined>): void {
  const route = parseRoute(window.location.hash);
  if (route.page === "notfound") return;
  const next = formatRoute({ ...route, params: withParams(route.params, changes) });
  navigate(next, true);
}

const SECTION_LABEL = (name: string): string => (name === "" ? "Charts" : name);

/** The chart grid (see the module comment). */
export function PanelGrid(props: PanelGridProps) {
  const { entity, project, live, layoutScope } = props;
  const store = useMemo(() => new HistoryStore(entity, project), [entity, project]);
  useEffect(() => () => { store.dispose(); }, [store]);
  const syncKey = useMemo(() => `fwtrack-grid-${++gridCount}`, []);

  // Runs: keep one array identity while nothing about them changes.
  const runsSig = props.runs.map((r) => `${r.id}\u0000${r.name}\u0000${r.color}\u0000${r.start ?? ""}\u0000${r.running ?? ""}`).join("\u0001");
  const runsRef = useRef(props.runs);
  runsRef.current = props.runs;
  const runs = useMemo(() => runsRef.current, [runsSig]);
  useEffect(() => {
    const anyFlag = runs.some((r) => r.running !== undefined);
    store.setRuns(
      runs.map((r) => r.id),
      anyFlag ? runs.filter((r) => r.running === true).map((r) => r.id) : null,
    );
  }, [store, runs]);

  // Live: one request at a time, paused while the tab is hidden.
  useEffect(() => {
    if (!live) return;
    return poll(() => store.refresh(), LIVE_INTERVAL_MS);
  }, [store, live]);

  // URL: panels= (the panel list when customised) and x / smooth / log (grid defaults).
  const [params, setParams] = useState<Params>(routeParams);
  useEffect(() => {
    const onHash = (): void => { setParams(routeParams()); };
    window.addEventListener("hashchange", onHash);
    return () => { window.removeEventListener("hashchange", onHash); };
  }, []);

  // Layout: loaded from the project's workspace document, saved back after changes.
  const [layout, setLayout] = useState<Layout>(emptyLayout);
  const saveTimer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const canSave = useRef(layoutScope === "project" && props.readOnly !== true);
  const dirty = useRef(false);
  useEffect(() => {
    if (layoutScope !== "project") return;
    const ctrl = new AbortController();
    loadWorkspace(entity, project, ctrl.signal)
      .then((doc) => {
        if (doc === null) {
          canSave.current = false;
          return;
        }
        if (!dirty.current) setLayout(parseLayout(doc[LAYOUT_MEMBER]));
      })
      .catch(() => undefined);
    return () => { ctrl.abort(); };
  }, [entity, project, layoutScope]);
  useEffect(
    () => () => {
      if (saveTimer.current !== null) clearTimeout(saveTimer.current);
    },
    [],
  );

  const save = useCallback(
    (next: Layout): void => {
      if (!canSave.current) return;
      if (saveTimer.current !== null) clearTimeout(saveTimer.current);
      saveTimer.current = setTimeout(() => {
        saveTimer.current = null;
        saveWorkspaceMember(entity, project, LAYOUT_MEMBER, serializeLayout(next))
          .then((ok) => {
            if (!ok) canSave.current = false;
          })
          .catch(() => undefined);
      }, SAVE_DELAY_MS);
    },
    [entity, project],
  );

  const urlPanels = useMemo(() => parsePanelsParam(params.panels), [params.panels]);
  const defaults = useMemo(() => optionsFromParams(params, layout.defaults), [params, layout.defaults]);
  const keys = props.keys;
  const keysSig = keys.join("\u0000");
  const sections = useMemo(
    () => resolvePanels(layout, keys, urlPanels.length > 0 ? urlPanels : undefined),
    [layout, keysSig, urlPanels],
  );

  /** Apply a layout change; `panelsChanged` also writes the panel list into the URL. */
  const change = useCallback(
    (fn: (l: Layout) => Layout, panelsChanged: boolean, order?: string[]): void => {
      dirty.current = true;
      setLayout((prev) => {
        const next = { ...fn(prev) };
        if (order !== undefined) next.order = order;
        save(next);
        if (panelsChanged) {
          const ids = order ?? panelOrder(resolvePanels(next, keys, urlPanels.length > 0 ? urlPanels : undefined));
          queueMicrotask(() => { updateUrl({ panels: formatPanelsParam(ids) }); });
        }
        return next;
      });
    },
    [save, keys, urlPanels],
  );

  const setDefaults = (o: Partial<ChartOptions>): void => {
    const next = { ...defaults, ...o };
    change((l) => ({ ...l, defaults: next }), false);
    updateUrl(optionsToParams(next));
  };

  const setPanelOptions = (p: PanelSpec, o: Partial<ChartOptions>): void => {
    change((l) => ({ ...l, options: { ...l.options, [p.id]: { ...(l.options[p.id] ?? {}), ...o } } }), false);
  };

  const removePanel = (p: PanelSpec): void => {
    const order = panelOrder(sections).filter((id) => id !== p.id);
    change(
      (l) => {
        const added = l.added.filter((a) => a.id !== p.id);
        const options = { ...l.options };
        Reflect.deleteProperty(options, p.id);
        const removed = added.length === l.added.length && !l.removed.includes(p.id) ? [...l.removed, p.id] : l.removed;
        return { ...l, added, options, removed };
      },
      true,
      order,
    );
  };

  const addPanel = (key: string, x: XAxis): void => {
    const taken = new Set(panelOrder(sections));
    const isDefaultPanel = keys.includes(key) && !taken.has(key) && (x === defaults.x || x === X_STEP);
    if (isDefaultPanel) {
      change((l) => ({ ...l, removed: l.removed.filter((id) => id !== key) }), true, [...panelOrder(sections), key]);
      return;
    }
    const id = newPanelId(key, x, taken);
    const spec: PanelSpec = { id, key, options: x === defaults.x ? {} : { x } };
    change((l) => ({ ...l, added: [...l.added, spec] }), true, [...panelOrder(sections), id]);
  };

  const toggleSection = (name: string): void => {
    change((l) => ({ ...l, collapsed: l.collapsed.includes(name) ? l.collapsed.filter((c) => c !== name) : [...l.collapsed, name] }), false);
  };

  // Drag to rearrange (within a section); move up/down buttons do the same from the keyboard.
  const dragging = useRef<string | null>(null);
  const [dropTarget, setDropTarget] = useState<string | null>(null);

  const panelCount = sections.reduce((n, s) => n + s.panels.length, 0);
  const [adding, setAdding] = useState(false);

  if (runs.length === 0) {
    return (
      <div class="panel-grid" data-testid="panel-grid">
        <div class="pg-empty" data-testid="charts-empty">
          No runs selected: show some runs in the table to see their charts.
        </div>
      </div>
    );
  }

  return (
    <div class="panel-grid" data-testid="panel-grid">
      <div class="pg-toolbar" role="toolbar" aria-label="Chart settings">
        <label>
          X axis
          <select value={defaults.x} onChange={(e) => { setDefaults({ x: e.currentTarget.value }); }}>
            <XAxisOptions metricKeys={keys} />
          </select>
        </label>
        <label>
          Smoothing
          <SmoothingInput value={defaults.smoothing} onChange={(smoothing) => { setDefaults({ smoothing }); }} outputClass="pg-num" />
        </label>
        <label>
          <input type="checkbox" checked={defaults.log} onChange={(e) => { setDefaults({ log: e.currentTarget.checked }); }} />
          Log scale
        </label>
        <span class="pg-spacer" />
        {layoutScope === "project" && props.readOnly === true && (
          <span class="pg-count" title="Your role in this team is viewer: layout changes are not saved" data-testid="layout-read-only">
            Not saved (viewer)
          </span>
        )}
        <span class="pg-count">{panelCount} charts</span>
        <button type="button" class="pg-button" aria-expanded={adding} onClick={() => { setAdding((a) => !a); }}>
          Add panel
        </button>
        {urlPanels.length > 0 && (
          <button type="button" class="pg-button" onClick={() => { updateUrl({ panels: undefined }); }} title="Show the saved layout">
            Reset panels
          </button>
        )}
      </div>
      {adding && (
        <AddPanelForm
          keys={keys}
          defaultX={defaults.x}
          onAdd={(k, x) => {
            addPanel(k, x);
            setAdding(false);
          }}
          onCancel={() => { setAdding(false); }}
        />
      )}
      {keys.length === 0 && sections.length === 0 && (
        <div class="pg-empty" data-testid="charts-empty">
          No metrics logged yet.
        </div>
      )}
      {sections.map((section) => (
        <SectionView
          key={section.name}
          section={section}
          collapsed={layout.collapsed.includes(section.name)}
          onToggle={() => { toggleSection(section.name); }}
        >
          {section.panels.map((p, i) => (
            <Chart
              key={p.id}
              store={store}
              panel={p}
              options={panelOptions(layout, defaults, p)}
              runs={runs}
              grouping={props.grouping}
              metricKeys={keys}
              syncKey={syncKey}
              actions={props.panelActions?.(p, panelOptions(layout, defaults, p))}
              onOptions={(o) => { setPanelOptions(p, o); }}
              onRemove={() => { removePanel(p); }}
              onMove={(by) => { change((l) => l, true, shiftPanel(sections, p.id, by)); }}
              canMoveUp={i > 0}
              canMoveDown={i < section.panels.length - 1}
              onDragStart={(e) => {
                dragging.current = p.id;
                e.dataTransfer?.setData("text/plain", p.id);
                if (e.dataTransfer !== null) e.dataTransfer.effectAllowed = "move";
              }}
              onDragEnd={() => {
                dragging.current = null;
                setDropTarget(null);
              }}
              dropProps={{
                class: dropTarget === p.id ? "chart-panel chart-drop" : "chart-panel",
                onDragOver: (e) => {
                  const from = dragging.current;
                  if (from === null || from === p.id || !section.panels.some((q) => q.id === from)) return;
                  e.preventDefault();
                  setDropTarget(p.id);
                },
                onDragLeave: () => { setDropTarget((t) => (t === p.id ? null : t)); },
                onDrop: (e) => {
                  e.preventDefault();
                  const from = dragging.current;
                  dragging.current = null;
                  setDropTarget(null);
                  if (from === null || from === p.id) return;
                  const ids = section.panels.map((q) => q.id);
                  const before = ids.indexOf(from) < ids.indexOf(p.id) ? (ids[ids.indexOf(p.id) + 1] ?? null) : p.id;
                  change((l) => l, true, movePanel(sections, from, before));
                },
              }}
            />
          ))}
        </SectionView>
      ))}
      {layoutScope === "project" && <CustomChartPanels entity={entity} project={project} runs={runs} live={live} />}
    </div>
  );
}

function SectionView(props: { section: Section; collapsed: boolean; onToggle: () => void; children: ComponentChildren }) {
  const { section, collapsed } = props;
  const label = SECTION_LABEL(section.name);
  const id = `pg-section-${section.name === "" ? "_" : section.name.replace(/[^A-Za-z0-9_-]/g, "_")}`;
  return (
    <section class="pg-section" data-testid="section" data-section={section.name} aria-labelledby={`${id}-h`}>
      <h3 class="pg-section-head" id={`${id}-h`}>
        <button type="button" aria-expanded={!collapsed} aria-controls={id} onClick={props.onToggle}>
          <span class={collapsed ? "pg-caret" : "pg-caret pg-caret-open"} aria-hidden="true">
            ▸
          </span>
          {label}
          <span class="pg-section-count">{section.panels.length}</span>
        </button>
      </h3>
      {!collapsed && (
        <div class="pg-panels" id={id}>
          {props.children}
        </div>
      )}
    </section>
  );
}

function AddPanelForm(props: { keys: string[]; defaultX: XAxis; onAdd: (key: string, x: XAxis) => void; onCancel: () => void }) {
  const [key, setKey] = useState(props.keys[0] ?? "");
  const [x, setX] = useState<XAxis>(props.defaultX);
  return (
    <form
      class="pg-add"
      aria-label="Add a panel"
      onSubmit={(e) => {
        e.preventDefault();
        if (key !== "") props.onAdd(key, x);
      }}
    >
      <label>
        Metric
        <select value={key} onChange={(e) => { setKey(e.currentTarget.value); }}>
          {props.keys.map((k) => (
            <option key={k} value={k}>
              {k}
            </option>
          ))}
        </select>
      </label>
      <label>
        Against
        <select value={x} onChange={(e) => { setX(e.currentTarget.value); }}>
          <XAxisOptions metricKeys={props.keys.filter((k) => k !== key)} />
        </select>
      </label>
      <button type="submit" class="pg-button pg-primary" disabled={key === ""}>
        Add
      </button>
      <button type="button" class="pg-button" onClick={props.onCancel}>
        Cancel
      </button>
    </form>
  );
}
