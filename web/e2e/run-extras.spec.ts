// The Run page's System, Logs and Files tabs on real runs: system samples charted over runtime,
// the console (virtual list, search, stderr, follow on a live run), files with previews and
// downloads; and the workspace's system-metrics section.

import { readFileSync } from "node:fs";
import type { Locator } from "@playwright/test";
import { at, expect, expectAccessible, expectNamedControls, test } from "./util";

const MEDIA_RUN = "/p/admin/media/r/media-run";

async function numberAttr(loc: Locator, name: string): Promise<number> {
  const raw = await loc.getAttribute(name);
  return raw === null || raw === "" ? Number.NaN : Number(raw);
}

test("the System tab charts the sampled system metrics over runtime, grouped", async ({ admin: page, state }) => {
  await page.goto(at(state, `${MEDIA_RUN}?tab=system`));
  const charts = page.getByTestId("system-chart");
  await expect(charts.first()).toHaveAttribute("data-state", "ready");
  // the sampler's CPU and memory keys, in their groups
  await expect(page.locator('[data-testid="system-group"][data-group="cpu"]')).toBeVisible();
  await expect(page.locator('[data-testid="system-group"][data-group="memory"]')).toBeVisible();
  const cpu = page.locator('[data-testid="system-chart"][data-key="system/cpu.percent"]');
  await expect(cpu).toHaveAttribute("data-state", "ready");
  expect(await numberAttr(cpu, "data-points")).toBeGreaterThanOrEqual(2);
  // drawn: a uPlot canvas of real size
  const box = await cpu.locator("canvas").first().boundingBox();
  expect(box?.width ?? 0).toBeGreaterThan(100);
  // hovering reads the run's value at that runtime
  await cpu.locator(".u-over").hover();
  await expect(cpu.locator(".chart-tip")).toBeVisible();
  await expect(cpu.locator(".chart-tip")).toContainText("media-run");
  await expect(cpu.locator(".chart-tip")).toContainText("runtime");
  // every chart's keys are system metrics
  for (const key of await charts.evaluateAll((els) => els.map((e) => e.getAttribute("data-key") ?? ""))) expect(key).toMatch(/^system\//);
});

test("the System tab of a running run keeps adding samples", async ({ admin: page, state }) => {
  await page.goto(at(state, "/p/admin/live/r/live-run?tab=system"));
  const cpu = page.locator('[data-testid="system-chart"][data-key="system/cpu.percent"]');
  await expect(cpu).toHaveAttribute("data-state", "ready", { timeout: 20_000 });
  const before = await numberAttr(cpu, "data-points");
  await expect.poll(() => numberAttr(cpu, "data-points"), { timeout: 20_000 }).toBeGreaterThan(before);
});

test("the Logs tab shows the console, marks stderr, searches on the server and renders only what is in view", async ({ admin: page, state }) => {
  const media = state.expected.media;
  await page.goto(at(state, `${MEDIA_RUN}?tab=logs`));
  const view = page.getByTestId("logs-view");
  await expect(view).toHaveAttribute("data-total", /\d+/);
  const total = await numberAttr(view, "data-total");
  expect(total).toBeGreaterThanOrEqual(media.lines);
  await expect(page.getByTestId("log-line").filter({ hasText: "epoch 0 loss" })).toBeVisible();
  // a virtual list: far fewer rows in the DOM than lines in the log
  expect(await page.getByTestId("log-line").count()).toBeLessThan(total);
  // scrolled to the end, the last lines are fetched and shown
  await page.locator(".log-scroll").evaluate((el) => {
    el.scrollTop = el.scrollHeight;
  });
  await expect(page.locator(`[data-testid="log-line"][data-n="${total - 1}"]`)).toBeVisible();
  await expect(page.locator('[data-testid="log-line"][data-n="0"]')).toHaveCount(0);
  expect(await page.getByTestId("log-line").count()).toBeLessThan(total);

  // stderr lines are marked (stdout and stderr are read apart: their order between the two
  // streams is not fixed, so the line is found by a search)
  await page.getByTestId("logs-search").fill("warning: step 7 is slow");
  const warn = page.getByTestId("log-line").filter({ hasText: "warning: step 7 is slow" });
  await expect(warn).toHaveAttribute("data-stream", "stderr");
  await expect(warn).toContainText("stderr");

  // search: the server answers only the matching lines
  await page.getByTestId("logs-search").fill(media.needle);
  await expect(view).toHaveAttribute("data-total", "1");
  await expect(page.getByTestId("log-line")).toHaveCount(1);
  await expect(page.getByTestId("log-line")).toContainText(media.needle);
  await page.getByTestId("logs-search").fill("warning:");
  await expect(view).toHaveAttribute("data-total", String(media.stderr));
  for (const stream of await page.getByTestId("log-line").evaluateAll((els) => els.map((e) => e.getAttribute("data-stream")))) expect(stream).toBe("stderr");
  await page.getByTestId("logs-search").fill("no line has this text");
  await expect(page.getByTestId("logs-empty")).toBeVisible();
  await page.getByTestId("logs-search").fill("");
  await expect(view).toHaveAttribute("data-total", String(total));

  // only stderr: the server filters by stream
  await page.getByTestId("logs-stream").selectOption("stderr");
  await expect(view).toHaveAttribute("data-stream", "stderr");
  await expect.poll(() => numberAttr(view, "data-total")).toBeLessThan(total);
  expect(await numberAttr(view, "data-total")).toBeGreaterThanOrEqual(media.stderr);
  await expect(page.getByTestId("log-line").first()).toBeVisible();
  for (const stream of await page.getByTestId("log-line").evaluateAll((els) => els.map((e) => e.getAttribute("data-stream")))) expect(stream).toBe("stderr");
});

test("following the console of a running run shows its new lines", async ({ admin: page, state }) => {
  await page.goto(at(state, "/p/admin/live/r/live-run?tab=logs"));
  const follow = page.getByTestId("logs-follow");
  await expect(follow).toBeChecked();
  await expect(page.getByTestId("log-line").filter({ hasText: "live line" }).first()).toBeVisible({ timeout: 20_000 });
  const lastShown = async (): Promise<number> => {
    const ns = await page.getByTestId("log-line").evaluateAll((els) => els.map((e) => Number(e.getAttribute("data-n"))));
    return Math.max(-1, ...ns);
  };
  const first = await lastShown();
  // new lines arrive and the view stays at the bottom
  await expect.poll(lastShown, { timeout: 20_000 }).toBeGreaterThan(first + 2);
  const atBottom = await page.locator(".log-scroll").evaluate((el) => el.scrollHeight - el.clientHeight - el.scrollTop < 30);
  expect(atBottom).toBe(true);
  // turned off, the view stops moving
  await follow.uncheck();
  await expect(follow).not.toBeChecked();
});

test("the Files tab lists the files, previews requirements.txt and downloads it", async ({ admin: page, state }) => {
  await page.goto(at(state, `${MEDIA_RUN}?tab=files`));
  const list = page.getByTestId("files-list");
  const row = (path: string) => list.locator(`[data-testid="file-row"][data-path="${path}"]`);
  await expect(row("requirements.txt")).toBeVisible();
  await expect(row("metadata.json")).toBeVisible();
  // media payloads are grouped, collapsed
  await expect(list.locator('[data-testid="file-row"][data-path^="media/"]')).toHaveCount(0);
  await page.getByTestId("files-media-toggle").click();
  await expect(list.locator('[data-testid="file-row"][data-path^="media/"]').first()).toBeVisible();
  await page.getByTestId("files-media-toggle").click();

  await row("requirements.txt").getByTestId("file-open").click();
  const preview = page.getByTestId("file-preview");
  await expect(preview).toHaveAttribute("data-path", "requirements.txt");
  await expect(preview.getByTestId("file-text")).toContainText("numpy");
  expect(page.url()).toContain("file=requirements.txt");

  const [download] = await Promise.all([page.waitForEvent("download"), row("requirements.txt").getByTestId("file-download").click()]);
  expect(download.suggestedFilename()).toBe("requirements.txt");
  const saved = readFileSync(await download.path(), "utf8");
  const resp = await page.request.get(`${state.server}/api/v1/runs/admin/media/media-run/files/requirements.txt`, {
    headers: { Authorization: `Bearer ${state.adminKey}` },
  });
  expect(saved).toBe(await resp.text());

  // metadata.json pretty-printed
  await row("metadata.json").getByTestId("file-open").click();
  await expect(preview).toHaveAttribute("data-path", "metadata.json");
  await expect(preview.getByTestId("file-text")).toContainText('\n  "');
});

test("the workspace's system section charts every visible run once expanded", async ({ admin: page, state }) => {
  await page.goto(at(state, "/p/admin/media"));
  const section = page.getByTestId("system-section");
  await expect(section).toHaveAttribute("data-expanded", "false");
  await expect(page.getByTestId("system-chart")).toHaveCount(0);
  await page.getByTestId("system-section-toggle").click();
  await expect(section).toHaveAttribute("data-expanded", "true");
  const cpu = page.locator('[data-testid="system-chart"][data-key="system/cpu.percent"]');
  await cpu.scrollIntoViewIfNeeded();
  await expect(cpu).toHaveAttribute("data-state", "ready");
  expect(await numberAttr(cpu, "data-points")).toBeGreaterThanOrEqual(2);
  expect(page.url()).toContain("system=1");
  await expectNamedControls(page, "the workspace's system section");
  await expectAccessible(page, "the workspace's system section");
});
