// Artifacts in the dashboard, against a real server of this spec's own seeded through its HTTP
// routes by `artifact_fixtures.py` (dataset -> train -> eval lineage over three runs): the
// project's Artifacts page (types, collections), a collection's versions and the diff of two,
// the version page (files with previews and downloads, digest, metadata, runs, aliases edited
// and moved), the lineage graph (three hops, depth, click to navigate) and the run page's
// Artifacts tab. A `fwtrack ui` over a local registry shows its artifacts read-only.

import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Page } from "@playwright/test";

import { freePort, readState, runPython, startProcess, stopPid, waitHttp } from "./harness";
import { expect, expectAccessible, expectNamedControls, test } from "./util";

const FIXTURES = join(import.meta.dirname, "artifact_fixtures.py");

/** What `artifact_fixtures.py` seeded (its `--out` file). */
interface Seeded {
  entity: string;
  project: string;
  versions: Record<string, { digest: string; size: number; files: number; aliases: string[] }>;
  readme: string;
  csv_rows: number;
  runs: Record<string, string>;
}

let server = "";
/** A `fwtrack ui` over a directory with a run that logged an artifact offline. */
let ui = "";
let seeded: Seeded;
const pids: number[] = [];

test.beforeAll(async () => {
  test.setTimeout(120_000);
  const state = readState();
  const port = await freePort();
  const work = join(state.work, `artifacts-${port}`);
  mkdirSync(work, { recursive: true });
  server = `http://127.0.0.1:${port}`;
  const proc = startProcess(work, "artifacts-server", ["-m", "fwtrack", "server", "--port", String(port), "--data", join(work, "server-data")], {
    FWTRACK_SERVER_ADMIN_KEY: state.adminKey,
  });
  if (proc.pid !== undefined) pids.push(proc.pid);
  await waitHttp(`${server}/api/v1/health`, proc, join(work, "artifacts-server.log"));
  const out = join(work, "artifacts.json");
  await runPython(work, "artifact-fixtures", [FIXTURES, "server", "--url", server, "--key", state.adminKey, "--work", work, "--out", out], {}, 90_000);
  seeded = JSON.parse(readFileSync(out, "utf8")) as Seeded;
  const local = join(work, "local-runs");
  await runPython(work, "artifact-fixtures-local", [FIXTURES, "local", "--dir", local], {}, 90_000);
  const uiPort = await freePort();
  ui = `http://127.0.0.1:${uiPort}`;
  const uiProc = startProcess(work, "artifacts-ui", ["-m", "fwtrack", "ui", "--dir", local, "--port", String(uiPort)]);
  if (uiProc.pid !== undefined) pids.push(uiProc.pid);
  await waitHttp(`${ui}/api/v1/health`, uiProc, join(work, "artifacts-ui.log"));
});

test.afterAll(async () => {
  for (const pid of pids.reverse()) await stopPid(pid);
});

/** This spec's server's URL for a hash route under the seeded project. */
function at(hash: string): string {
  return `${server}/#/p/${seeded.entity}/${seeded.project}${hash}`;
}

function version(page: Page, v: string) {
  return page.locator(`[data-testid="version-row"][data-version="${v}"]`);
}

function aliasesOf(page: Page, v: string) {
  return version(page, v).locator('[data-testid="alias"]');
}

