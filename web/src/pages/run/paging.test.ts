import { describe, expect, it } from "vitest";
import { clampOffset, pageInfo, pagesFor, rangeLabel, visibleRange } from "./paging";

describe("pageInfo", () => {
  it("places a page in the rows", () => {
    expect(pageInfo(0, 50, 100_000)).toEqual({ first: 1, last: 50, page: 0, pages: 2000, lastOffset: 99_950, canPrev: false, canNext: true });
    const last = pageInfo(99_950, 50, 100_000);
    expect([last.first, last.last, last.page, last.canPrev, last.canNext]).toEqual([99_951, 100_000, 1999, true, false]);
  });

  it("handles a short last page and no rows", () => {
    expect(pageInfo(100, 50, 120)).toMatchObject({ first: 101, last: 120, page: 2, pages: 3, canNext: false });
    expect(pageInfo(0, 50, 0)).toMatchObject({ first: 0, last: 0, pages: 1, canPrev: false, canNext: false });
  });

  it("clamps an offset past the end (a filter shrank the rows) onto the last page", () => {
    expect(clampOffset(5000, 50, 120)).toBe(100);
    expect(clampOffset(73, 50, 1000)).toBe(50);
    expect(clampOffset(-5, 50, 1000)).toBe(0);
    expect(clampOffset(Number.NaN, 50, 1000)).toBe(0);
    expect(pageInfo(5000, 50, 120).first).toBe(101);
  });

  it("labels the range", () => {
    expect(rangeLabel(pageInfo(50, 50, 100_000), 100_000)).toBe("rows 51–100 of 100,000");
    expect(rangeLabel(pageInfo(0, 50, 0), 0)).toBe("no rows");
  });
});

describe("visibleRange", () => {
  it("covers the viewport plus the overscan, within the rows", () => {
    expect(visibleRange(0, 400, 20, 100_000, 10)).toEqual({ start: 0, end: 30 });
    expect(visibleRange(20_000, 400, 20, 100_000, 10)).toEqual({ start: 990, end: 1030 });
    expect(visibleRange(1_999_600, 400, 20, 100_000, 10)).toEqual({ start: 99_970, end: 100_000 });
    expect(visibleRange(0, 400, 20, 0)).toEqual({ start: 0, end: 0 });
  });

  it("stays one window of rows however long the log is", () => {
    const { start, end } = visibleRange(123_456, 600, 20, 10_000_000, 10);
    expect(end - start).toBeLessThanOrEqual(600 / 20 + 21);
  });
});

describe("pagesFor", () => {
  it("lists the pages holding a range of rows", () => {
    expect(pagesFor(0, 30, 500)).toEqual([0]);
    expect(pagesFor(490, 530, 500)).toEqual([0, 1]);
    expect(pagesFor(1000, 1000, 500)).toEqual([]);
  });
});
