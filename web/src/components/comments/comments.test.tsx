// @vitest-environment jsdom
// (happy-dom's attribute handling lets DOMPurify keep event handlers; jsdom is a faithful DOM)

import type { ComponentChild } from "preact";
import { afterEach, describe, expect, it, vi } from "vitest";
import { json, stubFetch } from "../../api/test-utils";
import { InboxPage } from "../../pages/inbox/InboxPage";
import { $, click, mount, settle, type } from "../test-utils";
import { CommentBody } from "./CommentBody";
import { CommentEditor } from "./CommentEditor";
import { CommentThread } from "./CommentThread";
import { completeMention, highlightMentions, matchPeople, mentionAt } from "./mentions";

const fetchStub = stubFetch("fwk_test");
const cleanups: (() => void)[] = [];
function m(node: ComponentChild): HTMLElement {
  const { container, unmount } = mount(node);
  cleanups.push(unmount);
  return container;
}
afterEach(() => {
  while (cleanups.length > 0) cleanups.pop()?.();
});

function comment(id: number, author: string | null, body: string, extra: Record<string, unknown> = {}) {
  return { id, entity: "lab", target: "run", target_key: "vision/r1", parent_id: null, author, body, created_at: 1_700_000_000, edited_at: null, deleted: false, mentions: [], replies: [], ...extra };
}

const TARGET = { entity: "lab", kind: "run", key: "vision/r1", project: "vision", label: "baseline", link: "#/p/lab/vision/r/r1" };

describe("mentions", () => {
  it("highlights names in text, not in code or links, marking the notified ones", () => {
    const root = document.createElement("div");
    root.innerHTML = "<p>hi @bob and @carol, mail x@y.org <code>@dave</code> <a href='#/'>@erin</a></p>";
    highlightMentions(root, ["bob"]);
    const spans = [...root.querySelectorAll(".mention")];
    expect(spans.map((s) => s.textContent)).toEqual(["@bob", "@carol"]);
    expect(spans.map((s) => s.classList.contains("mention-notified"))).toEqual([true, false]);
    expect(root.querySelector("p")?.textContent).toBe("hi @bob and @carol, mail x@y.org @dave @erin");
  });

  it("finds the name being typed and completes it", () => {
    expect(mentionAt("ask @bo", 7)).toEqual({ start: 4, prefix: "bo" });
    expect(mentionAt("mail x@bo", 9)).toBeNull();
    expect(completeMention("ask @bo now", 7, "bob")).toEqual({ text: "ask @bob  now", caret: 9 });
    expect(matchPeople(["alice", "bob", "abby", "rob"], "b")).toEqual(["bob", "abby", "rob"]);
  });
});

describe("CommentEditor", () => {
  it("suggests a name typed before the list of people arrived", async () => {
    let release: (r: Response) => void = () => undefined;
    const later = new Promise<Response>((resolve) => {
      release = resolve;
    });
    vi.stubGlobal("fetch", (input: URL | string) => (String(input).includes("/mentions/people") ? later : Promise.resolve(json({}))));
    const c = m(<CommentEditor entity="slowlab" label="Comment" submitLabel="Send" onSubmit={() => Promise.resolve()} />);
    const area = $(c, "textarea");
    area.focus();
    type(area, "Ready for staging? @al");
    await settle();
    expect(c.querySelector('[data-testid="mention-choices"]')).toBeNull();
    release(json({ people: ["alice", "bob"] }));
    await settle();
    await settle();
    expect($(c, '[data-testid="mention-choices"]').textContent).toContain("alice");
  });
});

describe("CommentBody", () => {
  it("draws markdown through renderMarkdown: no scripts, handlers or javascript: links", () => {
    const c = m(<CommentBody text={"**bold** @bob\n\n<img src=x onerror=alert(1)><script>alert(2)</script>\n\n[x](javascript:alert(3))"} notified={["bob"]} />);
    const body = $(c, '[data-testid="comment-body"]');
    expect(body.querySelector("strong")?.textContent).toBe("bold");
    expect(body.innerHTML).not.toContain("onerror");
    expect(body.innerHTML).not.toContain("<script");
    expect(body.innerHTML).not.toContain("javascript:");
    expect($(body, ".mention-notified").textContent).toBe("@bob");
  });
});

