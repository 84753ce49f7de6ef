// The Run page's Media tab on a real run: images over steps with a slider, audio, video (gif
// and mp4), sandboxed html, a gallery, and the table viewer on a 100,000-row table.

import type { Locator, Page } from "@playwright/test";
import { at, expect, test } from "./util";

const MEDIA = "/p/admin/media/r/media-run?tab=media";

function panel(page: Page, key: string): Locator {
  return page.locator(`[data-testid="media-panel"][data-key="${key}"]`);
}

/** The bytes behind an element's object URL (what the page would play). */
async function srcBytes(el: Locator): Promise<number> {
  return el.evaluate(async (node) => {
    const src = (node as HTMLMediaElement | HTMLImageElement).src;
    const blob = await (await fetch(src)).blob();
    return blob.size;
  });
}

test("an image panel steps through its images with the slider and the buttons", async ({ admin: page, state }) => {
  const steps = state.expected.media.image_steps;
  await page.goto(at(state, MEDIA));
  const p = panel(page, "examples/image");
  await expect(p).toHaveAttribute("data-count", String(steps));
  const label = p.getByTestId("media-step-label");
  const img = p.getByTestId("media-image");
  // the last step first
  await expect(label).toHaveAttribute("data-step", String(steps - 1));
  await expect(img).toHaveAttribute("src", /^blob:/);
  await expect.poll(() => img.evaluate((e) => (e as HTMLImageElement).naturalWidth)).toBe(24);
  await expect(p.getByTestId("media-caption")).toHaveText(`sample at step ${steps - 1}`);
  const lastPath = await img.getAttribute("data-path");
  const lastSrc = await img.getAttribute("src");

  await p.getByTestId("media-prev").click();
  await expect(label).toHaveAttribute("data-step", String(steps - 2));
  await expect(img).not.toHaveAttribute("data-path", lastPath ?? "");
  await expect(img).toHaveAttribute("src", /^blob:/);
  expect(await img.getAttribute("src")).not.toBe(lastSrc);

  const slider = p.getByTestId("media-step");
  await slider.focus();
  await page.keyboard.press("Home");
  await expect(label).toHaveAttribute("data-step", "0");
  await expect(p.getByTestId("media-caption")).toHaveText("sample at step 0");
  await expect(p.getByTestId("media-prev")).toBeDisabled();
  await p.getByTestId("media-next").click();
  await expect(label).toHaveAttribute("data-step", "1");
});

test("audio, video, html and galleries are shown with playable sources", async ({ admin: page, state }) => {
  await page.goto(at(state, MEDIA));
  const audio = panel(page, "examples/audio").getByTestId("media-audio");
  await expect(audio).toHaveAttribute("src", /^blob:/);
  await expect(audio).toHaveAttribute("controls", "");
  // the browser reads the wav: half a second
  await expect.poll(() => audio.evaluate((a) => (a as HTMLAudioElement).duration), { timeout: 15_000 }).toBeCloseTo(0.5, 1);

  const movie = panel(page, "examples/movie").getByTestId("media-video");
  await expect(movie).toHaveAttribute("src", /^blob:/);
  await expect(movie).toHaveAttribute("controls", "");
  expect(await srcBytes(movie)).toBeGreaterThan(0);

  // a gif video is an animated image
  const clip = panel(page, "examples/clip").getByTestId("media-image");
  await expect(clip).toHaveAttribute("src", /^blob:/);
  await expect.poll(() => clip.evaluate((e) => (e as HTMLImageElement).naturalWidth)).toBe(32);

  // html: sandboxed, scripts do not run
  const frame = panel(page, "examples/html").getByTestId("media-html");
  await expect(frame).toHaveAttribute("sandbox", "");
  await expect(frame).toHaveAttribute("data-loaded", "true");
  await expect(page.frameLocator('[data-testid="media-html"]').locator("h1")).toHaveText("report");
  expect(await page.frameLocator('[data-testid="media-html"]').locator("html").evaluate(() => document.title)).not.toBe("ran");

  const gallery = panel(page, "examples/gallery").getByTestId("media-gallery");
  await expect(gallery).toHaveAttribute("data-count", "3");
  await expect(gallery.getByTestId("media-image")).toHaveCount(3);
});

