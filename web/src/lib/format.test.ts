import { describe, expect, it } from "vitest";
import { formatBytes, formatDuration, formatNumber, formatRelative, formatValue } from "./format";

describe("formatDuration", () => {
  it("picks two units", () => {
    expect(formatDuration(0)).toBe("0s");
    expect(formatDuration(0.0123)).toBe("12ms");
    expect(formatDuration(45.7)).toBe("45s");
    expect(formatDuration(200)).toBe("3m 20s");
    expect(formatDuration(3600 * 2 + 5 * 60)).toBe("2h 05m");
    expect(formatDuration(86400 * 3 + 3600 * 4)).toBe("3d 4h");
  });

  it("shows a dash for missing values", () => {
    expect(formatDuration(null)).toBe("-");
    expect(formatDuration(undefined)).toBe("-");
    expect(formatDuration(-1)).toBe("-");
    expect(formatDuration(Number.NaN)).toBe("-");
  });
});

describe("formatRelative", () => {
  const now = 1_700_000_000;
  it("is relative to now", () => {
    expect(formatRelative(now - 10, now)).toBe("just now");
    expect(formatRelative(now - 5 * 60, now)).toBe("5 min ago");
    expect(formatRelative(now - 3 * 3600, now)).toBe("3 h ago");
    expect(formatRelative(now - 86400, now)).toBe("yesterday");
    expect(formatRelative(now - 4 * 86400, now)).toBe("4 days ago");
    expect(formatRelative(now - 90 * 86400, now)).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(formatRelative(now + 5, now)).toBe("just now");
    expect(formatRelative(null, now)).toBe("-");
  });
});

describe("formatNumber", () => {
  it("keeps integers and rounds the rest to 4 significant digits", () => {
    expect(formatNumber(42)).toBe("42");
    expect(formatNumber(1234567)).toBe("1,234,567");
    expect(formatNumber(0.123456)).toBe("0.1235");
    expect(formatNumber(3.14159)).toBe("3.142");
    expect(formatNumber(1e-5)).toBe("1e-5");
    expect(formatNumber(0.00012346)).toBe("1.235e-4");
    expect(formatNumber(2.5e12)).toBe("2,500,000,000,000");
    expect(formatNumber(2.5e12 + 0.5)).toBe("2.5e+12");
    expect(formatNumber(1e20)).toBe("1e+20");
    expect(formatNumber(-0.5)).toBe("-0.5");
    expect(formatNumber(Number.NaN)).toBe("NaN");
    expect(formatNumber(Number.NEGATIVE_INFINITY)).toBe("-Infinity");
  });
});

describe("formatValue", () => {
  it("formats JSON values for cells", () => {
    expect(formatValue(0.5)).toBe("0.5");
    expect(formatValue("adam")).toBe("adam");
    expect(formatValue("NaN")).toBe("NaN");
    expect(formatValue(true)).toBe("true");
    expect(formatValue(null)).toBe("");
    expect(formatValue(undefined)).toBe("");
    expect(formatValue([1, 2])).toBe("[1,2]");
    expect(formatValue({ a: 1 })).toBe('{"a":1}');
  });
});

describe("formatBytes", () => {
  it("uses binary units", () => {
    expect(formatBytes(512)).toBe("512 B");
    expect(formatBytes(1536)).toBe("1.5 KB");
    expect(formatBytes(5 * 1024 * 1024)).toBe("5.0 MB");
    expect(formatBytes(300 * 1024 * 1024)).toBe("300 MB");
  });
});
