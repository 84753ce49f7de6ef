import { render } from "preact";
import { act } from "preact/test-utils";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { runInfo } from "../../api/test-utils";
import type { MediaItem, RunInfo } from "../../api/types";
import { PanelBlock } from "./index";
import { parseArtifactRef } from "./LineagePanel";
import { pickMedia } from "./MediaPanel";
import { scalarBars, scalarNumber } from "./ScalarPanel";
import type { PanelBlockData, ReportRef } from "./types";

const RUNS: RunInfo[] = [
  runInfo({ id: "a", name: "alpha", created_at: 100, keys: ["loss"], config: { lr: 0.1, seed: 1 }, summary: { loss: 0.5, acc: 0.7 } }),
  runInfo({ id: "b", name: "beta", created_at: 200, keys: ["loss"], config: { lr: 0.1, seed: 2 }, summary: { loss: 0.3, acc: 0.9 } }),
  runInfo({ id: "c", name: "gamma", created_at: 300, keys: ["loss"], config: { lr: 0.2, seed: 1 }, summary: { loss: 0.1, acc: 0.8 } }),
];

interface Sent {
  path: string;
  query: URLSearchParams;
  method: string;
  body: unknown;
}

function stubServer(): Sent[] {
  const sent: Sent[] = [];
  vi.stubGlobal("fetch", (input: URL | string, init: RequestInit) => {
    const url = new URL(String(input));
    const body = typeof init.body === "string" ? (JSON.parse(init.body) as unknown) : undefined;
    sent.push({ path: url.pathname, query: url.searchParams, method: init.method ?? "GET", body });
    const json = (v: unknown, status = 200): Promise<Response> => Promise.resolve(new Response(JSON.stringify(v), { status, headers: { "Content-Type": "application/json" } }));
    const p = url.pathname;
    if (p === "/api/v1/runs/e/p") {
      const ids = url.searchParams.get("ids");
      const runs = ids === null ? RUNS : RUNS.filter((r) => ids.split(",").includes(r.id));
      return json({ runs, total: runs.length });
    }
    if (p === "/api/v1/history/e/p") {
      const b = body as { runs: string[]; keys: string[] };
      return json({
        runs: b.runs.map((run, i) => ({
          run,
          series: Object.fromEntries(b.keys.map((k) => [k, { step: [0, 1, 2], value: [1, 0.5, 0.25 * (i + 1)], timestamp: [10, 11, 12] }])),
          downsampled: false,
        })),
        missing: [],
      });
    }
    if (/^\/api\/v1\/runs\/e\/p\/[abc]\/media$/.test(p)) {
      return json({
        key: url.searchParams.get("key"),
        items: [0, 5, 9].map((step) => ({ step, ts: 100 + step, value: { _type: "image", path: `media/${step}.png`, format: "png", width: 4, height: 4 } })),
      });
    }
    if (/\/files\//.test(p)) return Promise.resolve(new Response(new Blob([new Uint8Array([137, 80, 78, 71])]), { status: 200 }));
    if (/^\/api\/v1\/runs\/e\/p\/[abc]\/histograms$/.test(p)) {
      return json({ key: "w", steps: [0, 1, 2], edges: [[0, 1, 2], [0, 1, 2], [0, 1, 2]], counts: [[1, 2], [3, 4], [5, 6]], nan: [0, 0, 0], pos_inf: [0, 0, 0], neg_inf: [0, 0, 0] });
    }
    if (p === "/api/v1/artifacts/e/p/collections/data/versions/latest") {
      return json({ id: "x", entity: "e", project: "p", name: "data", type: "dataset", version: "v1", index: 1, digest: "d", aliases: ["latest"] });
    }
    if (p === "/api/v1/artifacts/e/p/collections/data/versions/v1/lineage") {
      return json({
        nodes: [
          { id: "run:e/p/a", kind: "run", entity: "e", project: "p", run_id: "a", name: "alpha", state: "finished" },
          { id: "artifact:p/data:v1", kind: "artifact", project: "p", name: "data", version: "v1", type: "dataset", digest: "d" },
        ],
        edges: [{ from: "run:e/p/a", to: "artifact:p/data:v1" }],
      });
    }
    return json({ detail: `unexpected ${p}` }, 404);
  });
  return sent;
}

async function flush(): Promise<void> {
  for (let i = 0; i < 12; i++) {
    await act(async () => {
      await new Promise((r) => setTimeout(r, 0));
    });
  }
}

const LIVE: ReportRef = { entity: "e", project: "p", frozen_at: null };
const FROZEN: ReportRef = { entity: "e", project: "p", frozen_at: 1_700_000_000 };

/** jsdom draws nothing: a 2D context whose every method does nothing (uPlot draws into it). */
function blankContext(): CanvasRenderingContext2D {
  const noop = (): undefined => undefined;
  const state: Record<string | symbol, unknown> = {};
  const handler: ProxyHandler<Record<string | symbol, unknown>> = {
    get: (target, k): unknown => (k in target ? target[k] : k === "measureText" ? () => ({ width: 8 }) : noop),
  };
  return new Proxy(state, handler) as unknown as CanvasRenderingContext2D;
}

let root: HTMLElement;
beforeEach(() => {
  vi.stubGlobal(
    "Path2D",
    class {
      moveTo(): void {}
      lineTo(): void {}
      closePath(): void {}
      rect(): void {}
      arc(): void {}
      addPath(): void {}
    },
  );
  vi.spyOn(HTMLCanvasElement.prototype, "getContext").mockImplementation(blankContext);
  vi.stubGlobal("IntersectionObserver", undefined);
  vi.stubGlobal("URL", Object.assign(URL, { createObjectURL: () => "blob:x", revokeObjectURL: () => undefined }));
  root = document.createElement("div");
  document.body.append(root);
});
afterEach(() => {
  render(null, root);
  root.remove();
  vi.unstubAllGlobals();
  vi.restoreAllMocks();
});

function show(block: PanelBlockData, report: ReportRef = LIVE, editing = false, onChange: (b: PanelBlockData) => void = () => undefined): HTMLElement {
  render(<PanelBlock block={block} report={report} editing={editing} onChange={onChange} />, root);
  const el = root.querySelector<HTMLElement>('[data-testid="report-panel"]');
  if (el === null) throw new Error("no panel drawn");
  return el;
}

const panel = (): HTMLElement => root.querySelector<HTMLElement>('[data-testid="report-panel"]') as HTMLElement;

describe("PanelBlock", () => {
  it("line: the filter's runs, one chart per metric, each run's last value read back", async () => {
    const sent = stubServer();
    show({ id: "l", type: "line", runs: { filter: "config.lr > 0.01" }, y: ["loss"], smoothing: 0.5, log_y: true });
    await flush();
    const p = panel();
    expect(p.dataset.panelType).toBe("line");
    expect(p.dataset.runs).toBe("a,b,c");
    expect(p.dataset.log).toBe("true");
    expect(JSON.parse(p.dataset.last ?? "{}")).toEqual({ a: { loss: 0.25 }, b: { loss: 0.5 }, c: { loss: 0.75 } });
    expect(p.querySelectorAll('[data-testid="chart-panel"]')).toHaveLength(1);
    const list = sent.find((s) => s.path === "/api/v1/runs/e/p");
    expect(list?.query.get("filter")).toBe("config.lr > 0.01");
    const hist = sent.find((s) => s.path === "/api/v1/history/e/p");
    expect(hist?.body).not.toHaveProperty("until");
  });

  it("line of a frozen report: histories asked up to frozen_at", async () => {
    const sent = stubServer();
    show({ id: "l", type: "line", runs: { ids: ["a", "c"] }, y: ["loss"] }, FROZEN);
    await flush();
    expect(panel().dataset.runs).toBe("a,c");
    const hist = sent.find((s) => s.path === "/api/v1/history/e/p");
    expect(hist?.body).toMatchObject({ runs: ["a", "c"], until: 1_700_000_000 });
  });

  it("line grouped by a config key: the chart draws one line per group", async () => {
    stubServer();
    show({ id: "l", type: "line", runs: { filter: "" }, y: ["loss"], group: { by: "config.lr", agg: "mean", band: "minmax" } });
    await flush();
    const chart = panel().querySelector<HTMLElement>('[data-testid="chart-panel"]');
    const groups = JSON.parse(chart?.dataset.groups ?? "[]") as { name: string; count: number }[];
    expect(groups.map((g) => [g.name, g.count])).toEqual([
      ["0.1", 2],
      ["0.2", 1],
    ]);
  });

  it("line editor: choosing metrics and log y hands a new block to onChange", async () => {
    stubServer();
    const changes: PanelBlockData[] = [];
    show({ id: "l", type: "line", runs: { filter: "" }, y: ["loss"] }, LIVE, true, (b) => changes.push(b));
    await flush();
    const log = panel().querySelector<HTMLInputElement>('[data-testid="line-log"]');
    await act(() => {
      log?.click();
    });
    expect(changes.at(-1)).toMatchObject({ id: "l", type: "line", log_y: true, y: ["loss"] });
    const loss = panel().querySelector<HTMLInputElement>('[data-testid="line-y"] input[data-key="loss"]');
    expect(loss?.checked).toBe(true);
  });

  it("runs_table: the workspace table without select or eye columns, with the block's columns", async () => {
    const sent = stubServer();
    show({ id: "t", type: "runs_table", runs: { filter: "" }, columns: ["config.lr", "summary.loss"], sort: "-summary.loss" });
    await flush();
    const rows = [...panel().querySelectorAll<HTMLElement>('[data-testid="run-row"]')];
    expect(rows.map((r) => r.dataset.runId)).toEqual(["a", "b", "c"]);
    expect(panel().querySelector('[data-testid="run-select"]')).toBeNull();
    expect(rows[1]?.querySelector('[data-field="summary.loss"]')?.textContent).toBe("0.3");
    expect(sent.find((s) => s.path === "/api/v1/runs/e/p")?.query.get("sort")).toBe("-summary.loss");
  });

  it("parallel: an axis per column, the colour column as the coloured axis, a line per run", async () => {
    stubServer();
    show({ id: "pc", type: "parallel", runs: { filter: "" }, columns: ["config.lr", "config.seed"], color: "summary.acc" });
    await flush();
    const svg = panel().querySelector<SVGElement>('[data-testid="parallel-coords"]');
    expect(svg?.dataset.lines).toBe("3");
    expect(svg?.dataset.axes).toBe("config.lr,config.seed,@metric");
    const values = [...panel().querySelectorAll<SVGElement>('[data-testid="pc-line"]')].map((l) => JSON.parse(l.dataset.values ?? "{}") as Record<string, unknown>);
    expect(values.map((v) => v["@metric"]).sort()).toEqual([0.7, 0.8, 0.9]);
  });

  it("media: each run's item at the last step, or at the chosen one", async () => {
    stubServer();
    show({ id: "m", type: "media", runs: { ids: ["a", "b"] }, key: "samples", step: 6 });
    await flush();
    const items = [...panel().querySelectorAll<HTMLElement>('[data-testid="media-panel-item"]')];
    expect(items.map((i) => [i.dataset.runId, i.dataset.step])).toEqual([
      ["a", "5"],
      ["b", "5"],
    ]);
    expect(items[0]?.querySelector('[data-testid="media-image"]')?.getAttribute("data-path")).toBe("media/5.png");
  });

  it("histogram: one heatmap per run, up to the chosen step", async () => {
    stubServer();
    show({ id: "h", type: "histogram", runs: { ids: ["b"] }, key: "w", step: 1 });
    await flush();
    const views = [...panel().querySelectorAll<HTMLElement>('[data-testid="histogram-view"]')];
    expect(views).toHaveLength(1);
    expect(views[0]?.dataset.steps).toBe("2");
  });

  it("scalar: bars per run, per group, and a number", async () => {
    stubServer();
    show({ id: "s", type: "scalar", runs: { filter: "" }, key: "summary.loss", style: "bar" });
    await flush();
    const bars = [...panel().querySelectorAll<HTMLElement>('[data-testid="scalar-bar"]')].map((b) => [b.dataset.label, Number(b.dataset.value)]);
    expect(bars).toEqual([
      ["alpha", 0.5],
      ["beta", 0.3],
      ["gamma", 0.1],
    ]);
    show({ id: "s", type: "scalar", runs: { filter: "" }, key: "summary.loss", style: "number", agg: "max" });
    await flush();
    expect(panel().querySelector<HTMLElement>('[data-testid="scalar-number"]')?.dataset.value).toBe("0.5");
  });

  it("lineage: the artifact's alias resolved and its graph drawn", async () => {
    stubServer();
    show({ id: "g", type: "lineage", artifact: "data:latest" });
    await flush();
    expect(panel().dataset.version).toBe("v1");
    const nodes = [...panel().querySelectorAll<SVGElement>('[data-testid="lineage-node"]')].map((n) => n.dataset.id);
    expect(nodes.sort()).toEqual(["artifact:p/data:v1", "run:e/p/a"]);
  });

  it("compare: only the keys that differ, unless diff_only is false", async () => {
    stubServer();
    show({ id: "c", type: "compare", runs: { ids: ["a", "b"] } });
    await flush();
    const keys = (): string[] => [...panel().querySelectorAll<HTMLElement>('[data-testid="compare-config"] [data-testid="compare-row"]')].map((r) => r.dataset.key ?? "");
    expect(keys()).toEqual(["seed"]);
    show({ id: "c", type: "compare", runs: { ids: ["a", "b"] }, diff_only: false });
    await flush();
    expect(keys()).toEqual(["lr", "seed"]);
  });

  it("shows the server's message when a filter is refused", async () => {
    vi.stubGlobal("fetch", () => Promise.resolve(new Response(JSON.stringify({ detail: "unknown field 'x'; hint: use config.x" }), { status: 400, headers: { "Content-Type": "application/json" } })));
    show({ id: "t", type: "runs_table", runs: { filter: "x > 1" } });
    await flush();
    expect(panel().dataset.state).toBe("error");
    expect(panel().querySelector('[data-testid="panel-error"]')?.textContent).toContain("unknown field 'x'");
  });
});

describe("panel helpers", () => {
  it("scalar aggregates", () => {
    expect(scalarNumber(RUNS, "summary.acc", "mean")).toBeCloseTo(0.8);
    expect(scalarNumber(RUNS, "summary.acc", "min")).toBe(0.7);
    expect(scalarNumber(RUNS, "summary.acc", "last")).toBe(0.8);
    expect(scalarNumber(RUNS, "summary.none", "mean")).toBeNull();
    const groups = scalarBars(RUNS, "summary.acc", { by: "config.lr", agg: "median", band: "none" });
    expect(groups.map((g) => [g.label, g.value, g.count])).toEqual([
      ["0.1", 0.8, 2],
      ["0.2", 0.8, 1],
    ]);
  });

  it("media picks: last, at or before a step, and only what was logged before a frozen report's time", () => {
    const items: MediaItem[] = [0, 5, 9].map((step) => ({ step, ts: 100 + step, value: { _type: "image", path: `${step}.png`, format: "png", width: 4, height: 4, sha256: "", size: 1 } }));
    expect(pickMedia(items, null, null)?.step).toBe(9);
    expect(pickMedia(items, 7, null)?.step).toBe(5);
    expect(pickMedia(items, null, 106)?.step).toBe(5);
    expect(pickMedia([], null, null)).toBeNull();
  });

  it("artifact refs", () => {
    expect(parseArtifactRef("data:v3")).toEqual({ name: "data", ref: "v3" });
    expect(parseArtifactRef("data")).toEqual({ name: "data", ref: "latest" });
  });
});
