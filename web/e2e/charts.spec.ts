// Zoom (drag to select a range: refetched at full resolution, then reset) and live updates of a
// run that is still being logged.

import type { Locator } from "@playwright/test";
import { at, chart, expect, pointsOf, test } from "./util";

async function dragAcross(panel: Locator, from: number, to: number): Promise<void> {
  const over = panel.locator(".u-over");
  await over.scrollIntoViewIfNeeded();
  const box = await over.boundingBox();
  if (box === null) throw new Error("the chart has no plot area");
  const page = panel.page();
  const y = box.y + box.height / 2;
  await page.mouse.move(box.x + box.width * from, y);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * ((from + to) / 2), y, { steps: 5 });
  await page.mouse.move(box.x + box.width * to, y, { steps: 5 });
  await page.mouse.up();
}

test("zooming a chart refetches the range at full resolution; reset restores it", async ({ admin: page, state }) => {
  await page.goto(at(state, "/p/admin/zoom"));
  const panel = chart(page, "train/loss");
  await expect(panel).toHaveAttribute("data-state", "ready");
  const overview = await pointsOf(panel);
  const steps = state.expected.zoom.steps;
  expect(overview, "the overview is downsampled").toBeGreaterThan(0);
  expect(overview).toBeLessThan(steps);

  await dragAcross(panel, 0.4, 0.45);
  await expect(panel).toHaveAttribute("data-zoomed", "true");
  await expect(panel).toHaveAttribute("data-state", "ready");
  // about 5% of the steps, every one of them drawn (no longer downsampled)
  await expect.poll(() => pointsOf(panel)).not.toBe(overview);
  const zoomed = await pointsOf(panel);
  expect(zoomed).toBeGreaterThan(0);
  expect(zoomed).toBeLessThan(steps * 0.2);

  await panel.getByRole("button", { name: /Reset zoom/ }).click();
  await expect(panel).toHaveAttribute("data-zoomed", "false");
  await expect.poll(() => pointsOf(panel)).toBe(overview);
});

test("a running run's chart grows without a reload", async ({ admin: page, state }) => {
  await page.goto(at(state, "/p/admin/live"));
  const row = page.locator('[data-testid="run-row"][data-run-id="live-run"]');
  await expect(row.getByTestId("state-badge")).toHaveAttribute("data-state", "running");
  const panel = chart(page, "train/loss");
  await expect(panel).toHaveAttribute("data-state", "ready");
  const first = await pointsOf(panel);
  expect(first).toBeGreaterThan(0);
  const navigations: string[] = [];
  page.on("framenavigated", (f) => {
    if (f === page.mainFrame()) navigations.push(f.url());
  });
  await expect.poll(() => pointsOf(panel), { timeout: 15_000 }).toBeGreaterThan(first + 5);
  expect(navigations.filter((u) => !u.includes("#")), "no reload").toEqual([]);
});

test("the panel layout is saved per project and survives a reload", async ({ admin: page, state }) => {
  await page.goto(at(state, "/p/admin/scratch"));
  const panel = chart(page, "system/cpu");
  await expect(panel).toBeVisible();
  const before = await page.getByTestId("chart-panel").count();
  await panel.getByRole("button", { name: "Remove system/cpu" }).click();
  await expect(chart(page, "system/cpu")).toHaveCount(0);
  const headers = { Authorization: `Bearer ${state.adminKey}` };
  await expect
    .poll(async () => JSON.stringify(await (await page.request.get(`${state.server}/api/v1/projects/admin/scratch/workspace`, { headers })).json()))
    .not.toBe("{}");
  await page.reload();
  await expect(page.getByTestId("chart-panel")).toHaveCount(before - 1);
  await expect(chart(page, "system/cpu")).toHaveCount(0);
  // another project keeps its own layout
  await page.goto(at(state, "/p/admin/e2e"));
  await expect(chart(page, "system/cpu")).toHaveCount(1);
});
