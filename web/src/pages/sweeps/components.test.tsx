import { afterEach, describe, expect, it, vi } from "vitest";
import { runInfo } from "../../api/test-utils";
import { StateBadge } from "../../components/Badge";
import { click, mount, press } from "../../components/test-utils";
import { RunsTable } from "../workspace/RunsTable";
import { buildAxis, makeBrush, METRIC_AXIS, type PcRow } from "./parallel";
import { ParallelCoords } from "./ParallelCoords";

let unmount: () => void = () => undefined;
afterEach(() => {
  unmount();
});

const axes = [buildAxis("lr", "lr", [0, 10]), buildAxis("opt", "opt", ["adam", "sgd"]), buildAxis(METRIC_AXIS, "loss", [0, 1])];
const rows: PcRow[] = [
  { id: 1, values: { lr: 1, opt: "adam", [METRIC_AXIS]: 0.1 } },
  { id: 2, values: { lr: 5, opt: "sgd", [METRIC_AXIS]: 0.5 } },
  { id: 3, values: { lr: 9, opt: "sgd", [METRIC_AXIS]: 0.9 } },
];

describe("ParallelCoords", () => {
  it("draws an axis per key and a line per row with its values", () => {
    const m = mount(<ParallelCoords axes={axes} rows={rows} brushes={[]} onBrushes={vi.fn()} goal="minimize" />);
    unmount = m.unmount;
    const svg = m.container.querySelector('[data-testid="parallel-coords"]');
    expect(svg?.getAttribute("data-lines")).toBe("3");
    expect(svg?.getAttribute("data-selected")).toBe("3");
    expect(svg?.getAttribute("data-axes")).toBe("lr,opt,@metric");
    const lines = [...m.container.querySelectorAll('[data-testid="pc-line"]')];
    expect(lines.map((l) => JSON.parse(l.getAttribute("data-values") ?? "{}") as Record<string, unknown>).sort((a, b) => Number(a.lr) - Number(b.lr))).toEqual(rows.map((r) => r.values));
    expect(m.container.querySelector('[data-testid="pc-axis"][data-key="opt"]')?.getAttribute("data-categories")).toBe('["adam","sgd"]');
    expect(m.container.querySelector('[data-testid="pc-brushes"]')).toBeNull();
  });

  it("greys the lines outside the brushes; a chip removes its brush", () => {
    const onBrushes = vi.fn();
    const brushes = [makeBrush("opt", 0.9, 1), makeBrush("lr", 0, 0.6)];
    const m = mount(<ParallelCoords axes={axes} rows={rows} brushes={brushes} onBrushes={onBrushes} goal="minimize" />);
    unmount = m.unmount;
    expect(m.container.querySelector('[data-testid="parallel-coords"]')?.getAttribute("data-selected")).toBe("1");
    expect([...m.container.querySelectorAll('[data-testid="pc-line"][data-selected="true"]')].map((l) => l.getAttribute("data-trial"))).toEqual(["2"]);
    expect(m.container.querySelectorAll('[data-testid="pc-brush"]')).toHaveLength(2);
    const chip = m.container.querySelector('[data-testid="pc-brush-chip"][data-key="opt"]');
    expect(chip?.textContent).toContain("opt: sgd");
    click(chip as Element);
    expect(onBrushes).toHaveBeenCalledWith([makeBrush("lr", 0, 0.6)]);
    click(m.container.querySelector('[data-testid="pc-clear"]') as Element);
    expect(onBrushes).toHaveBeenLastCalledWith([]);
  });
});

describe("ParallelCoords from the keyboard", () => {
  it("starts, moves and clears a brush on the focused axis", () => {
    const onBrushes = vi.fn();
    const m = mount(<ParallelCoords axes={axes} rows={rows} brushes={[makeBrush("lr", 0, 0.5)]} onBrushes={onBrushes} goal="minimize" />);
    unmount = m.unmount;
    const opt = m.container.querySelector('[data-testid="pc-brush-area"][data-key="opt"]') as Element;
    expect(opt.getAttribute("tabindex")).toBe("0");
    expect(opt.getAttribute("aria-label")).toContain("Brush on opt");
    press(opt, "ArrowUp");
    expect(onBrushes).toHaveBeenLastCalledWith([makeBrush("lr", 0, 0.5), makeBrush("opt", 0.4, 0.6)]);
    const lr = m.container.querySelector('[data-testid="pc-brush-area"][data-key="lr"]') as Element;
    press(lr, "Delete");
    expect(onBrushes).toHaveBeenLastCalledWith([]);
  });
});

describe("stopped", () => {
  it("has a badge of its own", () => {
    const m = mount(<StateBadge state="stopped" />);
    unmount = m.unmount;
    const badge = m.container.querySelector('[data-testid="state-badge"]');
    expect(badge?.getAttribute("data-state")).toBe("stopped");
    expect(badge?.className).toContain("badge-stopped");
    expect(badge?.textContent).toBe("Stopped");
  });

  it("words the states of sweeps and trials", () => {
    const m = mount(
      <div>
        <StateBadge state="paused" />
        <StateBadge state="cancelled" />
        <StateBadge state="queued" />
      </div>,
    );
    unmount = m.unmount;
    expect([...m.container.querySelectorAll('[data-testid="state-badge"]')].map((b) => b.textContent)).toEqual(["Paused", "Cancelled", "Queued"]);
  });
});

describe("the workspace's sweep column", () => {
  const props = {
    entity: "e",
    project: "p",
    columns: [],
    sort: "-created_at",
    onSort: vi.fn(),
    selected: [],
    onToggleSelect: vi.fn(),
    onSelectAll: vi.fn(),
    isVisible: () => true,
    onToggleVisible: vi.fn(),
    onOpen: vi.fn(),
    busy: false,
    now: 0,
  };

  it("is left out while no run of the page belongs to a sweep", () => {
    const m = mount(<RunsTable {...props} runs={[runInfo({ id: "a" })]} />);
    unmount = m.unmount;
    expect(m.container.querySelector('[data-testid="run-sweep"]')).toBeNull();
  });

  it("links each run's sweep and filters by it", () => {
    const onFilterSweep = vi.fn();
    const m = mount(<RunsTable {...props} runs={[runInfo({ id: "a", sweep_id: "k3v9x0aa", state: "stopped" }), runInfo({ id: "b" })]} onFilterSweep={onFilterSweep} />);
    unmount = m.unmount;
    const cells = [...m.container.querySelectorAll('[data-testid="run-sweep"]')];
    expect(cells.map((c) => c.getAttribute("data-sweep"))).toEqual(["k3v9x0aa", ""]);
    expect(cells[0]?.querySelector("a")?.getAttribute("href")).toBe("#/p/e/p/sweeps/k3v9x0aa");
    click(m.container.querySelector('[data-testid="sweep-filter"]') as Element);
    expect(onFilterSweep).toHaveBeenCalledWith("k3v9x0aa");
    expect(m.container.querySelector('[data-run-id="a"] [data-testid="state-badge"]')?.getAttribute("data-state")).toBe("stopped");
  });
});
