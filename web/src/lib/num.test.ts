import { describe, expect, it } from "vitest";
import { toNumber } from "./num";

describe("toNumber", () => {
  it("reads numbers and the server's spellings of non-finite values", () => {
    expect(toNumber(1.5)).toBe(1.5);
    expect(toNumber("NaN")).toBeNaN();
    expect(toNumber("Infinity")).toBe(Number.POSITIVE_INFINITY);
    expect(toNumber("-Infinity")).toBe(Number.NEGATIVE_INFINITY);
    expect(toNumber("x")).toBeNull();
    expect(toNumber(null)).toBeNull();
  });
});
