import { describe, expect, it } from "vitest";
import { ariaSort, clickSort, initialTableState, movePage, withFilter } from "./tableState";

describe("table state", () => {
  it("sorts ascending, then descending, then not, back on the first page", () => {
    let s = { ...initialTableState(), offset: 500 };
    s = clickSort(s, "score");
    expect([s.sort, s.order, s.offset]).toEqual(["score", "asc", 0]);
    expect(ariaSort(s, "score")).toBe("ascending");
    expect(ariaSort(s, "id")).toBe("none");
    s = clickSort({ ...s, offset: 100 }, "score");
    expect([s.sort, s.order, s.offset]).toEqual(["score", "desc", 0]);
    expect(ariaSort(s, "score")).toBe("descending");
    s = clickSort(s, "score");
    expect([s.sort, s.order]).toEqual([null, "asc"]);
    // another column starts ascending
    s = clickSort(clickSort(s, "score"), "id");
    expect([s.sort, s.order]).toEqual(["id", "asc"]);
  });

  it("a new filter starts at the first page; the same one changes nothing", () => {
    const s = { ...initialTableState(), offset: 250 };
    expect(withFilter(s, "cat").offset).toBe(0);
    expect(withFilter(s, "")).toBe(s);
  });

  it("moves between pages within the result", () => {
    const s = initialTableState(50);
    expect(movePage(s, "next", 100_000).offset).toBe(50);
    expect(movePage(s, "last", 100_000).offset).toBe(99_950);
    expect(movePage(s, "last", 120).offset).toBe(100);
    expect(movePage(s, "last", 100).offset).toBe(50);
    expect(movePage(s, "prev", 100)).toBe(s);
    expect(movePage({ ...s, offset: 99_950 }, "next", 100_000).offset).toBe(99_950);
    expect(movePage({ ...s, offset: 150 }, "prev", 1000).offset).toBe(100);
    expect(movePage({ ...s, offset: 150 }, "first", 1000).offset).toBe(0);
    expect(movePage(s, "last", 0)).toBe(s);
  });
});
