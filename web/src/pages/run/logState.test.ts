import { describe, expect, it } from "vitest";
import type { LogLine, LogPage } from "../../api/types";
import { LogCache, needsSearch, searchQuery } from "./logState";

function page(start: number, count: number, total: number): LogPage {
  const lines: LogLine[] = [];
  for (let i = 0; i < count; i++) lines.push({ n: start + i, stream: i % 2 === 0 ? "stdout" : "stderr", ts: 1, text: `line ${start + i}` });
  return { lines, total, next: start + count < total ? start + count : null };
}

describe("LogCache", () => {
  it("asks for the first page while the total is unknown, once", () => {
    const c = new LogCache("", 100);
    expect(c.wanted(0, 30)).toEqual([0]);
    c.begin(0);
    expect(c.wanted(0, 30)).toEqual([]);
    c.fail(0);
    expect(c.wanted(0, 30)).toEqual([0]);
  });

  it("asks for the pages of the rows in view, once", () => {
    const c = new LogCache("", 100);
    expect(c.known).toBe(false);
    c.put(0, page(0, 100, 1000));
    expect(c.total).toBe(1000);
    expect(c.line(5)?.text).toBe("line 5");
    expect(c.line(150)).toBeUndefined();
    expect(c.missing(0, 50)).toEqual([]);
    expect(c.missing(90, 320)).toEqual([1, 2, 3]);
    c.begin(1);
    c.begin(2);
    expect(c.missing(90, 320)).toEqual([3]);
    c.fail(2);
    expect(c.missing(90, 320)).toEqual([2, 3]);
    // rows past the end are never asked for
    expect(c.missing(990, 5000)).toEqual([9]);
  });

  it("keeps asking for the last page while the log grows", () => {
    const c = new LogCache("", 100);
    c.put(0, page(0, 40, 40));
    expect(c.missing(0, 40)).toEqual([]);
    expect(c.tailOffset()).toBe(0);
    // more lines were written: the partial page is incomplete now
    c.put(0, page(0, 100, 130));
    expect(c.total).toBe(130);
    expect(c.missing(0, 130)).toEqual([1]);
    expect(c.tailOffset()).toBe(100);
    c.put(1, page(100, 30, 130));
    expect(c.missing(0, 130)).toEqual([]);
    expect(c.line(129)?.n).toBe(129);
  });

  it("never lets the total shrink below the lines it holds", () => {
    const c = new LogCache("", 100);
    c.put(2, page(200, 10, 5));
    expect(c.total).toBe(210);
  });

  it("knows an empty log", () => {
    const c = new LogCache("needle", 100);
    c.put(0, { lines: [], total: 0, next: null });
    expect(c.known).toBe(true);
    expect(c.total).toBe(0);
    expect(c.tailOffset()).toBe(0);
    expect(c.missing(0, 30)).toEqual([]);
    expect(c.query).toBe("needle");
  });
});

describe("search state", () => {
  it("asks the server again only when the trimmed text changed", () => {
    expect(searchQuery("  loss  ")).toBe("loss");
    expect(needsSearch({ draft: "loss ", applied: "loss" })).toBe(false);
    expect(needsSearch({ draft: "loss", applied: "" })).toBe(true);
    expect(needsSearch({ draft: "", applied: "loss" })).toBe(true);
  });
});
