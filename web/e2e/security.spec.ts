// The dashboard under its Content-Security-Policy: every page works with no violation, the API
// docs page renders Swagger UI from the server's own files (nothing from another origin), and a
// `fwtrack ui` bound beyond loopback signs the browser in through the token in its printed URL.

import { cpSync, existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Page } from "@playwright/test";

import { freePort, startProcess, stopPid, waitFor, waitHttp } from "./harness";
import { at, chart, expect, test } from "./util";

/** Collect CSP violations of `page` (events and console reports) from now on. */
async function watchCsp(page: Page): Promise<string[]> {
  const found: string[] = [];
  page.on("console", (msg) => {
    if (/Content.Security.Policy/i.test(msg.text())) found.push(`console: ${msg.text()}`);
  });
  await page.exposeFunction("reportCspViolation", (text: string) => {
    found.push(text);
  });
  await page.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (e) => {
      const report = (window as unknown as { reportCspViolation: (t: string) => Promise<void> }).reportCspViolation;
      void report(`${e.violatedDirective} blocked ${e.blockedURI} (${e.sourceFile}:${e.lineNumber})`);
    });
  });
  return found;
}

/** Every request `page` makes from now on. */
function watchRequests(page: Page): string[] {
  const urls: string[] = [];
  page.on("request", (req) => {
    urls.push(req.url());
  });
  return urls;
}

test("the dashboard works under its Content-Security-Policy with no violation", async ({ admin: page, state }) => {
  const violations = await watchCsp(page);
  const response = await page.goto(at(state, "/"));
  const policy = (await response?.allHeaders())?.["content-security-policy"] ?? "";
  expect(policy).toContain("frame-ancestors 'none'");
  expect(policy).toContain("default-src 'self'");
  expect(await response?.headerValue("x-frame-options")).toBe("DENY");
  await expect(page.getByTestId("projects-page")).toBeVisible();

  // charts (uPlot on canvas)
  await page.goto(at(state, "/p/admin/zoom"));
  const loss = chart(page, "train/loss");
  await expect(loss).toHaveAttribute("data-state", "ready");
  expect((await loss.locator("canvas").first().boundingBox())?.width ?? 0).toBeGreaterThan(100);

  // media through blob: URLs, and sandboxed html
  await page.goto(at(state, "/p/admin/media/r/media-run?tab=media"));
  const image = page.locator('[data-testid="media-panel"][data-key="examples/clip"]').getByTestId("media-image");
  await expect.poll(() => image.evaluate((e) => (e as HTMLImageElement).naturalWidth)).toBeGreaterThan(0);
  const audio = page.locator('[data-testid="media-panel"][data-key="examples/audio"]').getByTestId("media-audio");
  await expect.poll(() => audio.evaluate((a) => (a as HTMLAudioElement).duration), { timeout: 15_000 }).toBeGreaterThan(0);
  await expect(page.frameLocator('[data-testid="media-html"]').locator("h1")).toHaveText("report", { timeout: 30_000 });

  // the local dashboard
  await page.goto(at(state, "/p/local/local-proj", "ui"));
  await expect(page.getByTestId("run-row")).toHaveCount(2);

  expect(violations).toEqual([]);
});

test("the dashboard cannot be framed by another page", async ({ page, state }) => {
  // A page of another origin (a data: URL) framing the dashboard: the frame stays empty.
  await page.setContent(`<iframe id="f" src="${state.server}/" width="400" height="300"></iframe>`);
  const frame = page.frameLocator("#f");
  await expect.poll(async () => frame.getByTestId("projects-page").count()).toBe(0);
  await expect(page.locator("#f")).toBeAttached();
  expect(await frame.locator("#app").count()).toBe(0);
});

test("the API docs page renders Swagger UI from the server's own files, offline", async ({ page, state }) => {
  const violations = await watchCsp(page);
  const requests = watchRequests(page);
  // Offline: nothing outside the server answers.
  await page.route(
    (url) => url.origin !== state.server,
    (route) => route.abort(),
  );
  await page.goto(`${state.server}/api/v1/docs`);
  await expect(page.locator(".swagger-ui .info .title")).toContainText("fwtrack server");
  await expect(page.locator(".opblock").first()).toBeVisible();
  await expect(page.locator('.opblock[id*="health"]').first()).toBeVisible();
  const loaded = await page.evaluate(() => performance.getEntriesByType("resource").map((e) => e.name));
  expect(loaded.some((u) => u.endsWith("/swagger-ui/swagger-ui-bundle.js"))).toBe(true);
  expect(loaded.some((u) => u.endsWith("/swagger-ui/swagger-ui.css"))).toBe(true);
  expect(requests.filter((u) => !u.startsWith(state.server) && !u.startsWith("data:"))).toEqual([]);
  expect(violations).toEqual([]);
});

test("a ui bound beyond loopback signs the browser in through the printed URL", async ({ browser, state }) => {
  const dir = join(state.work, "security-ui-runs");
  if (!existsSync(dir)) {
    cpSync(join(state.work, "local-runs"), dir, { recursive: true, filter: (src) => !src.includes(".fwtrack-ui") });
  }
  const port = await freePort();
  const name = `security-ui-${port}`;
  const proc = startProcess(state.work, name, ["-m", "fwtrack", "ui", "--dir", dir, "--host", "0.0.0.0", "--port", String(port)]);
  const log = join(state.work, `${name}.log`);
  try {
    await waitHttp(`http://127.0.0.1:${port}/api/v1/health`, proc, log);
    let url = "";
    await waitFor("the printed URL", () => {
      url = /fwtrack ui (http:\/\/\S+\?token=\S+)/.exec(readFileSync(log, "utf8"))?.[1] ?? "";
      return Promise.resolve(url !== "");
    });
    expect(url).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${port}/\\?token=[A-Za-z0-9_-]{32,}$`));

    // Without the token: 401.
    const stranger = await browser.newContext();
    const refused = await (await stranger.newPage()).goto(`http://127.0.0.1:${port}/`);
    expect(refused?.status()).toBe(401);
    await stranger.close();

    // With it: the cookie, the token gone from the address bar, the dashboard working.
    const context = await browser.newContext();
    const page = await context.newPage();
    const violations = await watchCsp(page);
    await page.goto(url);
    await expect(page).toHaveURL(new RegExp(`^http://127\\.0\\.0\\.1:${port}/(#.*)?$`));
    await expect(page.getByTestId("projects-page")).toBeVisible();
    const row = page.locator('[data-testid="project-row"][data-project="local/local-proj"]');
    await expect(row).toContainText("2");
    await row.getByRole("link").first().click();
    await expect(page.getByTestId("run-row")).toHaveCount(2);
    await expect(page.getByTestId("signin-page")).toHaveCount(0);
    const cookies = await context.cookies(`http://127.0.0.1:${port}/`);
    const cookie = cookies.find((c) => c.name === `fwtrack_ui_${port}`);
    expect(cookie?.httpOnly).toBe(true);
    expect(cookie?.sameSite).toBe("Strict");
    expect(violations).toEqual([]);
    await context.close();
  } finally {
    if (proc.pid !== undefined) await stopPid(proc.pid, 5000);
  }
});
