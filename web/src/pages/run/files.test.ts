import { describe, expect, it } from "vitest";
import { diffLineKind, prettyJson, previewKind, splitMedia } from "./files";

describe("files", () => {
  it("previews by kind", () => {
    expect(previewKind("metadata.json")).toBe("json");
    expect(previewKind("requirements.txt")).toBe("text");
    expect(previewKind("diff.patch")).toBe("diff");
    expect(previewKind("code/train.py")).toBe("text");
    expect(previewKind("media/ab.png")).toBe("image");
    expect(previewKind("plots/x.JPG")).toBe("image");
    expect(previewKind("Dockerfile")).toBe("text");
    expect(previewKind("model.ckpt")).toBe("none");
  });

  it("indents JSON and keeps text that is not JSON", () => {
    expect(prettyJson('{"a":1,"b":[1,2]}')).toBe('{\n  "a": 1,\n  "b": [\n    1,\n    2\n  ]\n}');
    expect(prettyJson("{nope")).toBe("{nope");
  });

  it("colours diff lines", () => {
    expect(["diff --git a/x b/x", "--- a/x", "+++ b/x", "@@ -1 +1 @@", "+new", "-old", " same"].map(diffLineKind)).toEqual([
      "meta",
      "meta",
      "meta",
      "hunk",
      "add",
      "del",
      "ctx",
    ]);
  });

  it("puts media payloads apart", () => {
    const { main, media } = splitMedia([
      { path: "diff.patch", size: 1 },
      { path: "media/ab.png", size: 2 },
      { path: "metadata.json", size: 3 },
    ]);
    expect(main.map((f) => f.path)).toEqual(["diff.patch", "metadata.json"]);
    expect(media.map((f) => f.path)).toEqual(["media/ab.png"]);
  });
});
