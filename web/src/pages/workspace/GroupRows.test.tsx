import { afterEach, describe, expect, it, vi } from "vitest";
import { runInfo } from "../../api/test-utils";
import type { RunInfo } from "../../api/types";
import { groupColor, groupRuns } from "../../charts/group";
import { $, click, mount } from "../../components/test-utils";
import { parseColumn, type ExtraColumn } from "./columns";
import { aggregateCell } from "./GroupRows";
import { RunsTable, type RunsTableProps } from "./RunsTable";

function run(id: string, partial: Partial<RunInfo> = {}): RunInfo {
  return runInfo({ id, name: `name-${id}`, created_at: 1_700_000_000, updated_at: 1_700_000_000, ...partial });
}

const RUNS = [
  run("a", { config: { lr: 0.1, seed: 1 }, summary: { loss: 1 }, runtime: 10, metadata: { group: "lr-0.1" } }),
  run("b", { config: { lr: 0.01, seed: 1 }, summary: { loss: 4 }, runtime: 20, metadata: { group: "lr-0.01" } }),
  run("c", { config: { lr: 0.1, seed: 2 }, summary: { loss: 2 }, runtime: 30, metadata: { group: "lr-0.1" } }),
  run("d", { config: { seed: 3 }, summary: {}, runtime: 40 }),
];

let unmount: () => void = () => undefined;
afterEach(() => {
  unmount();
});

function setup(by: string, expanded: string[]) {
  const onToggle = vi.fn();
  const props: RunsTableProps = {
    entity: "e",
    project: "p",
    runs: RUNS,
    columns: ["config.lr", "config.seed", "summary.loss"].map(parseColumn).filter((c): c is ExtraColumn => c !== null),
    sort: "-created_at",
    onSort: vi.fn(),
    selected: [],
    onToggleSelect: vi.fn(),
    onSelectAll: vi.fn(),
    isVisible: () => true,
    onToggleVisible: vi.fn(),
    onOpen: vi.fn(),
    busy: false,
    now: 1_700_000_100,
    grouping: { by, groups: groupRuns(RUNS, by), expanded: new Set(expanded), onToggle },
  };
  const mounted = mount(<RunsTable {...props} />);
  unmount = mounted.unmount;
  return { c: mounted.container, onToggle };
}

const body = (c: HTMLElement): HTMLElement[] => [...c.querySelectorAll<HTMLElement>("tbody tr")];

describe("RunsTable group rows", () => {
  it("shows one collapsed row per group: name, count, colour and the aggregate of the shown columns", () => {
    const { c } = setup("config.lr", []);
    const rows = body(c);
    expect(rows.map((r) => r.dataset.testid)).toEqual(["group-row", "group-row", "group-row"]);
    expect(rows.map((r) => $(r, "[data-testid=group-name]").textContent)).toEqual(["0.01", "0.1", "(none)"]);
    expect(rows.map((r) => r.dataset.count)).toEqual(["1", "2", "1"]);
    const g = rows[1] as HTMLElement;
    expect($(g, "[data-testid=group-count]").textContent).toBe("2 runs");
    expect($(g, "[data-testid=group-color]").dataset.color).toBe(groupColor("config.lr", "0.1"));
    // lr is common, seed and loss differ (mean of 1, 2 and of 1, 2)
    expect([...g.querySelectorAll("td[data-field]")].map((t) => t.textContent)).toEqual(["0.1", "1.5 (mean)", "1.5 (mean)"]);
    expect($(g, "[data-testid=group-duration]").textContent).toBe("20s");
    expect(c.querySelectorAll("[data-testid=run-row]").length).toBe(0);
    // every row has as many cells as the header
    const headCells = c.querySelectorAll("thead th").length;
    const span = (r: HTMLElement): number => [...r.querySelectorAll("td")].reduce((n, td) => n + td.colSpan, 0);
    expect(rows.map(span)).toEqual([headCells, headCells, headCells]);
  });

  it("an expanded group is followed by its runs' rows; the toggle names the group", () => {
    const { c, onToggle } = setup("group", ["\"lr-0.1\""]);
    const rows = body(c);
    expect(rows.map((r) => r.dataset.runId ?? `group ${r.dataset.group ?? ""}`)).toEqual([
      'group "lr-0.01"',
      'group "lr-0.1"',
      "a",
      "c",
      "group (none)",
    ]);
    const toggle = $(rows[1] as HTMLElement, "[data-testid=group-toggle]");
    expect(toggle.getAttribute("aria-expanded")).toBe("true");
    expect(toggle.getAttribute("aria-label")).toBe("Collapse group lr-0.1 (2 runs)");
    click($(rows[0] as HTMLElement, "[data-testid=group-toggle]"));
    expect(onToggle).toHaveBeenCalledWith('"lr-0.01"');
  });
});

describe("aggregateCell", () => {
  it("common value, mean of numbers, or empty", () => {
    expect(aggregateCell(["x", "x"])).toBe("x");
    expect(aggregateCell([1, 2, undefined])).toBe("1.5 (mean)");
    expect(aggregateCell(["x", "y"])).toBe("");
    expect(aggregateCell([undefined, null])).toBe("");
  });
});