test("the project links to its artifacts: types, then collections, then versions", async ({ admin: page }) => {
  await page.goto(at(""));
  await page.getByTestId("nav-artifacts").click();
  await expect(page.getByTestId("artifacts-page")).toBeVisible();
  await expect(page.getByTestId("nav-artifacts")).toHaveAttribute("aria-current", "page");
  // every type with its counts
  const types = page.getByTestId("artifact-type");
  await expect(types).toHaveCount(4); // all + dataset, evaluation, model
  await expect(page.locator('[data-testid="artifact-type"][data-type="dataset"]')).toContainText("1 · 2 versions");
  await expect(page.getByTestId("collection-row")).toHaveCount(3);
  await expectAccessible(page, "the Artifacts page");
  await expectNamedControls(page, "the Artifacts page");

  // one type: its collections, sizes human-readable
  await page.locator('[data-testid="artifact-type"][data-type="dataset"]').click();
  await expect(page).toHaveURL(/type=dataset/);
  const rows = page.getByTestId("collection-row");
  await expect(rows).toHaveCount(1);
  const data = rows.first();
  await expect(data).toHaveAttribute("data-name", "mnist-data");
  await expect(data).toContainText("1.5 KB"); // 1,581 bytes in the latest version
  await expect(data).toContainText("stable → v0");
  await expect(data.getByTestId("version-link")).toHaveText("mnist-data:v1");

  // the collection: its versions, newest first, with aliases, sizes, creator and run
  await data.getByTestId("collection-link").click();
  await expect(page.getByTestId("collection-page")).toHaveAttribute("data-name", "mnist-data");
  await expect(page.getByTestId("version-row")).toHaveCount(2);
  expect(await page.getByTestId("version-row").evaluateAll((els) => els.map((e) => e.getAttribute("data-version")))).toEqual(["v1", "v0"]);
  await expect(aliasesOf(page, "v1")).toHaveText(["latest"]);
  await expect(aliasesOf(page, "v0")).toHaveText(["stable"]);
  await expect(version(page, "v0")).toContainText("842 B");
  await expect(version(page, "v1")).toContainText("admin");
  await expect(version(page, "v1").getByTestId("artifact-run-link")).toHaveAttribute("href", `#/p/${seeded.entity}/${seeded.project}/r/prep`);
  await expectAccessible(page, "a collection page");
  await expectNamedControls(page, "a collection page");

  // a version
  await version(page, "v1").getByTestId("version-link").click();
  await expect(page.getByTestId("version-page")).toHaveAttribute("data-version", "mnist-data:v1");
  await expect(page.getByTestId("breadcrumbs")).toContainText("Artifacts");
  await expect(page.getByTestId("breadcrumbs")).toContainText("mnist-data");
});

test("the version page browses the files, previews text, JSON, CSV and images, and downloads", async ({ admin: page, state }) => {
  await page.goto(at("/artifacts/mnist-data/v1"));
  const files = page.getByTestId("artifact-files");
  await expect(files).toBeVisible();
  expect(await page.getByTestId("artifact-dir").evaluateAll((els) => els.map((e) => e.getAttribute("data-name")))).toEqual(["images", "labels"]);
  expect(await page.getByTestId("artifact-file").evaluateAll((els) => els.map((e) => e.getAttribute("data-path")))).toEqual(["README.md", "stats.json", "train.csv"]);
  const file = (path: string) => page.locator(`[data-testid="artifact-file"][data-path="${path}"]`);

  // text
  await file("README.md").getByTestId("artifact-file-open").click();
  const preview = page.getByTestId("file-preview");
  await expect(preview).toHaveAttribute("data-kind", "text");
  await expect(preview.getByTestId("file-text")).toHaveText(seeded.readme.trimEnd());
  // JSON, indented
  await file("stats.json").getByTestId("artifact-file-open").click();
  await expect(preview).toHaveAttribute("data-kind", "json");
  await expect(preview.getByTestId("file-text")).toContainText('"rows": 5');
  // CSV as a table (a quoted field with commas stays one cell)
  await file("train.csv").getByTestId("artifact-file-open").click();
  await expect(preview).toHaveAttribute("data-kind", "csv");
  const csv = preview.getByTestId("file-csv");
  await expect(csv).toHaveAttribute("data-rows", String(seeded.csv_rows));
  await expect(csv.locator("th")).toHaveText(["id", "label", "pixels"]);
  await expect(csv.locator("tbody tr").nth(2).locator("td").nth(2)).toHaveText("2, 3, 4");
  await expect(page).toHaveURL(/file=train\.csv/);
  await expectAccessible(page, "the version page's files");
  await expectNamedControls(page, "the version page's files");

  // into a folder: breadcrumbs, an image
  await page.locator('[data-testid="artifact-dir"][data-name="images"]').getByTestId("artifact-dir-open").click();
  await expect(files).toHaveAttribute("data-prefix", "images/");
  await expect(page.getByTestId("file-crumbs")).toContainText("images");
  await file("images/digit-1.png").getByTestId("artifact-file-open").click();
  const img = preview.getByTestId("file-image");
  await expect(img).toBeVisible();
  await expect.poll(() => img.evaluate((el) => (el as HTMLImageElement).naturalWidth)).toBe(24);
  // back to the top through the breadcrumbs
  await page.locator('[data-testid="file-crumb"][data-prefix=""]').click();
  await expect(files).toHaveAttribute("data-prefix", "");

  // a download link is the file's URL: it answers the bytes, and clicking it saves them
  const link = file("README.md").getByTestId("artifact-file-download");
  const href = await link.getAttribute("href");
  expect(href).toBe("/api/v1/artifacts/admin/artifacts/collections/mnist-data/versions/v1/files/README.md");
  const resp = await page.request.get(`${server}${href ?? ""}`, { headers: { Authorization: `Bearer ${state.adminKey}` } });
  expect(resp.status()).toBe(200);
  expect(await resp.text()).toBe(seeded.readme);
  const [download] = await Promise.all([page.waitForEvent("download"), link.click()]);
  expect(download.suggestedFilename()).toBe("README.md");
  expect(readFileSync(await download.path(), "utf8")).toBe(seeded.readme);
});

