// Run colours, against a real server of this spec's own seeded by `colors_fixtures.py`: two
// runs whose ids pick the same palette entry by hash (one colour for both, before colours
// were assigned by the visible set) and a third run. In the workspace every visible run's
// swatch has its own colour, and the colours stay when the table is re-sorted (the visible set
// is the same).

import { join } from "node:path";
import type { Page } from "@playwright/test";

import { seededServer } from "./harness";
import { expect, test } from "./util";

const FIXTURES = join(import.meta.dirname, "colors_fixtures.py");

interface Seeded {
  entity: string;
  project: string;
  clash: string[];
  slot: number;
  other: string;
}

const backend = seededServer<Seeded>("colors", FIXTURES, { seedTimeoutMs: 120_000 });
let server = "";
let adminKey = "";
let seeded: Seeded;

test.describe.configure({ mode: "serial", timeout: 90_000 });

test.beforeAll(async () => {
  test.setTimeout(180_000);
  ({ url: server, adminKey, seeded } = await backend.start());
});

test.afterAll(async () => {
  await backend.stop();
});

/** Each row's run id and swatch colour, by id. */
async function colors(page: Page): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const row of await page.getByTestId("run-row").all()) {
    const id = await row.getAttribute("data-run-id");
    const color = await row.getByTestId("run-color").getAttribute("data-color");
    if (id !== null && color !== null) out[id] = color;
  }
  return Object.fromEntries(Object.entries(out).sort(([x], [y]) => (x < y ? -1 : 1)));
}

test("runs whose ids hash to one palette entry get distinct colours, kept across a re-sort", async ({ page }) => {
  await page.addInitScript((key: string) => {
    window.localStorage.setItem("fwtrack.apiKey", key);
  }, adminKey);
  await page.goto(`${server}/#/p/${seeded.entity}/${seeded.project}`);
  await expect(page.getByTestId("run-row")).toHaveCount(3);
  const [a = "", b = ""] = seeded.clash;
  const before = await colors(page);
  expect(Object.keys(before).sort()).toEqual([a, b, seeded.other].sort());
  expect(before[a]).not.toBe(before[b]);
  expect(new Set(Object.values(before)).size).toBe(3);

  // re-sorting the table changes the rows' order, not the visible set: the same colours
  await page.locator('[data-testid="runs-table"] th[data-field="name"] button').click();
  await expect(page).toHaveURL(/sort=/);
  await expect.poll(async () => JSON.stringify(await colors(page))).toBe(JSON.stringify(before));
});
