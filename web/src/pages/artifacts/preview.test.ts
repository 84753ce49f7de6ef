import { describe, expect, it } from "vitest";
import { aliasProblem, editableAliases } from "./aliases";
import { artifactPreviewKind, parseCsv } from "./preview";

describe("file previews", () => {
  it("picks a preview by name", () => {
    expect(["a/train.csv", "b.TSV", "x.json", "img/a.png", "notes.md", "model.pt", "d.patch"].map(artifactPreviewKind)).toEqual([
      "csv",
      "csv",
      "json",
      "image",
      "text",
      "none",
      "text",
    ]);
  });

  it("parses CSV with quotes, escaped quotes, line breaks in fields and CRLF", () => {
    const text = 'id,text,score\r\n1,"a, b",0.5\r\n2,"say ""hi""\nthere",1\n3,,\n';
    expect(parseCsv(text).rows).toEqual([
      ["id", "text", "score"],
      ["1", "a, b", "0.5"],
      ["2", 'say "hi"\nthere', "1"],
      ["3", "", ""],
    ]);
    expect(parseCsv("a\tb\n1\t2", 10, "\t").rows).toEqual([
      ["a", "b"],
      ["1", "2"],
    ]);
  });

  it("stops at the row limit and says so", () => {
    const text = Array.from({ length: 10 }, (_, i) => `${i},x`).join("\n") + "\n";
    const { rows, truncated } = parseCsv(text, 4);
    expect(rows).toHaveLength(4);
    expect(truncated).toBe(true);
    expect(parseCsv("a,b\n1,2\n", 2).truncated).toBe(false);
  });
});

describe("aliases", () => {
  it("refuses latest, version numbers and bad characters, naming the fix", () => {
    expect(aliasProblem("best")).toBeNull();
    expect(aliasProblem("prod.v1-rc_2")).toBeNull();
    expect(aliasProblem("latest")).toMatch(/newest version/);
    expect(aliasProblem("v3")).toMatch(/version number/);
    expect(aliasProblem("a b")).toMatch(/letters, digits/);
    expect(aliasProblem("x".repeat(129))).toMatch(/1 to 128/);
  });

  it("edits every alias but latest", () => {
    expect(editableAliases(["latest", "prod", "best", "prod"])).toEqual(["best", "prod"]);
  });
});