test("the version page shows digest, metadata and runs; an alias added here moves from the other version", async ({ admin: page, state }) => {
  const v1 = seeded.versions["mnist-data:v1"];
  await page.goto(at("/artifacts/mnist-data/v1"));
  await expect(page.getByTestId("version-digest")).toContainText(v1?.digest ?? "missing");
  await expect(page.getByTestId("version-size")).toContainText("1.5 KB");
  await expect(page.getByTestId("version-size")).toContainText("6 files");
  await expect(page.getByTestId("version-created-by")).toHaveText(/admin/);
  await expect(page.getByTestId("version-run").getByTestId("artifact-run-link")).toHaveText("prep");

  await page.getByTestId("tab-metadata").click();
  const meta = page.getByTestId("artifact-metadata");
  await expect(meta.locator('[data-testid="kv-row"][data-key="rows"]')).toContainText("5");
  await expect(meta.locator('[data-testid="kv-row"][data-key="split"]')).toContainText("train");

  await page.getByTestId("tab-runs").click();
  await expect(page.getByTestId("logged-by").getByTestId("artifact-run-link")).toHaveAttribute("data-run-id", "prep");
  const used = page.getByTestId("used-by-row");
  await expect(used).toHaveCount(1);
  await expect(used.first()).toHaveAttribute("data-run-id", "train");
  await expect(used.first()).toContainText(seeded.runs.train ?? "train-model");
  await expectAccessible(page, "the version page's runs");

  // aliases: `stable` is on v0; setting it here moves it
  const editor = page.getByTestId("alias-editor");
  await expect(editor).toHaveAttribute("data-readonly", "false");
  await expect(editor.getByTestId("alias")).toHaveText(["latest"]);
  await editor.getByTestId("alias-input").fill("stable");
  await editor.getByTestId("alias-input").press("Enter");
  await expect(editor.locator('[data-testid="alias"][data-alias="stable"]')).toBeVisible();
  await expect(editor.getByTestId("alias-input")).toHaveValue("");
  // a name the server refuses is refused here, named
  await editor.getByTestId("alias-input").fill("v7");
  await editor.getByTestId("alias-input").press("Enter");
  await expect(page.getByTestId("alias-error")).toContainText("version number");

  // the description is edited in place too
  await page.getByRole("button", { name: "Edit description" }).click();
  await page.getByRole("textbox", { name: "Description" }).fill("Digits, five rows");
  await page.getByRole("button", { name: "Save" }).click();
  await expect(page.getByTestId("version-description-value")).toHaveText("Digits, five rows");

  await page.getByTestId("all-versions").click();
  await expect(aliasesOf(page, "v1")).toHaveText(["latest", "stable"]);
  await expect(aliasesOf(page, "v0")).toHaveCount(0);
  const resp = await page.request.get(`${server}/api/v1/artifacts/admin/artifacts/collections/mnist-data/versions/stable`, { headers: { Authorization: `Bearer ${state.adminKey}` } });
  expect(((await resp.json()) as { version: string }).version).toBe("v1");
  // and back, from v0's page: the alias leaves v1 again
  await page.goto(at("/artifacts/mnist-data/v0"));
  await page.getByTestId("alias-editor").getByTestId("alias-input").fill("stable");
  await page.getByTestId("alias-editor").getByTestId("alias-input").press("Enter");
  await expect(page.getByTestId("alias-editor").locator('[data-alias="stable"]')).toBeVisible();
  await page.goto(at("/artifacts/mnist-data"));
  await expect(aliasesOf(page, "v0")).toHaveText(["stable"]);
  await expect(aliasesOf(page, "v1")).toHaveText(["latest"]);
});

