import { describe, expect, it } from "vitest";
import type { Block } from "../../reports/doc";
import { canEditReports } from "./access";
import { ADD_TYPES, newBlock } from "./blocks";
import { conflictNotices } from "./ReportPage";

describe("canEditReports", () => {
  const user = { name: "ann", is_admin: false, teams: ["lab"] };
  it("follows the server's write rule, viewers of a team excluded", () => {
    expect(canEditReports(null, "lab")).toBe(false);
    expect(canEditReports(user, "ann")).toBe(true);
    expect(canEditReports(user, "lab")).toBe(true);
    expect(canEditReports(user, "other")).toBe(false);
    expect(canEditReports({ ...user, read_only: ["lab"] }, "lab")).toBe(false);
    expect(canEditReports({ ...user, read_only: ["lab"] }, "ann")).toBe(true);
    expect(canEditReports({ name: "root", is_admin: true, teams: [] }, "lab")).toBe(true);
  });
});

describe("newBlock", () => {
  it("fills every field the document requires, with a fresh id", () => {
    for (const t of ADD_TYPES) {
      const b = newBlock(t);
      expect(b.type).toBe(t);
      expect(b.id).toMatch(/^[A-Za-z0-9_-]{1,64}$/);
    }
    expect(newBlock("markdown")).toMatchObject({ text: "" });
    expect(newBlock("line")).toMatchObject({ runs: { filter: "" }, y: ["loss"] });
    expect(newBlock("parallel")).toMatchObject({ columns: ["config.lr", "summary.loss"] });
    expect(newBlock("line").id).not.toBe(newBlock("line").id);
  });
});

describe("conflictNotices", () => {
  it("names the block and who, for each kind", () => {
    const blocks: Block[] = [{ id: "a", type: "markdown", text: "# Intro" }];
    const notices = conflictNotices(blocks, [
      { block: "a", by: "bob", at: 1_700_000_000, kind: "overwritten" },
      { block: "a", by: "eve", at: 1_700_000_001, kind: "edited_after_delete" },
      { block: "gone", by: "bob", at: 1_700_000_002, kind: "deleted_by_other" },
    ]);
    expect(notices).toHaveLength(3);
    expect(notices[0]?.text).toContain("Text block 1 (“Intro”)");
    expect(notices[0]?.text).toContain("bob");
    expect(notices[1]?.text).toMatch(/after eve deleted it/);
    expect(notices[2]?.text).toMatch(/^bob deleted block gone/);
    expect(new Set(notices.map((n) => n.key)).size).toBe(3);
  });
});
