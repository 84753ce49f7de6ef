import { afterEach, describe, expect, it, vi } from "vitest";
import { json, runInfo, stubFetch } from "../../api/test-utils";
import type { RunInfo, Viewer } from "../../api/types";
import { $, click, mount, press, settle, type } from "../../components/test-utils";
import { BulkActions, runCount, tagsOf, writesRuns } from "./BulkActions";

const fetchStub = stubFetch("fwk_bulktest");

function run(id: string, tags: string[]): RunInfo {
  return runInfo({ id, name: `name-${id}`, tags });
}

const RUNS = [run("a", ["x", "y"]), run("b", ["y"]), run("c", []), run("d", ["z"])];
const ann: Viewer = { name: "ann", is_admin: false, teams: ["lab"] };

let unmount: () => void = () => undefined;
afterEach(() => {
  unmount();
});

function setup(selected: string[], viewer: (Viewer & { read_only?: string[] }) | null = ann) {
  const onDone = vi.fn();
  const mounted = mount(<BulkActions entity="lab" project="proj" selected={selected} runs={RUNS} viewer={viewer} onDone={onDone} />);
  unmount = mounted.unmount;
  return { c: mounted.container, onDone };
}

function posted(): unknown[] {
  return fetchStub.calls.filter((c) => c.init.method === "POST").map((c) => (typeof c.init.body === "string" ? (JSON.parse(c.init.body) as unknown) : null));
}

describe("BulkActions", () => {
  it("is hidden without a selection and for a team's viewers", () => {
    expect(setup([]).c.innerHTML).toBe("");
    unmount();
    expect(setup(["a"], { ...ann, read_only: ["lab"] }).c.innerHTML).toBe("");
    unmount();
    expect(setup(["a"], null).c.innerHTML).toBe("");
    unmount();
    expect($(setup(["a", "b"]).c, "[data-testid=bulk-count]").textContent).toBe("2 runs selected");
  });

  it("names the count in the delete dialog, posts the ids and shows failures per run", async () => {
    fetchStub.answer = () =>
      json({
        action: "delete",
        results: [
          { id: "a", ok: true, status: 200 },
          { id: "b", ok: true, status: 200 },
          { id: "c", ok: false, status: 409, error: "run 'c' is still being written; finish it first" },
        ],
        succeeded: 2,
        failed: 1,
      });
    const { c, onDone } = setup(["a", "b", "c"]);
    click($(c, "[data-testid=bulk-delete]"));
    expect($(c, "#confirm-title").textContent).toBe("Delete 3 runs?");
    click($(c, "[data-testid=confirm-ok]"));
    await settle();
    expect(posted()).toEqual([{ action: "delete", run_ids: ["a", "b", "c"] }]);
    expect(fetchStub.calls[0]?.url.pathname).toBe("/api/v1/runs/lab/proj/bulk");
    expect(onDone).toHaveBeenCalledTimes(1);
    expect(c.querySelector("[data-testid=confirm-dialog]")).toBeNull();
    expect($(c, "[data-testid=bulk-outcome]").textContent).toContain("Deleted 2 runs; 1 run failed");
    expect($(c, "[data-testid=bulk-errors] [data-run-id=c]").textContent).toContain("still being written");
  });

  it("tags through chips and untags the selection's tags", async () => {
    fetchStub.answer = () => json({ action: "tag", results: [], succeeded: 2, failed: 0 });
    const { c } = setup(["a", "b"]);
    click($(c, "[data-testid=bulk-tag]"));
    expect($(c, "#confirm-title").textContent).toBe("Tag 2 runs");
    const input = $(c, "[data-testid=bulk-tag-chip-input]");
    type(input, "best, keep");
    press(input, "Enter");
    await settle();
    click($(c, "[data-testid=confirm-ok]"));
    await settle();
    expect(posted()).toEqual([{ action: "tag", tags: ["best", "keep"], run_ids: ["a", "b"] }]);

    fetchStub.calls.length = 0;
    click($(c, "[data-testid=bulk-untag]"));
    const choices = [...c.querySelectorAll<HTMLElement>("[data-testid=bulk-untag-choice]")];
    expect(choices.map((x) => x.dataset.tag)).toEqual(["x", "y"]);
    click($(c, "[data-testid=bulk-untag-choice][data-tag=y]"));
    click($(c, "[data-testid=confirm-ok]"));
    await settle();
    expect(posted()).toEqual([{ action: "untag", tags: ["y"], run_ids: ["a", "b"] }]);
  });

  it("moves to a project picked from the entity's projects, naming it in the dialog", async () => {
    fetchStub.answer = (url) =>
      url.pathname === "/api/v1/projects"
        ? json({
            projects: [
              { entity: "lab", name: "proj", run_count: 4, last_activity: 1 },
              { entity: "lab", name: "dest", run_count: 1, last_activity: 1 },
              { entity: "ann", name: "mine", run_count: 1, last_activity: 1 },
            ],
          })
        : json({ action: "move", results: [{ id: "a", ok: true, status: 200 }], succeeded: 1, failed: 0 });
    const { c } = setup(["a"]);
    click($(c, "[data-testid=bulk-move]"));
    await settle();
    const select = $(c, "[data-testid=bulk-move-project]") as HTMLSelectElement;
    expect([...select.options].map((o) => o.value)).toEqual(["", "dest"]);
    select.value = "dest";
    select.dispatchEvent(new Event("change", { bubbles: true }));
    await settle();
    expect($(c, "#confirm-title").textContent).toBe("Move 1 run to dest?");
    click($(c, "[data-testid=confirm-ok]"));
    await settle();
    expect(posted()).toEqual([{ action: "move", to_project: "dest", run_ids: ["a"] }]);
    expect($(c, "[data-testid=bulk-outcome]").textContent).toContain("Moved 1 run.");
  });

  it("helpers", () => {
    expect(runCount(1)).toBe("1 run");
    expect(runCount(3)).toBe("3 runs");
    expect(tagsOf(RUNS)).toEqual(["x", "y", "z"]);
    expect(writesRuns({ ...ann, read_only: [] }, "lab")).toBe(true);
    expect(writesRuns(ann, "other")).toBe(false);
    expect(writesRuns({ name: "root", is_admin: true, teams: [] }, "lab")).toBe(true);
    expect(writesRuns({ name: "lab", is_admin: false, teams: [] }, "lab")).toBe(true);
  });
});
