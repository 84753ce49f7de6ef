import { afterEach, describe, expect, it, vi } from "vitest";
import { runInfo } from "../../api/test-utils";
import type { RunInfo } from "../../api/types";
import { $, click, mount, press } from "../../components/test-utils";
import { runColor } from "../../lib/colors";
import { parseColumn, type ExtraColumn } from "./columns";
import { RunsTable, type RunsTableProps } from "./RunsTable";

function run(id: string, partial: Partial<RunInfo> = {}): RunInfo {
  const at = 1_700_000_000;
  return runInfo({ id, name: `name-${id}`, created_at: at, updated_at: at, runtime: 65, ...partial });
}

let unmount: () => void = () => undefined;
afterEach(() => {
  unmount();
});

function setup(overrides: Partial<RunsTableProps> = {}) {
  const props: RunsTableProps = {
    entity: "e",
    project: "p",
    runs: [
      run("a", { state: "running", tags: ["x", "y"], config: { lr: 0.1, model: { layers: 4 } }, summary: { "train/loss": 0.25 } }),
      run("b", { state: "failed" }),
      run("c"),
    ],
    columns: ["config.lr", "config.model.layers", "summary.train/loss"].map(parseColumn).filter((c): c is ExtraColumn => c !== null),
    sort: "-created_at",
    onSort: vi.fn(),
    selected: ["b"],
    onToggleSelect: vi.fn(),
    onSelectAll: vi.fn(),
    isVisible: (id) => id !== "c",
    onToggleVisible: vi.fn(),
    onOpen: vi.fn(),
    busy: false,
    now: 1_700_000_100,
    ...overrides,
  };
  const mounted = mount(<RunsTable {...props} />);
  unmount = mounted.unmount;
  return { c: mounted.container, props };
}

const rows = (c: HTMLElement) => [...c.querySelectorAll<HTMLElement>("[data-testid=run-row]")];

describe("RunsTable", () => {
  it("renders one row per run with the test ids of web/README.md", () => {
    const { c } = setup();
    expect(rows(c).map((r) => r.dataset.runId)).toEqual(["a", "b", "c"]);
    const a = rows(c)[0] as HTMLElement;
    expect($(a, "[data-testid=run-name]").textContent).toBe("name-a");
    expect($(a, "[data-testid=run-name]").getAttribute("href")).toBe("#/p/e/p/r/a");
    expect($(a, "[data-testid=state-badge]").dataset.state).toBe("running");
    expect($(a, "[data-testid=run-color]").dataset.color).toBe(runColor("a"));
    expect([...a.querySelectorAll("[data-testid=tag]")].map((t) => t.textContent)).toEqual(["x", "y"]);
    expect($(a, "[data-testid=run-duration]").textContent).toBe("1m 05s");
    expect([...a.querySelectorAll("td[data-field]")].map((t) => t.textContent)).toEqual(["0.1", "4", "0.25"]);
    expect(a.dataset.visible).toBe("true");
    expect((rows(c)[2] as HTMLElement).dataset.visible).toBe("false");
    expect((rows(c)[1] as HTMLElement).getAttribute("aria-selected")).toBe("true");
  });

  it("sorts through header buttons with aria-sort", () => {
    const { c, props } = setup();
    expect($(c, "th[data-field=created_at]").getAttribute("aria-sort")).toBe("descending");
    expect($(c, "th[data-field=name]").getAttribute("aria-sort")).toBe("none");
    click($(c, "th[data-field='summary.train/loss'] button"));
    expect(props.onSort).toHaveBeenCalledWith("-summary.train/loss");
    click($(c, "th[data-field=created_at] button"));
    expect(props.onSort).toHaveBeenLastCalledWith("created_at");
  });

  it("moves a roving focus with the arrow keys; Enter opens, Space selects, v toggles the eye", () => {
    const { c, props } = setup();
    expect(rows(c).map((r) => r.tabIndex)).toEqual([0, -1, -1]);
    const first = rows(c)[0] as HTMLElement;
    first.focus();
    press(first, "ArrowDown");
    expect(document.activeElement).toBe(rows(c)[1]);
    expect(rows(c).map((r) => r.tabIndex)).toEqual([-1, 0, -1]);
    press(rows(c)[1] as HTMLElement, "End");
    expect(document.activeElement).toBe(rows(c)[2]);
    press(rows(c)[2] as HTMLElement, "ArrowDown");
    expect(document.activeElement).toBe(rows(c)[2]);
    press(rows(c)[2] as HTMLElement, "ArrowUp");
    press(rows(c)[1] as HTMLElement, " ");
    expect(props.onToggleSelect).toHaveBeenCalledWith("b");
    press(rows(c)[1] as HTMLElement, "Enter");
    expect(props.onOpen).toHaveBeenCalledWith("b");
    press(rows(c)[1] as HTMLElement, "v");
    expect(props.onToggleVisible).toHaveBeenCalledWith("b");
    press(rows(c)[1] as HTMLElement, "Home");
    expect(document.activeElement).toBe(rows(c)[0]);
  });

  it("toggles selection and visibility with labelled controls", () => {
    const { c, props } = setup();
    const a = rows(c)[0] as HTMLElement;
    click($(a, "[data-testid=run-select]"));
    expect(props.onToggleSelect).toHaveBeenCalledWith("a");
    const eye = $(a, "[data-testid=run-eye]");
    expect(eye.getAttribute("aria-label")).toBe("Hide name-a in the charts");
    expect(eye.getAttribute("aria-pressed")).toBe("true");
    click(eye);
    expect(props.onToggleVisible).toHaveBeenCalledWith("a");
    const all = $(c, "[data-testid=select-page]") as HTMLInputElement;
    expect(all.indeterminate).toBe(true);
    click(all);
    expect(props.onSelectAll).toHaveBeenCalledWith(true);
  });
});
