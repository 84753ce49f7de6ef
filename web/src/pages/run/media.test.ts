import { describe, expect, it } from "vitest";
import type { MediaDescriptor } from "../../api/types";
import { isMediaDescriptor, itemIndexForStep, mediaView, mimeOf } from "./media";

const base = { sha256: "ab", size: 10 };

describe("mediaView", () => {
  it("maps each descriptor to the element that shows it", () => {
    expect(mediaView({ ...base, _type: "image", path: "media/ab.png", format: "png", width: 8, height: 4, mode: "RGB", caption: "cat" })).toEqual({
      kind: "image",
      path: "media/ab.png",
      mime: "image/png",
      width: 8,
      height: 4,
      caption: "cat",
    });
    expect(mediaView({ ...base, _type: "audio", path: "media/ab.wav", format: "wav", sample_rate: 8000 })).toEqual({
      kind: "audio",
      path: "media/ab.wav",
      mime: "audio/wav",
      caption: null,
    });
    expect(mediaView({ ...base, _type: "video", path: "media/ab.mp4", format: "mp4", fps: 4, width: 16, height: 16 })).toMatchObject({ kind: "video", mime: "video/mp4" });
    expect(mediaView({ ...base, _type: "html", path: "media/ab.html" })).toEqual({ kind: "html", path: "media/ab.html", caption: null });
    expect(mediaView({ ...base, _type: "table", path: "media/ab.table.json", columns: ["a", "b"], nrows: 3 })).toMatchObject({ kind: "table", columns: ["a", "b"], nrows: 3 });
  });

  it("keeps the overlays of an image and shows 3D objects", () => {
    const image = mediaView({
      ...base,
      _type: "image",
      path: "media/ab.png",
      format: "png",
      width: 10,
      height: 10,
      boxes: { p: { box_data: [{ position: { minX: 0, maxX: 0.5, minY: 0, maxY: 0.5 }, class_id: 1 }], class_labels: { "1": "cat" } } },
    } as unknown as MediaDescriptor);
    expect(image).toMatchObject({ kind: "image", overlays: { boxes: [{ key: "p", boxes: [{ x: 0, y: 0, w: 5, h: 5, caption: "cat" }] }] } });
    const cloud = { ...base, _type: "object3d", path: "media/ab.pts.json", format: "pts.json", points: 5 } as unknown as MediaDescriptor;
    expect(mediaView(cloud)).toEqual({ kind: "object3d", path: "media/ab.pts.json", format: "pts.json", points: 5, caption: null });
    expect(mediaView({ ...base, _type: "object3d", path: "media/ab.glb" } as unknown as MediaDescriptor)).toMatchObject({ kind: "object3d", format: "glb", points: null });
    expect(isMediaDescriptor({ _type: "object3d", path: "media/ab.glb" })).toBe(true);
  });

  it("shows gif videos as images", () => {
    expect(mediaView({ ...base, _type: "video", path: "media/ab.gif", format: "gif", fps: 4, width: 16, height: 16 })).toMatchObject({ kind: "image", mime: "image/gif" });
  });

  it("maps gallery items one by one, and tolerates unknown types", () => {
    const g: MediaDescriptor = {
      _type: "gallery",
      items: [
        { ...base, _type: "image", path: "media/a.png", format: "png", width: 1, height: 1 },
        { ...base, _type: "image", path: "media/b.jpg", format: "jpeg", width: 1, height: 1 },
      ],
    };
    const v = mediaView(g);
    expect(v.kind).toBe("gallery");
    expect(v.kind === "gallery" ? v.items.map((i) => (i.kind === "image" ? i.mime : "")) : []).toEqual(["image/png", "image/jpeg"]);
    expect(mediaView({ _type: "object3d" } as unknown as MediaDescriptor)).toEqual({ kind: "unknown", type: "object3d" });
  });

  it("knows MIME types from the format or the extension", () => {
    expect(mimeOf("jpeg", "media/x.jpg")).toBe("image/jpeg");
    expect(mimeOf(undefined, "media/x.webm")).toBe("video/webm");
    expect(mimeOf("", "media/x.bin")).toBe("application/octet-stream");
  });
});

describe("isMediaDescriptor", () => {
  it("tells media cells from plain values", () => {
    expect(isMediaDescriptor({ _type: "image", path: "media/a.png" })).toBe(true);
    expect(isMediaDescriptor({ _type: "gallery", items: [] })).toBe(true);
    expect(isMediaDescriptor({ _type: "image" })).toBe(false);
    expect(isMediaDescriptor({ _type: "nope", path: "x" })).toBe(false);
    expect(isMediaDescriptor("media/a.png")).toBe(false);
    expect(isMediaDescriptor(null)).toBe(false);
    expect(isMediaDescriptor([1])).toBe(false);
  });
});

describe("itemIndexForStep", () => {
  it("finds the last item at or before a step", () => {
    expect(itemIndexForStep([0, 10, 20], 15)).toBe(1);
    expect(itemIndexForStep([0, 10, 20], 20)).toBe(2);
    expect(itemIndexForStep([5, 10], 0)).toBe(0);
    expect(itemIndexForStep([], 3)).toBe(-1);
  });
});
