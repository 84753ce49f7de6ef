import { describe, expect, it } from "vitest";
import { isVisible, toggleVisible, visibleIds, type Visibility } from "./visibility";

const v = (shown: string[] = [], hidden: string[] = []): Visibility => ({ defaults: ["a", "b", "c"], shown, hidden });

describe("chart visibility", () => {
  it("shows the first runs of the order by default", () => {
    expect(visibleIds(v())).toEqual(["a", "b", "c"]);
    expect(isVisible(v(), "d")).toBe(false);
  });

  it("hides a default run and shows it again", () => {
    const hiddenB = toggleVisible(v(), "b");
    expect(hiddenB).toEqual({ shown: [], hidden: ["b"] });
    expect(visibleIds(v(hiddenB.shown, hiddenB.hidden))).toEqual(["a", "c"]);
    expect(toggleVisible(v(hiddenB.shown, hiddenB.hidden), "b")).toEqual({ shown: [], hidden: [] });
  });

  it("shows a run beyond the defaults and hides it again", () => {
    const shownD = toggleVisible(v(), "d");
    expect(shownD).toEqual({ shown: ["d"], hidden: [] });
    expect(visibleIds(v(shownD.shown, shownD.hidden))).toEqual(["a", "b", "c", "d"]);
    expect(toggleVisible(v(shownD.shown, shownD.hidden), "d")).toEqual({ shown: [], hidden: [] });
  });
});