test("the lineage graph spans three hops in columns, its depth is chosen, and its nodes navigate", async ({ admin: page }) => {
  await page.goto(at("/artifacts/mnist-data/v1?tab=lineage&depth=3"));
  const graph = page.getByTestId("lineage-graph");
  await expect(graph).toBeVisible();
  const node = (id: string) => page.locator(`[data-testid="lineage-node"][data-id="${id}"]`);
  const p = seeded.project;
  const e = seeded.entity;
  // dataset run -> the version -> train -> model -> eval: three hops downstream
  for (const id of [`run:${e}/${p}/prep`, `artifact:${p}/mnist-data:v1`, `run:${e}/${p}/train`, `artifact:${p}/mnist-model:v0`, `run:${e}/${p}/eval`]) await expect(node(id)).toHaveCount(1);
  await expect(node(`artifact:${p}/mnist-data:v1`)).toHaveAttribute("data-start", "true");
  const layer = async (id: string): Promise<number> => Number(await node(id).getAttribute("data-layer"));
  const layers = await Promise.all([`run:${e}/${p}/prep`, `artifact:${p}/mnist-data:v1`, `run:${e}/${p}/train`, `artifact:${p}/mnist-model:v0`, `run:${e}/${p}/eval`].map(layer));
  expect(layers).toEqual([0, 1, 2, 3, 4]);
  expect(Number(await graph.getAttribute("data-edges"))).toBeGreaterThanOrEqual(4);
  await expectAccessible(page, "the lineage graph");
  await expectNamedControls(page, "the lineage graph");

  // one hop: the eval run is out of reach
  await page.getByTestId("lineage-depth").selectOption("1");
  await expect(page).toHaveURL(/depth=1/);
  await expect(node(`run:${e}/${p}/train`)).toHaveCount(1);
  await expect(node(`run:${e}/${p}/eval`)).toHaveCount(0);

  // a version node opens that version's lineage; a run node opens the run
  await page.getByTestId("lineage-depth").selectOption("3");
  await node(`artifact:${p}/mnist-model:v0`).click();
  await expect(page.getByTestId("version-page")).toHaveAttribute("data-version", "mnist-model:v0");
  await expect(node(`artifact:${p}/mnist-model:v0`)).toHaveAttribute("data-start", "true");
  await expect(node(`artifact:${p}/eval-report:v0`)).toHaveCount(1);
  await node(`run:${e}/${p}/eval`).click();
  await expect(page.getByTestId("run-page")).toHaveAttribute("data-run-id", "eval");
});

