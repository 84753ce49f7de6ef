import { describe, expect, it } from "vitest";
import { PALETTE, assignColors, colorsOf, hash32, luminance, runColor } from "./colors";

describe("runColor", () => {
  it("is stable for an id and comes from the palette", () => {
    for (const id of ["abc", "x221wpbf", "run-1", ""]) {
      expect(runColor(id)).toBe(runColor(id));
      expect(PALETTE).toContain(runColor(id));
    }
  });

  it("spreads ids over the whole palette", () => {
    const used = new Set<string>();
    for (let i = 0; i < 500; i++) used.add(runColor(`run${i}`));
    expect(used.size).toBe(PALETTE.length);
  });

  it("spreads ids that differ in one character", () => {
    const colors = new Set(["a1", "a2", "a3", "a4", "a5", "a6"].map(runColor));
    expect(colors.size).toBeGreaterThan(3);
  });

  it("has distinct colours", () => {
    expect(new Set(PALETTE).size).toBe(PALETTE.length);
    for (const c of PALETTE) expect(c).toMatch(/^#[0-9a-f]{6}$/);
  });

  it("hashes to unsigned 32-bit integers", () => {
    for (const s of ["", "a", "long id with spaces ✓"]) {
      const h = hash32(s);
      expect(Number.isInteger(h)).toBe(true);
      expect(h).toBeGreaterThanOrEqual(0);
      expect(h).toBeLessThan(2 ** 32);
    }
  });
});


describe("palette contrast", () => {
  it("keeps 3:1 against white (lines and swatches, WCAG non-text contrast)", () => {
    for (const c of PALETTE) expect((1.05 / (luminance(c) + 0.05))).toBeGreaterThanOrEqual(3);
  });
});

/** Ids `run0..run{n-1}` in a scrambled order. */
function ids(n: number, prefix = "run"): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}${(i * 7919) % n}`);
}

describe("assignColors", () => {
  it("gives every visible run its own colour, up to 200 runs", () => {
    for (const n of [1, 2, 5, 12, 13, 30, 100, 200]) {
      const colors = assignColors(ids(n));
      expect(colors.size).toBe(n);
      expect(new Set(colors.values()).size).toBe(n);
      for (const c of colors.values()) {
        expect(c).toMatch(/^#[0-9a-f]{6}$/);
        expect(1.05 / (luminance(c) + 0.05)).toBeGreaterThanOrEqual(3);
      }
    }
  });

  it("separates ids whose hashes pick the same palette entry", () => {
    const byEntry = new Map<number, string[]>();
    for (let i = 0; i < 100; i++) {
      const id = `x${i}`;
      const slot = hash32(id) % PALETTE.length;
      byEntry.set(slot, [...(byEntry.get(slot) ?? []), id]);
    }
    const clash = [...byEntry.values()].find((group) => group.length >= 2) ?? [];
    expect(runColor(clash[0] ?? "")).toBe(runColor(clash[1] ?? ""));
    const colors = assignColors(clash.slice(0, 2));
    expect(colors.get(clash[0] ?? "")).not.toBe(colors.get(clash[1] ?? ""));
  });

  it("depends on the set only: the same runs in another order keep their colours", () => {
    const set = ids(40);
    const a = assignColors(set);
    const b = assignColors([...set].reverse());
    const c = assignColors([...set, ...set.slice(0, 5)]);
    for (const id of set) {
      expect(b.get(id)).toBe(a.get(id));
      expect(c.get(id)).toBe(a.get(id));
    }
  });

  it("keeps a run shown alone, or with runs of other entries, at its own colour", () => {
    expect(assignColors(["abc"]).get("abc")).toBe(runColor("abc"));
    const set = ids(8, "solo");
    const colors = assignColors(set);
    const own = set.filter((id) => set.every((o) => o === id || hash32(o) % PALETTE.length !== hash32(id) % PALETTE.length));
    for (const id of own) expect(colors.get(id)).toBe(runColor(id));
  });

  it("colorsOf answers the assigned colour, and a run's own colour for the others", () => {
    const colorOf = colorsOf(["a", "b"]);
    expect(colorOf("a")).toBe(assignColors(["a", "b"]).get("a"));
    expect(colorOf("zzz")).toBe(runColor("zzz"));
  });
});
