// The registry's pure helpers, and the model page against a stubbed HTTP server: the promotion
// confirmation names the version replaced, a refused move shows the server's words.

import { afterEach, describe, expect, it } from "vitest";
import type { AuditEntry } from "../../api/registry";
import { json, stubFetch } from "../../api/test-utils";
import { $, click, mount, settle } from "../../components/test-utils";
import { chartKeys } from "./ModelVersionPage";
import { ModelPage } from "./ModelPage";
import { aliasRows, auditText, demotionText, promotion, promotionTargets, promotionText } from "./moves";

const MODEL = { aliases: { production: "v1", staging: "v2", best: "v2" }, protected_aliases: ["production", "gold"] };

function entry(partial: Partial<AuditEntry>): AuditEntry {
  return { id: 1, at: 0, user: "admin", action: "link", alias: null, from_version: null, to_version: null, detail: null, ...partial };
}

describe("alias moves in words", () => {
  it("names the version a promotion replaces", () => {
    const p = promotion(MODEL, "production", "v2");
    expect(p).toEqual({ alias: "production", to: "v2", from: "v1", unchanged: false, protected: true });
    expect(promotionText(p)).toBe("production now names v1; v2 replaces v1 as production.");
    expect(promotionText(promotion(MODEL, "archived", "v0"))).toBe("archived names no version yet; it will name v0.");
    const same = promotion(MODEL, "staging", "v2");
    expect(same.unchanged).toBe(true);
    expect(promotionText(same)).toBe("staging already names v2.");
    expect(demotionText("production", "v1")).toMatch(/^v1 stops being production/);
  });

  it("offers the stages first, then the model's other aliases, never latest", () => {
    expect(promotionTargets({ aliases: { ...MODEL.aliases, latest: "v2" }, protected_aliases: MODEL.protected_aliases })).toEqual(["staging", "production", "archived", "best", "gold"]);
    expect(aliasRows(MODEL)).toEqual([
      { alias: "staging", version: "v2", protected: false },
      { alias: "production", version: "v1", protected: true },
      { alias: "best", version: "v2", protected: false },
      { alias: "gold", version: null, protected: true },
    ]);
  });

  it("says what each audit entry did", () => {
    expect(auditText(entry({ action: "link", to_version: "v3" }))).toBe("linked v3");
    expect(auditText(entry({ action: "alias.set", alias: "production", from_version: "v1", to_version: "v2" }))).toBe("production moved v1 → v2");
    expect(auditText(entry({ action: "alias.set", alias: "staging", to_version: "v0" }))).toBe("staging set to v0");
    expect(auditText(entry({ action: "alias.remove", alias: "staging", from_version: "v0" }))).toBe("staging removed from v0");
    expect(auditText(entry({ action: "protect", alias: "production" }))).toBe("production protected");
    expect(auditText(entry({ action: "maintainers", detail: { from: [], to: ["bob", "zoe"], added: ["bob", "zoe"], removed: [] } }))).toBe("maintainers set to bob, zoe");
    expect(auditText(entry({ action: "maintainers", detail: { from: ["bob"], to: [], added: [], removed: ["bob"] } }))).toBe("maintainers removed");
    expect(auditText(entry({ action: "update", detail: { changed: { tags: [[], ["a"]], description: [null, "x"] } } }))).toBe("updated description, tags");
    expect(auditText(entry({ action: "something.new" }))).toBe("something.new");
  });

  it("charts the evaluated metrics first, never system metrics", () => {
    expect(chartKeys(["system/cpu", "train/loss", "eval/acc", "lr", "_runtime"], { "eval/acc": 0.9 }, 3)).toEqual(["eval/acc", "train/loss", "lr"]);
  });
});

const server = stubFetch("fwk_test");

let cleanup: (() => void) | null = null;
afterEach(() => {
  cleanup?.();
  cleanup = null;
});

function artifact(version: string): Record<string, unknown> {
  return { id: "a", entity: "lab", project: "p", name: "model-r1", type: "model", version, index: Number(version.slice(1)), digest: "blake3:00", size: 1, files: 1, aliases: [], metadata: {}, created_at: 0, run: null };
}

function detail(): Record<string, unknown> {
  return {
    entity: "lab",
    name: "cnn",
    description: null,
    metadata: {},
    tags: [],
    protected_aliases: ["production"],
    maintainers: [],
    versions: 2,
    latest: "v1",
    aliases: { production: "v0" },
    stages: { staging: null, production: "v0", archived: null },
    created_at: 0,
    updated_at: 0,
    created_by: "admin",
    versions_list: ["v1", "v0"].map((v) => ({ entity: "lab", model: "cnn", version: v, index: Number(v.slice(1)), aliases: v === "v0" ? ["production"] : ["latest"], linked_at: 0, linked_by: "admin", run: null, artifact: artifact(v) })),
  };
}

describe("ModelPage", () => {
  it("confirms a promotion naming the version replaced and shows a refusal in the server's words", async () => {
    const refusal = "production is protected: only admins of lab or maintainers of cnn may move it";
    server.answer = (url, init) => (init.method === "PUT" ? json({ detail: refusal }, 403) : json(detail()));
    const m = mount(<ModelPage entity="lab" model="cnn" params={{}} readOnly={false} />);
    cleanup = m.unmount;
    await settle();
    const row = $(m.container, '[data-testid="model-version-row"][data-version="v1"]');
    const select = $(row, '[data-testid="promote-target"]') as HTMLSelectElement;
    select.value = "production";
    select.dispatchEvent(new Event("change", { bubbles: true }));
    await settle();
    click($(row, '[data-testid="promote"]'));
    await settle();
    const dialog = $(document.body, '[data-testid="confirm-dialog"]');
    expect(dialog.textContent).toContain("Promote v1 to production?");
    expect($(dialog, '[data-testid="confirm-replaces"]').getAttribute("data-from")).toBe("v0");
    expect(dialog.textContent).toContain("v1 replaces v0 as production");
    click($(dialog, '[data-testid="confirm-ok"]'));
    await settle();
    await settle();
    const put = server.calls.find((c) => c.init.method === "PUT");
    expect(put?.url.pathname).toBe("/api/v1/registry/lab/models/cnn/aliases/production");
    expect(JSON.parse(put?.init.body as string)).toEqual({ version: "v1", expect: "v0" });
    expect($(dialog, '[role="alert"]').textContent).toBe(refusal);
  });

  it("shows no promote or demote controls read-only", async () => {
    server.answer = () => json(detail());
    const m = mount(<ModelPage entity="lab" model="cnn" params={{}} readOnly />);
    cleanup = m.unmount;
    await settle();
    expect(m.container.querySelector('[data-testid="model-version-row"]')).not.toBeNull();
    expect(m.container.querySelector('[data-testid="promote"]')).toBeNull();
    expect(m.container.querySelector('[data-testid="demote"]')).toBeNull();
    expect($(m.container, '[data-testid="stage-card"][data-stage="production"]').getAttribute("data-protected")).toBe("true");
  });
});