test("the diff of two versions lists the files added, removed and changed, and the metadata", async ({ admin: page }) => {
  await page.goto(at("/artifacts/mnist-data"));
  await expect(page.getByTestId("diff-hint")).toBeVisible();
  await version(page, "v0").getByTestId("pick-a").check();
  await version(page, "v1").getByTestId("pick-b").check();
  await expect(page).toHaveURL(/a=v0&b=v1/);
  const diff = page.getByTestId("artifact-diff");
  await expect(diff).toBeVisible();
  const rows = async (change: string): Promise<string[]> =>
    (await diff.locator(`[data-testid="diff-row"][data-change="${change}"]`).evaluateAll((els) => els.map((el) => el.getAttribute("data-path") ?? ""))).sort();
  expect(await rows("added")).toEqual(["images/digit-1.png", "labels/classes.json"]);
  expect(await rows("removed")).toEqual(["old.txt"]);
  expect(await rows("changed")).toEqual(["stats.json", "train.csv"]);
  await expect(diff.getByTestId("diff-summary")).toHaveAttribute("data-unchanged", "2");
  const meta = (key: string) => diff.locator(`[data-testid="diff-meta-row"][data-key="${key}"]`);
  await expect(meta("rows")).toHaveAttribute("data-change", "changed");
  await expect(meta("rows").locator("td").nth(2)).toHaveText("3");
  await expect(meta("rows").locator("td").nth(3)).toHaveText("5");
  await expect(meta("split")).toHaveAttribute("data-change", "added");
  await expect(meta("source")).toHaveCount(0);
  await expectAccessible(page, "a diff of two versions");
  await expectNamedControls(page, "a diff of two versions");
  // the version page offers the diff with the version before
  await page.goto(at("/artifacts/mnist-data/v1"));
  await page.getByTestId("compare-previous").click();
  await expect(page.getByTestId("artifact-diff")).toBeVisible();
  await expect(page.getByTestId("diff-summary")).toHaveAttribute("data-added", "2");
});

test("the run page's Artifacts tab lists what the run logged and used", async ({ admin: page }) => {
  await page.goto(at("/r/train"));
  await page.getByTestId("tab-artifacts").click();
  await expect(page).toHaveURL(/tab=artifacts/);
  const logged = page.getByTestId("run-artifacts-logged").getByTestId("run-artifact");
  const used = page.getByTestId("run-artifacts-used").getByTestId("run-artifact");
  await expect(logged).toHaveCount(1);
  await expect(logged.first()).toHaveAttribute("data-version", "mnist-model:v0");
  await expect(logged.first()).toContainText("candidate");
  await expect(used).toHaveCount(1);
  await expect(used.first()).toHaveAttribute("data-version", "mnist-data:v1");
  await expectAccessible(page, "the run page's Artifacts tab");
  await expectNamedControls(page, "the run page's Artifacts tab");
  await used.first().getByTestId("version-link").click();
  await expect(page.getByTestId("version-page")).toHaveAttribute("data-version", "mnist-data:v1");
  // the eval run used the model and logged the report
  await page.goto(at("/r/eval?tab=artifacts"));
  await expect(page.getByTestId("run-artifacts-used").getByTestId("run-artifact").first()).toHaveAttribute("data-version", "mnist-model:v0");
  await expect(page.getByTestId("run-artifacts-logged").getByTestId("run-artifact").first()).toHaveAttribute("data-version", "eval-report:v0");
});

test("the local dashboard (fwtrack ui) shows a local registry's artifacts read-only", async ({ page }) => {
  await page.goto(`${ui}/#/p/local/local-art/artifacts`);
  // the ui indexes in the background: wait for the collection
  await expect(async () => {
    await page.reload();
    await expect(page.locator('[data-testid="collection-row"][data-name="notes"]')).toBeVisible({ timeout: 1000 });
  }).toPass({ timeout: 30_000 });
  await page.locator('[data-testid="collection-row"][data-name="notes"]').getByTestId("version-link").click();
  await expect(page.getByTestId("version-page")).toHaveAttribute("data-version", "notes:v0");
  const editor = page.getByTestId("alias-editor");
  await expect(editor).toHaveAttribute("data-readonly", "true");
  await expect(editor.getByTestId("alias")).toHaveText(["best", "latest"]);
  await expect(editor.getByTestId("alias-input")).toHaveCount(0);
  await expect(page.getByTestId("version-description").getByRole("button")).toHaveCount(0);
  // its file is served from the local registry
  await page.getByTestId("artifact-file-open").first().click();
  await expect(page.getByTestId("file-text")).toHaveText("kept on this machine");
  await expectAccessible(page, "a version on the local dashboard");
});