describe("CommentThread", () => {
  function answer(thread: unknown[], saved?: Record<string, unknown>) {
    fetchStub.answer = (url, init) => {
      const method = init.method ?? "GET";
      if (url.pathname === "/api/v1/viewer") return json({ name: "alice", is_admin: false, teams: ["lab"] });
      if (url.pathname === "/api/v1/mentions/people") return json({ people: ["alice", "bob", "vera"] });
      if (url.pathname === "/api/v1/comments/lab/run/vision/r1" && method === "GET") return json({ target: TARGET, comments: thread, count: 2 });
      if (method === "POST" || method === "PATCH") return json(saved ?? {}, method === "POST" ? 201 : 200);
      if (method === "DELETE") return json({ id: 1, deleted: true, kept: true });
      return json({}, 404);
    };
  }

  it("lists a thread with replies; only one's own comments have Edit; deleted ones say so", async () => {
    answer([
      comment(1, "alice", "first @bob", { mentions: ["bob"], replies: [comment(2, "bob", "a reply", { parent_id: 1 })] }),
      comment(3, null, "", { deleted: true, replies: [comment(4, "bob", "still here", { parent_id: 3 })] }),
    ]);
    const c = m(<CommentThread entity="lab" target="run" targetKey="vision/r1" />);
    await settle();
    await settle();
    const items = [...c.querySelectorAll<HTMLElement>('[data-testid="comment"]')];
    expect(items.map((i) => i.dataset.commentId)).toEqual(["1", "2", "3", "4"]);
    const mine = $(c, '[data-comment-id="1"]');
    expect(mine.querySelector(':scope > article [data-testid="comment-edit"]')).not.toBeNull();
    expect($(mine, ".mention-notified").textContent).toBe("@bob");
    const bobs = $(c, '[data-comment-id="2"]');
    expect(bobs.querySelector('[data-testid="comment-edit"]')).toBeNull();
    expect(bobs.querySelector('[data-testid="comment-delete"]')).toBeNull();
    expect($(c, '[data-comment-id="3"]').querySelector(':scope > article [data-testid="comment-deleted"]')?.textContent).toBe("deleted");
    expect($(c, '[data-testid="comment-count"]').textContent).toBe("(2)");
  });

  it("sends a new comment with a preview, and names who was not notified", async () => {
    answer([], { ...comment(5, "alice", "hey @carol"), not_notified: ["carol"] });
    const c = m(<CommentThread entity="lab" target="run" targetKey="vision/r1" />);
    await settle();
    const box = $(c, '[data-testid="comment-new"]');
    type($(box, "textarea"), "hey **@carol**");
    click($(box, '[data-testid="comment-preview-tab"]'));
    expect($(box, '[data-testid="comment-preview"] strong').textContent).toBe("@carol");
    click($(box, '[data-testid="comment-submit"]'));
    await settle();
    await settle();
    const post = fetchStub.calls.find((call) => call.init.method === "POST");
    expect(post?.url.pathname).toBe("/api/v1/comments/lab/run/vision/r1");
    expect(JSON.parse(post?.init.body as string)).toEqual({ body: "hey **@carol**" });
    expect($(c, '[data-testid="comment-not-notified"]').textContent).toContain("@carol");
  });

  it("asks before deleting, saying a comment with replies stays as deleted", async () => {
    answer([comment(1, "alice", "mine", { replies: [comment(2, "bob", "reply", { parent_id: 1 })] })]);
    const c = m(<CommentThread entity="lab" target="run" targetKey="vision/r1" />);
    await settle();
    await settle();
    click($($(c, '[data-comment-id="1"]'), '[data-testid="comment-delete"]'));
    expect($(document.body, '[data-testid="confirm-dialog"]').textContent).toContain("deleted");
    click($(document.body, '[data-testid="confirm-ok"]'));
    await settle();
    const del = fetchStub.calls.find((call) => call.init.method === "DELETE");
    expect(del?.url.pathname).toBe("/api/v1/comments/1");
  });
});

describe("InboxPage", () => {
  it("shows mentions with their unread state and marks one read", async () => {
    const mention = (id: number, unread: boolean) => ({
      id,
      comment: comment(id, "alice", `look @bob #${id}`, { mentions: ["bob"] }),
      author: "alice",
      target: TARGET,
      link: TARGET.link,
      created_at: 1_700_000_000 + id,
      read_at: unread ? null : 1_700_000_100,
      unread,
    });
    fetchStub.answer = (url) => {
      if (url.pathname === "/api/v1/mentions/read") return json({ updated: 1, unread: 0 });
      return json({ mentions: [mention(2, true), mention(1, false)], unread: 1 });
    };
    const c = m(<InboxPage viewer={{ name: "bob", is_admin: false, teams: ["lab"] }} params={{}} />);
    await settle();
    const items = [...c.querySelectorAll<HTMLElement>('[data-testid="mention-item"]')];
    expect(items.map((i) => [i.dataset.commentId, i.dataset.unread])).toEqual([
      ["2", "true"],
      ["1", "false"],
    ]);
    expect($(items[0] as HTMLElement, '[data-testid="mention-link"]').getAttribute("href")).toBe("#/p/lab/vision/r/r1");
    expect($(items[0] as HTMLElement, '[data-testid="mention-link"]').textContent).toBe("run baseline (lab/vision)");
    click($(items[0] as HTMLElement, '[data-testid="mention-mark-read"]'));
    await settle();
    const read = fetchStub.calls.find((call) => call.url.pathname === "/api/v1/mentions/read");
    expect(JSON.parse(read?.init.body as string)).toEqual({ ids: [2], read: true });
  });
});
