// The logs viewer and the table viewer against a stubbed HTTP server: what they ask for and
// how much of a long answer ends up in the DOM.

import { act } from "preact/test-utils";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { $, click, mount, type } from "../../components/test-utils";
import { LogsTab } from "./LogsTab";
import { TableViewer } from "./TableViewer";

const LOG_LINES = 100_000;
const TABLE_ROWS = 100_000;
let asked: URL[] = [];

function json(v: unknown): Promise<Response> {
  return Promise.resolve(new Response(JSON.stringify(v), { status: 200, headers: { "Content-Type": "application/json" } }));
}

beforeEach(() => {
  asked = [];
  vi.stubGlobal("fetch", (url: URL) => {
    asked.push(url);
    const q = url.searchParams;
    const offset = Number(q.get("offset") ?? 0);
    const limit = Number(q.get("limit") ?? 50);
    if (url.pathname.endsWith("/logs")) {
      const text = q.get("q");
      const total = text === null ? LOG_LINES : 3;
      const lines = [];
      for (let n = offset; n < Math.min(total, offset + limit); n++) lines.push({ n, stream: n % 10 === 0 ? "stderr" : "stdout", ts: 1, text: `line ${n}` });
      return json({ lines, total, next: offset + limit < total ? offset + limit : null });
    }
    if (url.pathname.endsWith("/table")) {
      const total = q.get("q") === null ? TABLE_ROWS : 120;
      const rows = [];
      const ids = [];
      for (let i = offset; i < Math.min(total, offset + limit); i++) {
        rows.push([i, `item-${i}`, { _type: "image", path: `media/${i}.png`, sha256: "x", size: 1, format: "png", width: 1, height: 1 }]);
        ids.push(i);
      }
      return json({ columns: ["id", "label", "img"], total, offset, rows, row_ids: ids });
    }
    // payloads of thumbnails
    return Promise.resolve(new Response(new Blob(["png"]), { status: 200 }));
  });
  vi.stubGlobal("URL", Object.assign(URL, { createObjectURL: () => "blob:x", revokeObjectURL: () => undefined }));
});

afterEach(() => {
  vi.unstubAllGlobals();
  document.body.replaceChildren();
});

async function flush(): Promise<void> {
  for (let i = 0; i < 10; i++) {
    await act(async () => {
      await new Promise((r) => setTimeout(r, 0));
    });
  }
}

describe("LogsTab", () => {
  it("renders only a window of a 100,000-line log and marks stderr", async () => {
    const { container, unmount } = mount(<LogsTab entity="e" project="p" runId="r" running={false} />);
    await flush();
    expect($(container, '[data-testid="logs-view"]').getAttribute("data-total")).toBe(String(LOG_LINES));
    const rows = container.querySelectorAll('[data-testid="log-line"]');
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.length).toBeLessThan(100);
    expect(rows[0]?.getAttribute("data-stream")).toBe("stderr");
    // one page asked, by offset
    const pages = asked.filter((u) => u.pathname.endsWith("/logs"));
    expect(pages.map((u) => u.searchParams.get("offset"))).toEqual(["0"]);
    unmount();
  });

  it("searches on the server after a pause in typing", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    try {
      const { container, unmount } = mount(<LogsTab entity="e" project="p" runId="r" running={false} />);
      type($(container, '[data-testid="logs-search"]'), "lin");
      type($(container, '[data-testid="logs-search"]'), "line 1 ");
      await act(async () => {
        await vi.advanceTimersByTimeAsync(1000);
      });
      vi.useRealTimers();
      await flush();
      const searches = asked.filter((u) => u.searchParams.has("q")).map((u) => u.searchParams.get("q"));
      expect(searches).toEqual(["line 1"]);
      expect($(container, '[data-testid="logs-view"]').getAttribute("data-total")).toBe("3");
      unmount();
    } finally {
      vi.useRealTimers();
    }
  });
});

describe("TableViewer", () => {
  it("keeps one page of a 100,000-row table in the DOM and asks the server to sort and page", async () => {
    const { container, unmount } = mount(<TableViewer entity="e" project="p" runId="r" path="media/t.table.json" title="t" onClose={() => undefined} />);
    await flush();
    expect(container.querySelectorAll('[data-testid="table-row"]')).toHaveLength(50);
    expect($(container, '[data-testid="table-range"]').textContent).toBe("rows 1–50 of 100,000");
    expect(container.querySelectorAll('[data-testid="table-thumb"]')).toHaveLength(50);

    click($(container, '[data-testid="table-header"][data-column="label"] button'));
    await flush();
    const last = (): URL | undefined => asked.filter((u) => u.pathname.endsWith("/table")).pop();
    expect([last()?.searchParams.get("sort"), last()?.searchParams.get("order")]).toEqual(["label", "asc"]);
    expect($(container, '[data-testid="table-header"][data-column="label"]').getAttribute("aria-sort")).toBe("ascending");

    click($(container, '[data-testid="table-last"]'));
    await flush();
    expect(last()?.searchParams.get("offset")).toBe("99950");
    expect($(container, '[data-testid="table-range"]').textContent).toBe("rows 99,951–100,000 of 100,000");
    expect(container.querySelectorAll('[data-testid="table-row"]')).toHaveLength(50);
    unmount();
  });
});
