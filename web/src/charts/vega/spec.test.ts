// @vitest-environment happy-dom
import { describe, expect, it } from "vitest";
import { buildSpec, customChart, DATA_NAME, rowValues } from "./spec";
import { interpret } from "./interpreter";
import { renderChart } from "./render";

const LINE = {
  $schema: "https://vega.github.io/schema/vega-lite/v6.json",
  title: "Loss",
  width: "container",
  height: 260,
  mark: { type: "line" },
  encoding: { x: { field: "step", type: "quantitative" }, y: { field: "loss", type: "quantitative" } },
  data: { name: "table" },
};

describe("customChart", () => {
  it("reads a custom-chart descriptor", () => {
    const c = customChart({ _type: "custom-chart", path: "media/ab.table.json", spec: LINE, columns: ["step", "loss"], nrows: 3, preset: "line" });
    expect(c).toEqual({ path: "media/ab.table.json", spec: LINE, columns: ["step", "loss"], nrows: 3, preset: "line" });
  });
  it("refuses other descriptors and malformed ones", () => {
    expect(customChart({ _type: "table", path: "media/x.table.json" })).toBeNull();
    expect(customChart({ _type: "custom-chart", path: 3, spec: LINE })).toBeNull();
    expect(customChart({ _type: "custom-chart", path: "p", spec: [] })).toBeNull();
    expect(customChart(null)).toBeNull();
  });
  it("defaults what an older descriptor lacks", () => {
    expect(customChart({ _type: "custom-chart", path: "p", spec: {} })).toEqual({ path: "p", spec: {}, columns: [], nrows: 0, preset: "custom" });
  });
});

describe("buildSpec", () => {
  it("binds the rows to the table data source and sizes the container width", () => {
    const values = rowValues(["step", "loss"], [[0, 1], [1, 0.5], [2, null]]);
    expect(values).toEqual([{ step: 0, loss: 1 }, { step: 1, loss: 0.5 }, { step: 2, loss: null }]);
    const out = buildSpec(LINE, values, 400);
    expect(out.datasets).toEqual({ [DATA_NAME]: values });
    expect(out.data).toEqual({ name: "table" });
    expect(out.width).toBe(400);
    expect(out.height).toBe(260);
    expect(out.background).toBe("transparent");
    // the chart's own spec is untouched
    expect(LINE.width).toBe("container");
  });
  it("keeps a fixed width, a spec's own datasets and adds data when missing", () => {
    const out = buildSpec({ ...LINE, width: 300, data: undefined as unknown as null, datasets: { other: [{ a: 1 }] } }, [], 999);
    expect(out.width).toBe(300);
    expect(out.datasets).toEqual({ other: [{ a: 1 }], table: [] });
    const bare = buildSpec({ mark: "bar" }, [], 50);
    expect(bare.data).toEqual({ name: "table" });
    expect(bare.width).toBe(120); // a floor for tiny containers
  });
  it("refuses a spec that loads data from a URL", () => {
    expect(() => buildSpec({ mark: "point", data: { url: "https://example.com/x.json" } }, [], 100)).toThrow(/URL/);
    expect(() => buildSpec({ layer: [{ mark: "point", data: { url: "/api/v1/x" } }] }, [], 100)).toThrow(/URL/);
  });
});

describe("interpret", () => {
  const lit = (value: unknown) => ({ type: "Literal", value });
  it("evaluates operators, members, calls and conditionals without Function", () => {
    const ast = {
      type: "ConditionalExpression",
      test: { type: "BinaryExpression", operator: ">", left: { type: "MemberExpression", computed: false, object: { type: "Identifier", name: "datum" }, property: { type: "Identifier", name: "v" } }, right: lit(2) },
      consequent: { type: "CallExpression", callee: { type: "Identifier", name: "upper" }, arguments: [lit("big")] },
      alternate: { type: "BinaryExpression", operator: "+", left: lit("s"), right: lit(1) },
    };
    expect(interpret(ast, {}, {}, { v: 3 })).toBe("BIG");
    expect(interpret(ast, {}, {}, { v: 1 })).toBe("s1");
  });
  it("refuses dangerous members", () => {
    const ast = { type: "MemberExpression", computed: true, object: { type: "Identifier", name: "datum" }, property: lit("constructor") };
    expect(interpret(ast, {}, {}, { v: 1 })).toBeUndefined();
  });
});

describe("renderChart", () => {
  it("draws a line, points, bars and a heatmap as SVG marks with interpreted expressions", async () => {
    const rows = rowValues(["step", "loss", "k"], [[0, 1, "a"], [1, 0.5, "a"], [2, 0.25, "b"]]);
    const cases: [Record<string, unknown>, string, number][] = [
      [{ mark: "line", encoding: { x: { field: "step", type: "quantitative" }, y: { field: "loss", type: "quantitative" } } }, ".mark-line.role-mark path", 1],
      [{ mark: "point", encoding: { x: { field: "step", type: "quantitative" }, y: { field: "loss", type: "quantitative" } } }, ".mark-symbol.role-mark path", 3],
      [{ mark: "bar", encoding: { y: { field: "k", type: "nominal" }, x: { field: "loss", type: "quantitative", aggregate: "sum" } } }, ".mark-rect.role-mark path", 2],
      [{ mark: "rect", encoding: { x: { field: "k", type: "nominal" }, y: { field: "step", type: "ordinal" }, color: { field: "loss", type: "quantitative" } } }, ".mark-rect.role-mark path", 3],
    ];
    for (const [spec, selector, n] of cases) {
      const el = document.createElement("div");
      document.body.appendChild(el);
      const drawn = await renderChart(el, buildSpec({ ...spec, title: "T" }, rows, 300));
      expect(el.querySelectorAll(selector).length).toBe(n);
      expect(drawn.marks).toBeGreaterThanOrEqual(n);
      expect(el.querySelector("svg")).not.toBeNull();
      drawn.view.finalize();
      el.remove();
    }
  });
});
