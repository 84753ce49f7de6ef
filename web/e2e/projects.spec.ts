// Sign-in (API key, username/password), the projects page, and the local dashboard (`fwtrack ui`).

import { at, expect, test } from "./util";

test("signs in with an API key and lists the projects with their run counts", async ({ page, state }) => {
  await page.goto(at(state, "/"));
  await expect(page.getByTestId("signin-page")).toBeVisible();
  await page.getByTestId("signin-api-key").fill("fwk_" + "x".repeat(40));
  await page.getByTestId("signin-key-form").locator('button[type="submit"]').click();
  await expect(page.getByTestId("signin-error").first()).toBeVisible();
  await page.getByTestId("signin-api-key").fill(state.adminKey);
  await page.getByTestId("signin-key-form").locator('button[type="submit"]').click();
  await expect(page.getByTestId("projects-page")).toBeVisible();
  const rows = page.getByTestId("project-row");
  await expect(page.locator('[data-testid="project-row"][data-project="admin/e2e"]')).toBeVisible();
  const expected: Record<string, number> = { "admin/e2e": 3, "admin/scratch": 2, "admin/zoom": 1, "admin/live": 1, "admin/media": 1, "lab/shared": 1 };
  for (const [project, count] of Object.entries(expected)) {
    const row = page.locator(`[data-testid="project-row"][data-project="${project}"]`);
    await expect(row).toContainText(String(count));
  }
  await expect(rows).toHaveCount(Object.keys(expected).length);
  await expect(page.getByTestId("viewer-name")).toHaveText("admin");
});

test("signs in with username and password and sees only the reachable projects", async ({ page, state }) => {
  await page.goto(at(state, "/"));
  await expect(page.getByTestId("signin-page")).toBeVisible();
  await page.getByTestId("signin-username").fill(state.expected.alice.name);
  await page.getByTestId("signin-password").fill("wrong password");
  await page.getByTestId("signin-password-form").locator('button[type="submit"]').click();
  await expect(page.getByTestId("signin-error").first()).toBeVisible();
  await page.getByTestId("signin-password").fill(state.expected.alice.password);
  await page.getByTestId("signin-password-form").locator('button[type="submit"]').click();
  await expect(page.getByTestId("projects-page")).toBeVisible();
  await expect(page.getByTestId("viewer-name")).toHaveText("alice");
  await expect(page.getByTestId("project-row")).toHaveCount(1);
  await expect(page.locator('[data-testid="project-row"][data-project="lab/shared"]')).toContainText("1");
  await page.getByTestId("sign-out").click();
  await expect(page.getByTestId("signin-page")).toBeVisible();
});

test("the local dashboard needs no sign-in and shows the local runs", async ({ page, state }) => {
  await page.goto(at(state, "/", "ui"));
  await expect(page.getByTestId("projects-page")).toBeVisible();
  const row = page.locator('[data-testid="project-row"][data-project="local/local-proj"]');
  await expect(row).toContainText("2");
  await row.getByRole("link").first().click();
  await expect(page.getByTestId("workspace")).toBeVisible();
  await expect(page.getByTestId("run-row")).toHaveCount(2);
  await expect(page.getByTestId("signin-page")).toHaveCount(0);
});
