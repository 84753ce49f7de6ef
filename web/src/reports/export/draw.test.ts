import { describe, expect, it } from "vitest";

import { tableRows } from "./draw";

describe("tables of panels", () => {
  it("reads rows without control columns and sort marks, config/summary columns by key", () => {
    const el = document.createElement("div");
    el.innerHTML = `<table>
      <thead><tr><th><input type="checkbox"></th><th data-field="name"><button><span>Name</span><span aria-hidden="true">▲</span></button></th>
        <th data-field="config.lr"><span class="badge">C</span>lr</th><th data-field="summary.acc"><span>S</span>acc</th></tr></thead>
      <tbody><tr><td><input type="checkbox"></td><td>exp-a</td><td>0.001</td><td> 0.899 </td></tr>
        <tr><td></td><td>exp  b</td><td>0.01</td><td></td></tr></tbody></table>`;
    expect(tableRows(el)).toEqual([
      ["Name", "config.lr", "summary.acc"],
      ["exp-a", "0.001", "0.899"],
      ["exp b", "0.01", ""],
    ]);
    expect(tableRows(document.createElement("div"))).toBeNull();
  });
});
