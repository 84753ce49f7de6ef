import { describe, expect, it } from "vitest";
import { PALETTE, hash32, runColor } from "./colors";

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

/** WCAG relative luminance of `#rrggbb`. */
function luminance(hex: string): number {
  const c = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16) / 255).map((v) => (v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4));
  return 0.2126 * (c[0] ?? 0) + 0.7152 * (c[1] ?? 0) + 0.0722 * (c[2] ?? 0);
}

describe("palette contrast", () => {
  it("keeps 3:1 against white (lines and swatches, WCAG non-text contrast)", () => {
    for (const c of PALETTE) expect((1.05 / (luminance(c) + 0.05))).toBeGreaterThanOrEqual(3);
  });
});
