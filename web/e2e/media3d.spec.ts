// Overlaid images and 3D objects in the Run page's Media tab, on a run `media3d_fixtures.py`
// logs through the Python API into a directory of this spec's own, shown by a `fwtrack ui`:
// boxes with captions and class colours, the mask layer, per-class and per-group toggles, the
// three.js canvas of a point cloud and of a GLB model actually painted (its pixels read back),
// and the step slider moving both.

import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Locator, Page } from "@playwright/test";

import { freePort, readState, runPython, startProcess, stopPid, waitHttp } from "./harness";
import { expect, test } from "./util";

const FIXTURES = join(import.meta.dirname, "media3d_fixtures.py");

// Headless Chromium draws WebGL with SwiftShader (there is no GPU here).
test.use({
  launchOptions: {
    executablePath: "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--ignore-gpu-blocklist", "--disable-quic", "--no-first-run"],
  },
});

interface Seeded {
  project: string;
  run: string;
  steps: number;
}

let ui = "";
let seeded: Seeded;
const pids: number[] = [];

test.beforeAll(async () => {
  test.setTimeout(120_000);
  const state = readState();
  const port = await freePort();
  const work = join(state.work, `media3d-${port}`);
  mkdirSync(work, { recursive: true });
  const out = join(work, "media3d.json");
  const dir = join(work, "runs");
  await runPython(work, "media3d-fixtures", [FIXTURES, "--dir", dir, "--out", out], {}, 90_000);
  seeded = JSON.parse(readFileSync(out, "utf8")) as Seeded;
  ui = `http://127.0.0.1:${port}`;
  const proc = startProcess(work, "media3d-ui", ["-m", "fwtrack", "ui", "--dir", dir, "--port", String(port)]);
  if (proc.pid !== undefined) pids.push(proc.pid);
  await waitHttp(`${ui}/api/v1/health`, proc, join(work, "media3d-ui.log"));
});

test.afterAll(async () => {
  for (const pid of pids.reverse()) await stopPid(pid);
});

function media(): string {
  return `${ui}/#/p/local/${seeded.project}/r/${seeded.run}?tab=media`;
}

function panel(page: Page, key: string): Locator {
  return page.locator(`[data-testid="media-panel"][data-key="${key}"]`);
}

/** Pixels of a WebGL canvas unlike its clear colour (#10141c), and how many are mostly red. */
async function painted(canvas: Locator): Promise<{ total: number; lit: number; red: number; green: number }> {
  return canvas.evaluate((node) => {
    const src = node as HTMLCanvasElement;
    const copy = document.createElement("canvas");
    copy.width = src.width;
    copy.height = src.height;
    const ctx = copy.getContext("2d");
    if (ctx === null) return { total: 0, lit: 0, red: 0, green: 0 };
    ctx.drawImage(src, 0, 0);
    const px = ctx.getImageData(0, 0, copy.width, copy.height).data;
    let lit = 0, red = 0, green = 0;
    for (let i = 0; i < px.length; i += 4) {
      const r = px[i] as number, g = px[i + 1] as number, b = px[i + 2] as number;
      if (Math.abs(r - 0x10) + Math.abs(g - 0x14) + Math.abs(b - 0x1c) > 30) lit++;
      if (r > 150 && g < 100 && b < 100) red++;
      if (g > 150 && r < 100 && b < 100) green++;
    }
    return { total: px.length / 4, lit, red, green };
  });
}

