import { describe, expect, it } from "vitest";
import { boxInPixels, classColor, hasOverlays, maskPixels, overlaysOf, rgbOf } from "./overlay";

const names = new Map([[1, "cat"]]);

describe("boxInPixels", () => {
  it("takes fractions of the image by default and pixels with domain: pixel", () => {
    expect(boxInPixels({ position: { minX: 0.1, maxX: 0.5, minY: 0.25, maxY: 0.75 }, class_id: 1 }, 200, 100, names)).toEqual({
      x: 20, y: 25, w: 80, h: 50, classId: 1, caption: "cat", color: classColor(1),
    });
    expect(boxInPixels({ position: { middle: [50, 40], width: 20, height: 10 }, domain: "pixel", box_caption: "a dog" }, 200, 100, names)).toMatchObject({
      x: 40, y: 35, w: 20, h: 10, classId: null, caption: "a dog",
    });
    expect(boxInPixels({ position: { middle: [0.5, 0.5], width: 0.5, height: 0.2 } }, 100, 100, names)).toMatchObject({ x: 25, y: 40, w: 50, h: 20 });
  });

  it("adds the scores to a caption made from the class name", () => {
    expect(boxInPixels({ position: { minX: 0, maxX: 1, minY: 0, maxY: 1 }, class_id: 1, scores: { conf: 0.912, n: 3 } }, 10, 10, names)?.caption).toBe("cat (conf 0.91, n 3)");
    expect(boxInPixels({ position: { minX: 0, maxX: 1, minY: 0, maxY: 1 }, class_id: 4 }, 10, 10, names)?.caption).toBe("class_4");
  });

  it("skips malformed boxes", () => {
    expect(boxInPixels({ position: { minX: 0 } }, 10, 10, names)).toBeNull();
    expect(boxInPixels({ position: { middle: [1], width: 1, height: 1 } }, 10, 10, names)).toBeNull();
    expect(boxInPixels("box", 10, 10, names)).toBeNull();
  });
});

describe("overlaysOf", () => {
  it("collects box groups, mask groups and classes (classes= names first)", () => {
    const o = overlaysOf(
      {
        classes: [{ id: 1, name: "Cat" }],
        boxes: { predictions: { box_data: [{ position: { minX: 0, maxX: 0.5, minY: 0, maxY: 0.5 }, class_id: 2 }, { bad: 1 }], class_labels: { "1": "cat", "2": "dog" } } },
        masks: { gt: { path: "media/ab.mask.png", class_labels: { "0": "bg", "3": "road" } }, broken: { class_labels: {} } },
      },
      40,
      20,
    );
    expect(o.boxes).toHaveLength(1);
    expect(o.boxes[0]?.boxes).toEqual([{ x: 0, y: 0, w: 20, h: 10, classId: 2, caption: "dog", color: classColor(2) }]);
    expect(o.masks).toEqual([{ key: "gt", path: "media/ab.mask.png", classIds: [0, 3] }]);
    expect(o.classes.map((c) => [c.id, c.name])).toEqual([[0, "bg"], [1, "Cat"], [2, "dog"], [3, "road"]]);
    expect(hasOverlays(o)).toBe(true);
    expect(hasOverlays(overlaysOf({}, 1, 1))).toBe(false);
  });
});

describe("maskPixels", () => {
  it("colours each shown class at the given alpha and leaves hidden ones transparent", () => {
    const px = maskPixels([0, 1, 1], new Set([0]), 128);
    expect([...px.slice(0, 4)]).toEqual([0, 0, 0, 0]);
    expect([...px.slice(4, 8)]).toEqual([...rgbOf(classColor(1)), 128]);
    expect(classColor(-1)).toBe(classColor(19));
    expect(rgbOf("#ff8000")).toEqual([255, 128, 0]);
  });
});