test("the table viewer sorts, filters and pages a 100,000-row table on the server", async ({ admin: page, state }) => {
  const rows = state.expected.media.big_rows;
  const fmt = (n: number): string => n.toLocaleString("en-US");
  await page.goto(at(state, MEDIA));
  await panel(page, "examples/big").getByTestId("media-table-open").click();
  const viewer = page.getByTestId("table-viewer");
  await expect(viewer).toHaveAttribute("data-total", String(rows));
  const range = viewer.getByTestId("table-range");
  await expect(range).toHaveText(`rows 1–50 of ${fmt(rows)}`);
  // one page in the DOM
  await expect(viewer.getByTestId("table-row")).toHaveCount(50);
  expect(page.url()).toContain("table=media");

  const scores = (): Promise<number[]> =>
    viewer.locator('[data-testid="table-row"] td[data-column="score"]').evaluateAll((els) => els.map((e) => Number(e.textContent)));
  const header = viewer.locator('[data-testid="table-header"][data-column="score"]');
  await header.getByRole("button").click();
  await expect(header).toHaveAttribute("aria-sort", "ascending");
  await expect(viewer).toHaveAttribute("data-state", "ready");
  await expect.poll(async () => { const s = await scores(); return s.every((v, i) => i === 0 || (s[i - 1] as number) <= v); }).toBe(true);
  const lowest = (await scores())[0] ?? Number.NaN;
  expect(lowest).toBe(0);
  await header.getByRole("button").click();
  await expect(header).toHaveAttribute("aria-sort", "descending");
  await expect.poll(async () => { const s = await scores(); return s.every((v, i) => i === 0 || (s[i - 1] as number) >= v) && (s[0] ?? 0) > 0.99; }).toBe(true);

  // pages
  await viewer.getByTestId("table-next").click();
  await expect(range).toHaveText(`rows 51–100 of ${fmt(rows)}`);
  await viewer.getByTestId("table-last").click();
  await expect(range).toHaveText(`rows ${fmt(rows - 49)}–${fmt(rows)} of ${fmt(rows)}`);
  await expect(viewer.getByTestId("table-row")).toHaveCount(50);
  await expect(viewer.getByTestId("table-next")).toBeDisabled();
  await viewer.getByTestId("table-first").click();
  await expect(range).toHaveText(`rows 1–50 of ${fmt(rows)}`);

  // filter: item-0999xx matches 100 rows
  await viewer.getByTestId("table-filter").fill("item-0999");
  await expect(viewer).toHaveAttribute("data-total", "100");
  await expect(range).toHaveText("rows 1–50 of 100");
  await viewer.getByTestId("table-last").click();
  await expect(range).toHaveText("rows 51–100 of 100");
  for (const label of await viewer.locator('[data-testid="table-row"] td[data-column="label"]').evaluateAll((els) => els.map((e) => e.textContent))) {
    expect(label).toContain("item-0999");
  }
  await viewer.getByTestId("table-filter").fill("");
  await expect(viewer).toHaveAttribute("data-total", String(rows));
  await viewer.getByTestId("table-close").click();
  await expect(viewer).toHaveCount(0);
});

test("media cells of a table show as thumbnails", async ({ admin: page, state }) => {
  await page.goto(at(state, MEDIA));
  await panel(page, "examples/preds").getByTestId("media-table-open").click();
  const viewer = page.getByTestId("table-viewer");
  await expect(viewer.getByTestId("table-row")).toHaveCount(5);
  const thumbs = viewer.getByTestId("table-thumb");
  await expect(thumbs).toHaveCount(5);
  await expect(thumbs.first()).toHaveAttribute("src", /^blob:/);
  await expect.poll(() => thumbs.first().evaluate((e) => (e as HTMLImageElement).naturalWidth)).toBe(16);
});
