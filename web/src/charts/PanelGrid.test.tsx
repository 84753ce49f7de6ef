import { render } from "preact";
import { act } from "preact/test-utils";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { PanelGrid } from "./PanelGrid";

interface Sent {
  url: string;
  method: string;
  body: unknown;
}

function stubServer(workspace: "missing" | Record<string, unknown>) {
  const sent: Sent[] = [];
  vi.stubGlobal("fetch", (url: URL, init: RequestInit) => {
    const body = typeof init.body === "string" ? (JSON.parse(init.body) as unknown) : undefined;
    sent.push({ url: url.pathname, method: init.method ?? "GET", body });
    const json = (v: unknown, status = 200): Promise<Response> =>
      Promise.resolve(new Response(JSON.stringify(v), { status, headers: { "Content-Type": "application/json" } }));
    if (url.pathname.includes("/workspace")) {
      if (workspace === "missing") return json({ detail: "Not Found" }, 404);
      if (init.method === "PUT") return json(body);
      return json(workspace);
    }
    if (url.pathname.startsWith("/api/v1/history/")) {
      const b = body as { runs: string[] };
      return json({ runs: b.runs.map((run) => ({ run, series: {}, downsampled: false })), missing: [] });
    }
    return json({ detail: "unexpected" }, 500);
  });
  return sent;
}

async function flush(): Promise<void> {
  for (let i = 0; i < 10; i++) {
    await act(async () => {
      await new Promise((r) => setTimeout(r, 0));
    });
  }
}

const RUNS = [
  { id: "r1", name: "one", color: "#1f77b4" },
  { id: "r2", name: "two", color: "#e8590c" },
];
const KEYS = ["train/loss", "train/acc", "eval/loss", "lr"];

describe("PanelGrid", () => {
  let root: HTMLElement;
  beforeEach(() => {
    vi.stubGlobal("IntersectionObserver", undefined);
    window.location.hash = "#/p/e/p";
    root = document.createElement("div");
    document.body.append(root);
  });
  afterEach(() => {
    render(null, root);
    root.remove();
    vi.unstubAllGlobals();
  });

  it("renders sections by prefix with counts and loads all panels in one history request", async () => {
    const sent = stubServer("missing");
    render(<PanelGrid entity="e" project="p" runs={RUNS} keys={KEYS} live={false} layoutScope="project" />, root);
    await flush();
    const sections = [...root.querySelectorAll<HTMLElement>('[data-testid="section"]')];
    expect(sections.map((s) => s.dataset.section)).toEqual(["eval", "train", ""]);
    expect(sections[1]?.textContent).toContain("2");
    const panels = [...root.querySelectorAll<HTMLElement>('[data-testid="chart-panel"]')];
    expect(panels.map((p) => p.dataset.key)).toEqual(["eval/loss", "train/acc", "train/loss", "lr"]);
    const history = sent.filter((s) => s.url.startsWith("/api/v1/history/"));
    expect(history).toHaveLength(1);
    expect(history[0]?.body).toMatchObject({ runs: ["r1", "r2"] });
    expect(new Set((history[0]?.body as { keys: string[] }).keys)).toEqual(new Set(KEYS));
    expect(panels.every((p) => p.dataset.state === "empty")).toBe(true);
  });

  it("moves, removes and collapses; the panel list goes in the URL and the layout is saved", async () => {
    const sent = stubServer({ other: { kept: true } });
    render(<PanelGrid entity="e" project="p" runs={RUNS} keys={KEYS} live={false} layoutScope="project" />, root);
    await flush();
    const button = (label: string): HTMLButtonElement => {
      const b = root.querySelector<HTMLButtonElement>(`button[aria-label="${label}"]`);
      if (b === null) throw new Error(`no button ${label}`);
      return b;
    };
    expect(button("Move train/acc up").disabled).toBe(true);
    await act(() => {
      button("Move train/loss up").click();
    });
    await flush();
    const keys = (): (string | undefined)[] =>
      [...root.querySelectorAll<HTMLElement>('[data-testid="chart-panel"]')].map((p) => p.dataset.key);
    expect(keys()).toEqual(["eval/loss", "train/loss", "train/acc", "lr"]);
    expect(decodeURIComponent(window.location.hash)).toContain("panels=eval/loss,train/loss,train/acc,lr");

    await act(() => {
      button("Remove lr").click();
    });
    await flush();
    expect(keys()).toEqual(["eval/loss", "train/loss", "train/acc"]);

    const toggle = root.querySelector<HTMLButtonElement>('[data-section="train"] button[aria-expanded]');
    await act(() => {
      toggle?.click();
    });
    await flush();
    expect(toggle?.getAttribute("aria-expanded")).toBe("false");
    expect(keys()).toEqual(["eval/loss"]);

    await act(async () => {
      await new Promise((r) => setTimeout(r, 700));
    });
    await flush();
    const puts = sent.filter((s) => s.method === "PUT");
    expect(puts.length).toBeGreaterThan(0);
    const doc = puts[puts.length - 1]?.body as { other: unknown; charts: { removed: string[]; collapsed: string[]; order: string[] } };
    expect(doc.other).toEqual({ kept: true });
    expect(doc.charts.removed).toEqual(["lr"]);
    expect(doc.charts.collapsed).toEqual(["train"]);
    expect(doc.charts.order).toEqual(["eval/loss", "train/loss", "train/acc"]);
  });

  it("shows an empty state without runs", () => {
    stubServer("missing");
    render(<PanelGrid entity="e" project="p" runs={[]} keys={KEYS} live={false} layoutScope="run" />, root);
    expect(root.querySelector('[data-testid="charts-empty"]')?.textContent).toContain("No runs selected");
  });
});
