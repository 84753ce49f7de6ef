// The run page (overview, config search, edits, histograms), the comparison, and deleting a run.

import { at, expect, test } from "./util";

test("the run page shows the overview, searches the config, edits name, tags and notes", async ({ admin: page, state }) => {
  await page.goto(at(state, "/p/admin/scratch/r/edit-me"));
  const overview = page.getByTestId("run-overview");
  await expect(overview).toBeVisible();
  await expect(overview.getByTestId("state-badge")).toHaveAttribute("data-state", "finished");
  await expect(overview).toContainText("edit-me");

  // edit the notes
  const notes = page.getByTestId("run-notes");
  await notes.getByRole("button", { name: "Edit notes" }).click();
  await notes.getByRole("textbox").fill("learning rate too low");
  await notes.getByRole("button", { name: "Save" }).click();
  await expect(page.getByTestId("run-notes-value")).toHaveText("learning rate too low");
  // add a tag, remove another
  const tags = page.getByTestId("tag-editor");
  await tags.getByRole("textbox", { name: "Add a tag" }).fill("reviewed");
  await tags.getByRole("textbox", { name: "Add a tag" }).press("Enter");
  await expect(tags.getByTestId("tag").filter({ hasText: "reviewed" })).toHaveCount(1);
  await tags.getByRole("button", { name: "Remove tag keep" }).click();
  await expect(tags.getByTestId("tag").filter({ hasText: "keep" })).toHaveCount(0);
  // rename
  const title = page.getByTestId("run-title");
  await title.getByRole("button", { name: "Edit run name" }).click();
  await title.getByRole("textbox").fill("edited-name");
  await title.getByRole("textbox").press("Enter");
  await expect(page.getByTestId("run-title-value")).toHaveText("edited-name");

  // the server has every edit
  const resp = await page.request.get(`${state.server}/api/v1/runs/admin/scratch/edit-me`, { headers: { Authorization: `Bearer ${state.adminKey}` } });
  const run = (await resp.json()) as { name: string; tags: string[]; notes: string };
  expect(run.name).toBe("edited-name");
  expect(run.tags).toEqual(["reviewed"]);
  expect(run.notes).toBe("learning rate too low");
  // and a reload shows them
  await page.reload();
  await expect(page.getByTestId("run-title-value")).toHaveText("edited-name");

  await page.getByTestId("tab-config").click();
  const config = page.getByTestId("config-table");
  await expect(config.getByTestId("kv-row")).toHaveCount(4); // lr, optimizer.name, optimizer.betas, seed
  await config.getByRole("searchbox").fill("optim");
  await expect(config.getByTestId("kv-row")).toHaveCount(2);
  await expect(config.locator('[data-testid="kv-row"]:is([data-key="optimizer.name"], [data-key="optimizer/name"])')).toContainText("adamw");

  await page.getByTestId("tab-charts").click();
  await expect(page.locator('[data-testid="chart-panel"][data-key="train/loss"]')).toHaveAttribute("data-state", "ready");
  await expect(page.locator('[data-testid="chart-panel"][data-key="train/loss"]')).toHaveAttribute("data-points", String(state.expected.scratch["edit-me"]?.["train/loss"]));

  await page.getByTestId("tab-histograms").click();
  await expect(page.getByTestId("histogram-keys")).toContainText("weights/w0");
  const heatmap = page.getByTestId("histogram-view");
  await expect(heatmap).toBeVisible();
  // a drawn heatmap: a canvas of real size
  const canvas = heatmap.locator("canvas").first();
  await expect(canvas).toBeVisible();
  const box = await canvas.boundingBox();
  expect(box?.width ?? 0).toBeGreaterThan(100);
  expect(box?.height ?? 0).toBeGreaterThan(50);
});

test("the comparison highlights the config differences", async ({ admin: page, state }) => {
  await page.goto(at(state, "/p/admin/e2e/compare?runs=base-a,base-b"));
  await expect(page.getByTestId("compare-run")).toHaveCount(2);
  // nested keys may be shown joined with "." or "/"
  const row = (key: string) =>
    page.locator(`[data-testid="compare-config"] [data-testid="compare-row"]:is([data-key="${key}"], [data-key="${key.replace(".", "/")}"])`);
  await expect(row("lr")).toHaveAttribute("data-differs", "true");
  await expect(row("batch")).toHaveAttribute("data-differs", "false");
  await expect(row("model.depth")).toHaveAttribute("data-differs", "false");
  // highlighted: the row of a difference looks different from an equal one
  const bg = (key: string) =>
    row(key).evaluate((el) =>
      [el, ...Array.from(el.querySelectorAll("th, td"))].map((c) => {
        const s = getComputedStyle(c);
        return `${s.backgroundColor} ${s.fontWeight} ${s.color} ${s.boxShadow} ${s.borderLeftColor}`;
      }).join("|"),
    );
  expect(await bg("lr")).not.toBe(await bg("batch"));

  await page.goto(at(state, "/p/admin/e2e/compare?runs=base-a,base-b,wide-c"));
  await expect(page.getByTestId("compare-run")).toHaveCount(3);
  await expect(row("batch")).toHaveAttribute("data-differs", "true");
  await expect(row("model.act")).toHaveAttribute("data-differs", "true");
  await page.getByTestId("only-differences").check();
  await expect(row("batch")).toHaveCount(1);
  // charts of the compared runs, overlaid
  const loss = page.locator('[data-testid="chart-panel"][data-key="train/loss"]');
  await loss.scrollIntoViewIfNeeded();
  await expect(loss).toHaveAttribute("data-state", "ready");
  const runs = state.expected.runs;
  const total = ["base-a", "base-b", "wide-c"].reduce((n, r) => n + (runs[r]?.points["train/loss"] ?? 0), 0);
  await expect(loss).toHaveAttribute("data-points", String(total));
});

test("deleting a run asks for confirmation first", async ({ admin: page, state }) => {
  await page.goto(at(state, "/p/admin/scratch/r/doomed"));
  await expect(page.getByTestId("run-page")).toBeVisible();
  await page.getByTestId("delete-run").click();
  const dialog = page.getByTestId("confirm-dialog");
  await expect(dialog).toBeVisible();
  await page.getByTestId("confirm-cancel").click();
  await expect(dialog).toHaveCount(0);
  const api = `${state.server}/api/v1/runs/admin/scratch/doomed`;
  const headers = { Authorization: `Bearer ${state.adminKey}` };
  expect((await page.request.get(api, { headers })).status()).toBe(200);

  await page.getByTestId("delete-run").click();
  await page.getByTestId("confirm-ok").click();
  await expect(page.getByTestId("workspace")).toBeVisible();
  await expect(page.locator('[data-testid="run-row"][data-run-id="doomed"]')).toHaveCount(0);
  await expect(page.locator('[data-testid="run-row"][data-run-id="edit-me"]')).toHaveCount(1);
  expect((await page.request.get(api, { headers })).status()).toBe(404);
});
