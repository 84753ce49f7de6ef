// Comments and mentions across two people in two browser contexts, against a real server of
// this spec's own seeded by `comment_fixtures.py` (team `lab`: alice its admin, bob a member; a
// run logged online and a registered model): alice comments on the run mentioning @bob; bob
// sees the unread count in the top bar, opens the inbox, follows the link to the run and
// replies; alice edits her comment; bob has no control to edit it and the server refuses him;
// alice deletes it and it stays as "deleted" above bob's reply. On the model page, a mention
// of someone outside the team is named as not notified.

import { join } from "node:path";
import type { Browser, Page } from "@playwright/test";

import { seededServer } from "./harness";
import { expect, expectAccessible, test } from "./util";

const FIXTURES = join(import.meta.dirname, "comment_fixtures.py");

/** What `comment_fixtures.py` seeded (its `--out` file). */
interface Seeded {
  entity: string;
  project: string;
  run: string;
  run_name: string;
  model: string;
  alice: { name: string; api_key: string };
  bob: { name: string; api_key: string };
}

const backend = seededServer<Seeded>("comments", FIXTURES, { seedTimeoutMs: 150_000 });
let server = "";
let seeded: Seeded;

test.describe.configure({ mode: "serial" });

test.beforeAll(async () => {
  test.setTimeout(180_000);
  ({ url: server, seeded } = await backend.start());
});

test.afterAll(async () => {
  await backend.stop();
});

/** A page in a browser context of its own, signed in with `key`. */
async function signedIn(browser: Browser, key: string): Promise<Page> {
  const context = await browser.newContext();
  await context.addInitScript((k: string) => {
    window.localStorage.setItem("fwtrack.apiKey", k);
  }, key);
  return context.newPage();
}

const runAt = (): string => `${server}/#/p/${seeded.entity}/${seeded.project}/r/${seeded.run}`;
const modelAt = (): string => `${server}/#/registry/${seeded.entity}/models/${seeded.model}`;

