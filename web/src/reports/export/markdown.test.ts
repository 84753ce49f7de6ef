import { strFromU8, unzipSync } from "fflate";
import { describe, expect, it } from "vitest";

import { assembleMarkdown, markdownTable, zipMarkdown, type BlockOutput, type ExportBlock } from "./markdown";

const PNG = new Uint8Array([137, 80, 78, 71, 13, 10, 26, 10]);

describe("Markdown export", () => {
  const blocks: ExportBlock[] = [
    { id: "m1", type: "markdown", text: "## Intro\n\nLoss is $L = \\sum_i \\ell_i$.\n" },
    { id: "l1", type: "line", y: ["train/loss"] },
    { id: "t1", type: "runs_table", title: "Runs" },
    { id: "i1", type: "image", src: "asset:abc", alt: "setup", caption: "The rig" },
    { id: "i2", type: "image", src: "https://example.org/x.png", alt: "remote" },
    { id: "s1", type: "scalar", key: "summary.acc", title: "Accuracy" },
    { id: "h1", type: "histogram", key: "w" },
  ];
  const outputs = new Map<string, BlockOutput>([
    ["l1", { kind: "png", bytes: PNG }],
    ["t1", { kind: "table", rows: [["name", "summary.loss"], ["run|a", "0.5"], ["b\nc", "0.25"]] }],
    ["i1", { kind: "image", bytes: PNG, ext: "png" }],
    ["s1", { kind: "png", bytes: PNG }],
    ["h1", { kind: "missing", why: "not shown on the page" }],
  ]);

  it("keeps markdown as written, numbers panels and images, tables as tables", () => {
    const md = assembleMarkdown({ title: "Study", description: "About lr.", url: "http://h/#/p/e/p/reports/abc" }, blocks, outputs);
    expect(md.markdown).toBe(
      [
        "# Study",
        "About lr.",
        "## Intro\n\nLoss is $L = \\sum_i \\ell_i$.",
        "![train/loss](panels/1.png)",
        "**Runs**\n\n| name | summary.loss |\n| --- | --- |\n| run\\|a | 0.5 |\n| b c | 0.25 |",
        "![setup](images/1.png)",
        "*The rig*",
        "![remote](<https://example.org/x.png>)",
        "![Accuracy](panels/2.png)",
        "*(histogram: w: panel not exported: not shown on the page)*",
        "---\n\nExported from fwtrack: <http://h/#/p/e/p/reports/abc>",
      ].join("\n\n") + "\n",
    );
    expect(Object.keys(md.files).sort()).toEqual(["images/1.png", "panels/1.png", "panels/2.png"]);
  });

  it("zips report.md with its files", () => {
    const md = assembleMarkdown({ title: "Study" }, blocks, outputs);
    const files = unzipSync(zipMarkdown(md));
    expect(Object.keys(files).sort()).toEqual(["images/1.png", "panels/1.png", "panels/2.png", "report.md"]);
    expect(strFromU8(files["report.md"] ?? new Uint8Array())).toBe(md.markdown);
    expect(Array.from(files["panels/2.png"] ?? [])).toEqual(Array.from(PNG));
  });

  it("pads short rows of a table", () => {
    expect(markdownTable([["a", "b"], ["1"]])).toBe("| a | b |\n| --- | --- |\n| 1 |  |");
    expect(markdownTable([])).toBe("");
  });
});
