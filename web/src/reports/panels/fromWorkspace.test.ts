import { describe, expect, it } from "vitest";
import { blockFromWorkspacePanel, newBlockId, runSetFromView } from "./fromWorkspace";

describe("blockFromWorkspacePanel", () => {
  it("maps a chart panel and the workspace filter to a live line block", () => {
    const b = blockFromWorkspacePanel({ key: "train/loss", options: { x: "_runtime", smoothing: 0.6, log: true } }, { filter: "config.lr > 0.01", sort: "-created_at" }, "b1");
    expect(b).toEqual({
      id: "b1",
      type: "line",
      runs: { filter: "config.lr > 0.01" },
      y: ["train/loss"],
      x: "_runtime",
      smoothing: 0.6,
      log_y: true,
      title: "train/loss",
      group: null,
    });
  });

  it("takes the selected runs over the filter, keeps a non-default sort and the grouping", () => {
    const group = { by: "config.lr", agg: "median" as const, band: "std" as const };
    const b = blockFromWorkspacePanel({ key: "acc", options: { x: "epoch" } }, { filter: "state = finished", sort: "-summary.acc", selected: ["r2", "r1", "r2"], group }, "b2");
    expect(b).toMatchObject({ type: "line", runs: { ids: ["r2", "r1"], sort: "-summary.acc" }, x: "epoch", title: "acc vs epoch", smoothing: 0, log_y: false, group });
    expect(b.type === "line" && b.runs.filter).toBeUndefined();
  });

  it("fills missing options with the workspace defaults", () => {
    const b = blockFromWorkspacePanel({ key: "loss" }, { filter: "" }, "b3");
    expect(b).toMatchObject({ runs: { filter: "" }, x: "_step", smoothing: 0, log_y: false });
  });

  it("maps histogram and media panels to their blocks at the last step", () => {
    expect(blockFromWorkspacePanel({ key: "weights", kind: "histogram" }, { filter: "" }, "h")).toEqual({ id: "h", type: "histogram", runs: { filter: "" }, key: "weights", step: null, title: "weights" });
    expect(blockFromWorkspacePanel({ key: "samples", kind: "media" }, { filter: "", selected: ["a"] }, "m")).toEqual({ id: "m", type: "media", runs: { ids: ["a"] }, key: "samples", step: null, title: "samples" });
  });

  it("raises the limit to hold every selected run (at most 500)", () => {
    const ids = Array.from({ length: 600 }, (_, i) => `r${i}`);
    const rs = runSetFromView({ filter: "", selected: ids });
    expect(rs.ids).toHaveLength(500);
    expect(rs.limit).toBe(500);
  });

  it("makes block ids the document accepts", () => {
    const id = newBlockId();
    expect(id).toMatch(/^[A-Za-z0-9_-]{1,64}$/);
    expect(newBlockId()).not.toBe(id);
  });
});
