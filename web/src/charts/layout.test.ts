import { describe, expect, it } from "vitest";
import {
  emptyLayout,
  formatPanelsParam,
  movePanel,
  newPanelId,
  optionsFromParams,
  optionsToParams,
  panelOptions,
  panelOrder,
  parseLayout,
  parsePanelsParam,
  resolvePanels,
  sectionOf,
  serializeLayout,
  shiftPanel,
  specFromId,
  DEFAULT_OPTIONS,
} from "./layout";

const KEYS = ["train/loss", "eval/acc", "lr", "system/gpu", "train/acc", "eval/loss", "train/step10", "train/step9"];

describe("layout (de)serialisation", () => {
  it("round-trips through JSON", () => {
    const l = emptyLayout();
    l.defaults = { x: "epoch", smoothing: 0.6, log: true };
    l.collapsed = ["system"];
    l.order = ["train/loss", "train/acc"];
    l.removed = ["lr"];
    l.added = [{ id: "train/loss@epoch", key: "train/loss", options: { x: "epoch" } }];
    l.options = { "train/acc": { log: true } };
    const back = parseLayout(JSON.parse(JSON.stringify(serializeLayout(l))));
    expect(back).toEqual(l);
  });

  it("falls back to defaults on malformed documents", () => {
    expect(parseLayout(null)).toEqual(emptyLayout());
    expect(parseLayout("x")).toEqual(emptyLayout());
    const l = parseLayout({
      defaults: { x: 3, smoothing: 5, log: "yes" },
      collapsed: ["a", 1],
      added: [{ id: "x" }, { id: "k", key: "k", options: { smoothing: -1 } }],
      options: { a: {}, b: { log: false } },
    });
    expect(l.defaults).toEqual({ ...DEFAULT_OPTIONS, smoothing: 0.99 });
    expect(l.collapsed).toEqual(["a"]);
    expect(l.added).toEqual([{ id: "k", key: "k", options: { smoothing: 0 } }]);
    expect(l.options).toEqual({ b: { log: false } });
  });
});

describe("panels and sections", () => {
  it("groups keys by prefix: named sections, system after them, ungrouped last; natural key order", () => {
    const s = resolvePanels(emptyLayout(), KEYS);
    expect(s.map((x) => x.name)).toEqual(["eval", "train", "system", ""]);
    expect(s[1]?.panels.map((p) => p.key)).toEqual(["train/acc", "train/loss", "train/step9", "train/step10"]);
    expect(sectionOf("lr")).toBe("");
    expect(sectionOf("a/b/c")).toBe("a");
  });

  it("applies order, removed and added panels", () => {
    const l = emptyLayout();
    l.order = ["train/loss", "train/loss@epoch"];
    l.removed = ["train/step9", "lr"];
    l.added = [{ id: "train/loss@epoch", key: "train/loss", options: { x: "epoch" } }];
    const s = resolvePanels(l, KEYS);
    expect(s.map((x) => x.name)).toEqual(["eval", "train", "system"]);
    expect(s[1]?.panels.map((p) => p.id)).toEqual(["train/loss", "train/loss@epoch", "train/acc", "train/step10"]);
  });

  it("shows exactly the URL's panels when it names them", () => {
    const s = resolvePanels(emptyLayout(), KEYS, ["lr", "train/acc@epoch", "eval/acc"]);
    expect(panelOrder(s)).toEqual(["eval/acc", "train/acc@epoch", "lr"]);
    const spec = s[1]?.panels[0];
    expect(spec).toEqual({ id: "train/acc@epoch", key: "train/acc", options: { x: "epoch" } });
  });

  it("moves panels within their section", () => {
    const s = resolvePanels(emptyLayout(), ["a/1", "a/2", "a/3", "b/1"]);
    expect(movePanel(s, "a/3", "a/1")).toEqual(["a/3", "a/1", "a/2", "b/1"]);
    expect(movePanel(s, "a/1", null)).toEqual(["a/2", "a/3", "a/1", "b/1"]);
    expect(shiftPanel(s, "a/2", -1)).toEqual(["a/2", "a/1", "a/3", "b/1"]);
    expect(shiftPanel(s, "a/3", 1)).toEqual(["a/1", "a/2", "a/3", "b/1"]);
    expect(shiftPanel(s, "b/1", -1)).toEqual(["a/1", "a/2", "a/3", "b/1"]);
  });

  it("panel ids", () => {
    expect(newPanelId("k", "_step", new Set())).toBe("k");
    expect(newPanelId("k", "epoch", new Set())).toBe("k@epoch");
    expect(newPanelId("k", "_step", new Set(["k", "k#2"]))).toBe("k#3");
    expect(specFromId("k@epoch#2")).toEqual({ id: "k@epoch#2", key: "k", options: { x: "epoch" } });
    expect(specFromId("user@host")).toEqual({ id: "user@host", key: "user", options: { x: "host" } });
  });

  it("panel options: defaults < spec < saved per-panel options", () => {
    const l = emptyLayout();
    l.options = { "k@epoch": { smoothing: 0.5 } };
    const p = specFromId("k@epoch");
    expect(panelOptions(l, { x: "_step", smoothing: 0.1, log: true }, p)).toEqual({ x: "epoch", smoothing: 0.5, log: true });
  });
});

describe("URL parameters", () => {
  it("panels= round-trips ids with commas", () => {
    const ids = ["a/b", "c,d", "e%f"];
    expect(parsePanelsParam(formatPanelsParam(ids))).toEqual(ids);
    expect(parsePanelsParam(undefined)).toEqual([]);
  });

  it("x / smooth / log", () => {
    expect(optionsFromParams({ x: "_timestamp", smooth: "0.6", log: "1" }, DEFAULT_OPTIONS)).toEqual({ x: "_timestamp", smoothing: 0.6, log: true });
    expect(optionsFromParams({ smooth: "abc" }, DEFAULT_OPTIONS)).toEqual(DEFAULT_OPTIONS);
    expect(optionsToParams(DEFAULT_OPTIONS)).toEqual({ x: undefined, smooth: undefined, log: undefined });
    expect(optionsToParams({ x: "epoch", smoothing: 0.3, log: true })).toEqual({ x: "epoch", smooth: "0.3", log: "1" });
  });
});