test("alice mentions bob on a run; bob follows his inbox there and replies; alice edits, bob cannot; a deleted comment with a reply stays as deleted", async ({ browser }) => {
  test.setTimeout(90_000);
  const alice = await signedIn(browser, seeded.alice.api_key);
  const bob = await signedIn(browser, seeded.bob.api_key);

  // alice comments on the run, mentioning bob
  await alice.goto(runAt());
  await expect(alice.getByTestId("viewer-name")).toHaveText("alice");
  const thread = alice.getByTestId("comments");
  await expect(thread).toContainText("No comments yet.");
  const box = thread.getByTestId("comment-new");
  await box.getByTestId("comment-input").fill("The **loss** plateaus after step 3, @bob can you check?");
  await box.getByTestId("comment-preview-tab").click();
  await expect(box.getByTestId("comment-preview").locator("strong")).toHaveText("loss");
  await box.getByTestId("comment-submit").click();
  const first = thread.getByTestId("comment").first();
  await expect(first).toHaveAttribute("data-author", "alice");
  await expect(first.getByTestId("comment-body").locator("strong")).toHaveText("loss");
  await expect(first.locator(".mention-notified")).toHaveText("@bob");
  await expect(thread.getByTestId("comment-not-notified")).toHaveCount(0);
  const commentId = (await first.getAttribute("data-comment-id")) ?? "";

  // bob sees one unread mention in the top bar and opens the inbox
  await bob.goto(`${server}/#/`);
  await expect(bob.getByTestId("viewer-name")).toHaveText("bob");
  await expect(bob.getByTestId("inbox-unread")).toHaveText("1");
  await bob.getByTestId("nav-inbox").click();
  const item = bob.getByTestId("mention-item");
  await expect(item).toHaveCount(1);
  await expect(item).toHaveAttribute("data-unread", "true");
  await expect(item).toContainText("alice mentioned you on");
  await expect(item.getByTestId("mention-body")).toContainText("plateaus after step 3");
  await expectAccessible(bob, "the mentions inbox");
  const link = item.getByTestId("mention-link");
  await expect(link).toHaveText(`run ${seeded.run_name} (${seeded.entity}/${seeded.project})`);
  await link.click();

  // the link lands on the run, whose thread holds alice's comment; the mention is now read
  await expect(bob).toHaveURL(/#\/p\/lab\/vision\/r\/baseline-1$/);
  await expect(bob.getByTestId("inbox-unread")).toHaveCount(0);
  const hers = bob.locator(`[data-testid="comment"][data-comment-id="${commentId}"]`);
  await expect(hers.getByTestId("comment-body").first()).toContainText("plateaus after step 3");
  // no control to edit or delete someone else's comment
  await expect(hers.locator(':scope > article [data-testid="comment-edit"]')).toHaveCount(0);
  await expect(hers.locator(':scope > article [data-testid="comment-delete"]')).toHaveCount(0);
  await hers.locator(':scope > article [data-testid="comment-reply"]').click();
  const reply = hers.getByTestId("comment-reply-editor");
  await reply.getByTestId("comment-input").fill("On it: the lr schedule restarts there.");
  await reply.getByTestId("comment-submit").click();
  const bobsReply = hers.locator('.comment-replies [data-testid="comment"]');
  await expect(bobsReply).toHaveAttribute("data-author", "bob");
  await expect(bobsReply.getByTestId("comment-body")).toHaveText("On it: the lr schedule restarts there.");

  // and the server refuses bob's edit of alice's comment, naming her
  const refused = await bob.request.patch(`${server}/api/v1/comments/${commentId}`, {
    headers: { Authorization: `Bearer ${seeded.bob.api_key}` },
    data: { body: "rewritten by bob" },
  });
  expect(refused.status()).toBe(403);
  expect(((await refused.json()) as { detail: string }).detail).toContain("alice");
  await bob.goto(`${server}/#/inbox`);
  await expect(bob.getByTestId("mention-item")).toHaveAttribute("data-unread", "false");

  // alice sees the reply and edits her comment
  await alice.reload();
  const mine = alice.locator(`[data-testid="comment"][data-comment-id="${commentId}"]`);
  await expect(mine.locator('.comment-replies [data-testid="comment"]')).toHaveAttribute("data-author", "bob");
  await mine.locator(':scope > article [data-testid="comment-edit"]').click();
  const editor = mine.getByTestId("comment-edit-editor");
  await editor.getByTestId("comment-input").fill("The loss plateaus after step 3 (fixed in the next run), @bob");
  await editor.getByTestId("comment-submit").click();
  await expect(mine.locator(":scope > article").getByTestId("comment-body")).toHaveText("The loss plateaus after step 3 (fixed in the next run), @bob");
  await expect(mine.locator(":scope > article").getByTestId("comment-edited")).toBeVisible();
  await expectAccessible(alice, "a run's comment thread");

  // bob sees the edit; the server kept alice's text
  await bob.goto(runAt());
  await expect(bob.locator(`[data-testid="comment"][data-comment-id="${commentId}"] > article`).getByTestId("comment-body")).toContainText("fixed in the next run");

  // alice deletes her comment: it has a reply, so it stays as "deleted" above it
  await mine.locator(':scope > article [data-testid="comment-delete"]').click();
  await expect(alice.getByTestId("confirm-dialog")).toContainText("stays in the thread");
  await alice.getByTestId("confirm-ok").click();
  await expect(mine).toHaveAttribute("data-deleted", "true");
  await expect(mine.locator(":scope > article").getByTestId("comment-deleted")).toHaveText("deleted");
  await expect(mine.locator('.comment-replies [data-testid="comment"]').getByTestId("comment-body")).toHaveText("On it: the lr schedule restarts there.");
  await bob.reload();
  await expect(bob.locator(`[data-testid="comment"][data-comment-id="${commentId}"]`)).toHaveAttribute("data-deleted", "true");

  await alice.context().close();
  await bob.context().close();
});

test("a comment on a registered model names who was not notified; the mentioned teammate's inbox links to the model", async ({ browser }) => {
  test.setTimeout(90_000);
  const bob = await signedIn(browser, seeded.bob.api_key);
  await bob.goto(modelAt());
  const thread = bob.getByTestId("comments");
  const box = thread.getByTestId("comment-new");
  const input = box.getByTestId("comment-input");
  await input.fill("Ready for staging? @al");
  await expect(box.getByTestId("mention-choices")).toContainText("@alice");
  await input.press("Enter");
  await expect(input).toHaveValue("Ready for staging? @alice ");
  await input.pressSequentially("and @outsider");
  await box.getByTestId("comment-submit").click();
  await expect(thread.getByTestId("comment-not-notified")).toContainText("@outsider");
  await expect(thread.getByTestId("comment").first().locator(".mention-notified")).toHaveText("@alice");

  const alice = await signedIn(browser, seeded.alice.api_key);
  await alice.goto(`${server}/#/inbox?show=unread`);
  const item = alice.getByTestId("mention-item").first();
  await expect(item).toContainText("bob mentioned you on");
  await expect(item.getByTestId("mention-link")).toHaveAttribute("href", `#/registry/${seeded.entity}/models/${seeded.model}`);
  await alice.getByTestId("inbox-mark-all").click();
  await expect(alice.getByTestId("mention-item")).toHaveCount(0);
  await expect(alice.getByTestId("inbox-unread")).toHaveCount(0);
  await bob.context().close();
  await alice.context().close();
});
