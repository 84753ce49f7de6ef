// Accessibility basics on every page: labelled controls and readable contrast (axe-core), and
// every interactive control with an accessible name.

import type { Page } from "@playwright/test";
import { at, expect, expectAccessible, expectNamedControls, test } from "./util";

async function check(page: Page, what: string): Promise<void> {
  await page.waitForLoadState("networkidle");
  await expectNamedControls(page, what);
  await expectAccessible(page, what);
}

test("sign-in page", async ({ page, state }) => {
  await page.goto(at(state, "/"));
  await expect(page.getByTestId("signin-page")).toBeVisible();
  await check(page, "the sign-in page");
});

test("projects page", async ({ admin: page, state }) => {
  await page.goto(at(state, "/"));
  await expect(page.getByTestId("project-row").first()).toBeVisible();
  await check(page, "the projects page");
});

test("workspace", async ({ admin: page, state }) => {
  await page.goto(at(state, "/p/admin/e2e"));
  await expect(page.getByTestId("run-row")).toHaveCount(3);
  await expect(page.getByTestId("chart-panel").first()).toHaveAttribute("data-state", "ready");
  await check(page, "the workspace");
  await page.getByTestId("column-picker-button").click();
  await expect(page.getByTestId("column-picker")).toBeVisible();
  await check(page, "the workspace's column picker");
});

test("sweeps page without sweeps", async ({ admin: page, state }) => {
  await page.goto(at(state, "/p/admin/e2e/sweeps"));
  await expect(page.getByTestId("sweeps-page").getByTestId("empty")).toBeVisible();
  await check(page, "the sweeps page");
});

test("run page tabs", async ({ admin: page, state }) => {
  await page.goto(at(state, "/p/admin/e2e/r/base-a"));
  await expect(page.getByTestId("run-overview")).toBeVisible();
  await check(page, "the run overview");
  for (const tab of ["config", "summary", "charts", "histograms"]) {
    await page.getByTestId(`tab-${tab}`).click();
    await check(page, `the run page's ${tab} tab`);
  }
});

test("run page system, logs, files and media tabs", async ({ admin: page, state }) => {
  await page.goto(at(state, "/p/admin/media/r/media-run?tab=system"));
  await expect(page.getByTestId("system-chart").first()).toHaveAttribute("data-state", "ready");
  await check(page, "the run page's system tab");
  await page.getByTestId("tab-logs").click();
  await expect(page.getByTestId("log-line").first()).toBeVisible();
  await check(page, "the run page's logs tab");
  await page.getByTestId("tab-files").click();
  await page.locator('[data-testid="file-row"][data-path="requirements.txt"]').getByTestId("file-open").click();
  await expect(page.getByTestId("file-text")).toBeVisible();
  await check(page, "the run page's files tab");
  await page.getByTestId("tab-media").click();
  await expect(page.getByTestId("media-panel").first()).toBeVisible();
  await check(page, "the run page's media tab");
  await page.locator('[data-testid="media-panel"][data-key="examples/big"]').getByTestId("media-table-open").click();
  await expect(page.getByTestId("table-row").first()).toBeVisible();
  await check(page, "the table viewer");
});

test("comparison", async ({ admin: page, state }) => {
  await page.goto(at(state, "/p/admin/e2e/compare?runs=base-a,base-b,wide-c"));
  await expect(page.getByTestId("compare-run")).toHaveCount(3);
  await check(page, "the comparison");
});

test("admin page and API keys page", async ({ admin: page, state }) => {
  await page.goto(at(state, "/admin?user=admin"));
  await expect(page.getByTestId("user-row").first()).toBeVisible();
  await expect(page.getByTestId("key-row").first()).toBeVisible();
  await expect(page.getByTestId("team-card").first()).toBeVisible();
  await check(page, "the admin page");
  await page.getByTestId("user-password").first().click();
  await expect(page.getByRole("alertdialog")).toBeVisible();
  await check(page, "the admin page's password dialog");
  await page.getByTestId("confirm-cancel").click();
  await page.goto(at(state, "/keys"));
  await expect(page.getByTestId("key-row").first()).toBeVisible();
  await check(page, "the API keys page");
});

test("local dashboard", async ({ page, state }) => {
  await page.goto(at(state, "/p/local/local-proj", "ui"));
  await expect(page.getByTestId("run-row")).toHaveCount(2);
  await check(page, "the local workspace");
});
