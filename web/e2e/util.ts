// Shared pieces of the browser tests: the state from global setup, signed-in pages, axe checks.

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { test as base, expect, type Locator, type Page } from "@playwright/test";

import { readState, type State } from "./harness";

const require = createRequire(import.meta.url);
const AXE_SOURCE = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

export interface Fixtures {
  state: State;
  /** A page on the server's dashboard, signed in as the admin. */
  admin: Page;
}

export const test = base.extend<Fixtures>({
  // eslint-disable-next-line no-empty-pattern
  state: async ({}, use) => {
    await use(readState());
  },
  admin: async ({ page, state }, use) => {
    await page.addInitScript((key: string) => {
      window.localStorage.setItem("fwtrack.apiKey", key);
    }, state.adminKey);
    await use(page);
  },
});

export { expect };

/** The server's URL for a hash route (`/#/p/admin/e2e`). */
export function at(state: State, hash: string, on: "server" | "ui" = "server"): string {
  return `${on === "server" ? state.server : state.ui}/#${hash}`;
}

/** The chart panel of a metric key. */
export function chart(page: Page, key: string): Locator {
  return page.locator(`[data-testid="chart-panel"][data-key="${key}"]`);
}

/** The number of points a chart says it draws (its `data-points`). */
export async function pointsOf(panel: Locator): Promise<number> {
  const raw = await panel.getAttribute("data-points");
  return raw === null ? NaN : Number(raw);
}

/** Sum of the points logged for `key` over the given runs. */
export function logged(points: Record<string, Record<string, number>>, key: string, runs: readonly string[]): number {
  return runs.reduce((n, r) => n + (points[r]?.[key] ?? 0), 0);
}

interface AxeResult {
  violations: { id: string; impact: string | null; help: string; nodes: { target: string[]; failureSummary?: string }[] }[];
}

/** Run axe-core on the page for the rules the dashboard promises; fail listing violations. */
export async function expectAccessible(page: Page, what: string): Promise<void> {
  const loaded = await page.evaluate(() => "axe" in window);
  // evaluated, not added as an inline <script>: the dashboard's Content-Security-Policy forbids those
  if (!loaded) await page.evaluate(AXE_SOURCE);
  const result = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run: (ctx: Document, opts: unknown) => Promise<unknown> } }).axe;
    return axe.run(document, {
      runOnly: { type: "rule", values: ["color-contrast", "label", "button-name", "link-name", "select-name", "input-button-name", "aria-input-field-name", "aria-toggle-field-name"] },
      resultTypes: ["violations"],
    });
  });
  const violations = (result as AxeResult).violations.map(
    (v) => `${v.id} (${v.impact ?? "?"}): ${v.help}\n` + v.nodes.slice(0, 5).map((n) => `    ${n.target.join(" ")}: ${n.failureSummary ?? ""}`.replace(/\n/g, " ")).join("\n"),
  );
  // soft: every page of a test is checked, and all of their violations are reported
  expect.soft(violations, `accessibility violations on ${what}`).toEqual([]);
}

/** Every interactive control in view has an accessible name. */
export async function expectNamedControls(page: Page, what: string): Promise<void> {
  const unnamed = await page.evaluate(() => {
    const out: string[] = [];
    const controls = document.querySelectorAll<HTMLElement>(
      'button, a[href], input:not([type="hidden"]), select, textarea, [role="button"], [role="link"], [role="checkbox"], [role="tab"], [role="menuitem"], [tabindex]:not([tabindex="-1"])',
    );
    for (const el of controls) {
      if (el.closest("[hidden], [aria-hidden='true']")) continue;
      const style = window.getComputedStyle(el);
      if (style.display === "none" || style.visibility === "hidden") continue;
      const labelledBy = el.getAttribute("aria-labelledby");
      const byRef = labelledBy !== null && labelledBy.split(/\s+/).some((id) => (document.getElementById(id)?.textContent ?? "").trim() !== "");
      const labels = "labels" in el ? (el as HTMLInputElement).labels : null;
      const byLabel = labels !== null && Array.from(labels).some((l) => l.textContent.trim() !== "");
      const name = [el.getAttribute("aria-label"), el.getAttribute("title"), el.textContent, el.getAttribute("placeholder")].map((s) => (s ?? "").trim()).find((s) => s !== "") ?? "";
      const img = el.querySelector("img[alt]")?.getAttribute("alt")?.trim() ?? "";
      if (!byRef && !byLabel && name === "" && img === "") out.push(el.outerHTML.slice(0, 160));
    }
    return out;
  });
  expect.soft(unnamed, `controls without an accessible name on ${what}`).toEqual([]);
}