test("an image shows its boxes, captions and mask, with toggles per class and per group", async ({ page }) => {
  await page.goto(media());
  const p = panel(page, "scene");
  await expect(p).toHaveAttribute("data-count", String(seeded.steps));
  const overlay = p.getByTestId("image-overlay");
  await expect(overlay).toBeVisible();
  await expect(overlay.getByTestId("media-image")).toHaveAttribute("src", /^blob:/);
  const boxes = overlay.getByTestId("overlay-box");
  await expect(boxes).toHaveCount(2);
  await expect(overlay.getByTestId("overlay-caption")).toHaveText([`cat ${seeded.steps - 1}`, "dog"]);
  // class colours: cat and dog differ
  const strokes = await boxes.locator("rect").evaluateAll((els) => els.map((e) => e.getAttribute("stroke")));
  expect(new Set(strokes).size).toBe(2);
  // the mask layer is drawn, translucent: road (bottom left) and background (top right) in
  // two colours
  const mask = overlay.getByTestId("overlay-mask");
  await expect(mask).toHaveAttribute("data-ready", "true");
  const pixels = async (): Promise<number[][]> =>
    mask.evaluate((node) => {
      const c = node as HTMLCanvasElement;
      const ctx = c.getContext("2d");
      if (ctx === null) return [];
      return [[...ctx.getImageData(5, c.height - 5, 1, 1).data], [...ctx.getImageData(c.width - 5, 5, 1, 1).data]];
    });
  const alpha = async (): Promise<number[]> => (await pixels()).map((p) => p[3] ?? -1);
  expect(await alpha()).toEqual([128, 128]);
  const [road, background] = await pixels();
  expect(road?.slice(0, 3)).not.toEqual(background?.slice(0, 3));

  // classes: hide "cat" -> one box; hide "road" -> the mask is transparent there
  const classes = overlay.getByTestId("overlay-classes");
  await expect(classes.getByTestId("overlay-class-toggle")).toHaveCount(4);
  await classes.locator('[data-testid="overlay-class-toggle"][data-class="1"]').uncheck();
  await expect(boxes).toHaveCount(1);
  await expect(overlay.getByTestId("overlay-caption")).toHaveText(["dog"]);
  await classes.locator('[data-testid="overlay-class-toggle"][data-class="0"]').uncheck();
  await expect.poll(alpha).toEqual([128, 0]);
  await classes.locator('[data-testid="overlay-class-toggle"][data-class="3"]').uncheck();
  await expect.poll(alpha).toEqual([0, 0]);
  await classes.locator('[data-testid="overlay-class-toggle"][data-class="3"]').check();
  await expect.poll(alpha).toEqual([128, 0]);

  // groups: the mask group off and on, the box group off
  await overlay.locator('[data-testid="overlay-group-toggle"][data-kind="mask"]').uncheck();
  await expect(overlay.getByTestId("overlay-mask")).toHaveCount(0);
  await overlay.locator('[data-testid="overlay-group-toggle"][data-kind="mask"]').check();
  await expect(overlay.getByTestId("overlay-mask")).toHaveCount(1);
  await overlay.locator('[data-testid="overlay-group-toggle"][data-kind="boxes"]').uncheck();
  await expect(overlay.getByTestId("overlay-box")).toHaveCount(0);
});

test("the step slider moves an overlaid image to the boxes of that step", async ({ page }) => {
  await page.goto(media());
  const p = panel(page, "scene");
  const label = p.getByTestId("media-step-label");
  await expect(label).toHaveAttribute("data-step", String(seeded.steps - 1));
  const slider = p.getByTestId("media-step");
  await slider.focus();
  await page.keyboard.press("Home");
  await expect(label).toHaveAttribute("data-step", "0");
  await expect(p.getByTestId("media-caption")).toHaveText("scene at step 0");
  await expect(p.getByTestId("overlay-caption").first()).toHaveText("cat 0");
  await p.getByTestId("media-next").click();
  await expect(p.getByTestId("overlay-caption").first()).toHaveText("cat 1");
});

test("a point cloud and a GLB model are painted by three.js, and the slider steps the cloud", async ({ page }) => {
  await page.goto(media());
  const cloud = panel(page, "cloud");
  const view = cloud.getByTestId("object3d");
  await expect(view).toHaveAttribute("data-state", "ready", { timeout: 20_000 });
  await expect(view).toHaveAttribute("data-format", "pts.json");
  const canvas = view.getByTestId("object3d-canvas");
  const first = await painted(canvas);
  expect(first.total).toBeGreaterThan(0);
  expect(first.red).toBeGreaterThan(50); // the red points
  expect(first.green).toBeGreaterThan(5); // the green box

  // orbit: dragging re-renders from another angle
  const box = await canvas.boundingBox();
  if (box === null) throw new Error("no canvas box");
  const before = await canvas.evaluate((n) => (n as HTMLCanvasElement).toDataURL());
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width / 2 + 120, box.y + box.height / 2 + 30, { steps: 5 });
  await page.mouse.up();
  await expect.poll(() => canvas.evaluate((n) => (n as HTMLCanvasElement).toDataURL())).not.toBe(before);

  // the slider: step 0's cloud (other points) in a new view
  const path = await view.getAttribute("data-path");
  await cloud.getByTestId("media-step").focus();
  await page.keyboard.press("Home");
  await expect(cloud.getByTestId("media-step-label")).toHaveAttribute("data-step", "0");
  await expect(view).not.toHaveAttribute("data-path", path ?? "");
  await expect(view).toHaveAttribute("data-state", "ready", { timeout: 20_000 });
  expect((await painted(view.getByTestId("object3d-canvas"))).red).toBeGreaterThan(50);

  const model = panel(page, "model").getByTestId("object3d");
  await expect(model).toHaveAttribute("data-state", "ready", { timeout: 20_000 });
  await expect(model).toHaveAttribute("data-format", "glb");
  const lit = await painted(model.getByTestId("object3d-canvas"));
  expect(lit.lit).toBeGreaterThan(lit.total / 50); // the triangle fills part of the view
});
