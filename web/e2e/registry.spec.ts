// The model registry in the dashboard, against a real server of this spec's own seeded by
// `registry_fixtures.py` (real runs logged online through the Python API, their model artifacts
// linked to `ml/mnist-cnn` through the registry routes): the models of an entity, a model's
// versions, aliases and stages, a promotion confirmed with the version it replaces, a demotion,
// a protected alias refused to a plain member, the audit trail, a version's card, and a
// webhook pointed at a real receiver, tested, its delivered ping in the delivery log. A
// `fwtrack ui` over a directory whose offline run linked a model shows its registry read-only.

import { createHmac } from "node:crypto";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Locator, Page } from "@playwright/test";

import { freePort, readState, runPython, startProcess, stopPid, waitFor, waitHttp } from "./harness";
import { expect, expectAccessible, expectNamedControls, test } from "./util";

const FIXTURES = join(import.meta.dirname, "registry_fixtures.py");

/** What `registry_fixtures.py` seeded (its `--out` file). */
interface Seeded {
  entity: string;
  project: string;
  model: string;
  versions: Record<string, { run: string; name: string; artifact: string }>;
  metrics: Record<string, Record<string, number>>;
  dataset: string;
  bob: { name: string; api_key: string };
}

interface Received {
  path: string;
  headers: Record<string, string>;
  body: string;
}

let server = "";
let seeded: Seeded;
/** The webhook receiver's URL and the file it logs each request to. */
let receiver = "";
let receiverLog = "";
/** A `fwtrack ui` over a directory with a model linked offline. */
let ui = "";
const pids: number[] = [];

test.describe.configure({ mode: "serial" });

test.beforeAll(async () => {
  test.setTimeout(180_000);
  const state = readState();
  const port = await freePort();
  const work = join(state.work, `registry-${port}`);
  mkdirSync(work, { recursive: true });
  server = `http://127.0.0.1:${port}`;
  const proc = startProcess(work, "registry-server", ["-m", "fwtrack", "server", "--port", String(port), "--data", join(work, "server-data")], {
    FWTRACK_SERVER_ADMIN_KEY: state.adminKey,
    FWTRACK_WEBHOOK_RETRY_BASE: "1",
  });
  if (proc.pid !== undefined) pids.push(proc.pid);
  await waitHttp(`${server}/api/v1/health`, proc, join(work, "registry-server.log"));

  const portFile = join(work, "receiver.port");
  receiverLog = join(work, "received.jsonl");
  const recv = startProcess(work, "receiver", [FIXTURES, "receiver", "--port-file", portFile, "--log", receiverLog]);
  if (recv.pid !== undefined) pids.push(recv.pid);

  const out = join(work, "registry.json");
  await runPython(work, "registry-fixtures", [FIXTURES, "server", "--url", server, "--key", state.adminKey, "--work", work, "--out", out], {}, 150_000);
  seeded = JSON.parse(readFileSync(out, "utf8")) as Seeded;
  await waitFor("the webhook receiver to listen", () => Promise.resolve(existsSync(portFile)));
  receiver = `http://127.0.0.1:${readFileSync(portFile, "utf8").trim()}/hooks/fwtrack`;

  const local = join(work, "local-runs");
  await runPython(work, "registry-fixtures-local", [FIXTURES, "local", "--dir", local], {}, 90_000);
  const uiPort = await freePort();
  ui = `http://127.0.0.1:${uiPort}`;
  const uiProc = startProcess(work, "registry-ui", ["-m", "fwtrack", "ui", "--dir", local, "--port", String(uiPort)]);
  if (uiProc.pid !== undefined) pids.push(uiProc.pid);
  await waitHttp(`${ui}/api/v1/health`, uiProc, join(work, "registry-ui.log"));
});

test.afterAll(async () => {
  for (const pid of pids.reverse()) await stopPid(pid);
});

function at(hash: string): string {
  return `${server}/#${hash}`;
}

function modelAt(suffix = ""): string {
  return at(`/registry/${seeded.entity}/models/${seeded.model}${suffix}`);
}

function versionRow(page: Page, v: string) {
  return page.locator(`[data-testid="model-version-row"][data-version="${v}"]`);
}

/** The aliases shown in a row (their `data-alias`, as shown: stages first, `latest` last). */
function aliasesOf(row: Locator): Promise<(string | null)[]> {
  return row.locator('[data-testid="alias"]').evaluateAll((els) => els.map((e) => e.getAttribute("data-alias")));
}

function stage(page: Page, s: string) {
  return page.locator(`[data-testid="stage-card"][data-stage="${s}"]`);
}

/** The model's aliases as the server has them now. */
async function aliasesNow(key: string): Promise<Record<string, string>> {
  const r = await fetch(`${server}/api/v1/registry/${seeded.entity}/models/${seeded.model}`, { headers: { Authorization: `Bearer ${key}` } });
  expect(r.status).toBe(200);
  return ((await r.json()) as { aliases: Record<string, string> }).aliases;
}

async function auditCount(key: string): Promise<number> {
  const r = await fetch(`${server}/api/v1/registry/${seeded.entity}/models/${seeded.model}/audit`, { headers: { Authorization: `Bearer ${key}` } });
  expect(r.status).toBe(200);
  return ((await r.json()) as unknown[]).length;
}

/** Pick `alias` in the promote control of `version`'s row and press Promote. */
async function promote(page: Page, version: string, alias: string): Promise<void> {
  const row = versionRow(page, version);
  await row.getByTestId("promote-target").selectOption(alias);
  await row.getByTestId("promote").click();
  await expect(page.getByTestId("confirm-dialog")).toBeVisible();
}

test("a project links to its entity's registry: the models, their stages, a tag filter", async ({ admin: page }) => {
  await page.goto(at(`/p/${seeded.entity}/${seeded.project}`));
  await page.getByTestId("nav-registry").click();
  await expect(page.getByTestId("registry-page")).toHaveAttribute("data-entity", seeded.entity);
  await expect(page.getByTestId("registry-nav-models")).toHaveAttribute("aria-current", "page");
  const rows = page.getByTestId("model-row");
  await expect(rows).toHaveCount(2);
  expect(await rows.evaluateAll((els) => els.map((e) => e.getAttribute("data-name")))).toEqual(["mnist-cnn", "text-clf"]);
  const cnn = page.locator('[data-testid="model-row"][data-name="mnist-cnn"]');
  await expect(cnn).toContainText("3");
  await expect(cnn.getByTestId("model-version-link")).toHaveText("mnist-cnn:v2");
  await expect(cnn.locator('[data-testid="model-stage"][data-stage="production"]')).toHaveAttribute("data-version", "v0");
  await expect(cnn.locator('[data-testid="model-stage"][data-stage="staging"]')).toHaveAttribute("data-version", "v1");
  await expect(cnn.locator('[data-testid="alias"][data-alias="production"]')).toHaveAttribute("data-protected", "true");
  await expectAccessible(page, "the models of an entity");
  await expectNamedControls(page, "the models of an entity");

  // a tag narrows the list (the server's filter), and "Show all" widens it again
  await page.locator('[data-testid="model-row"][data-name="text-clf"]').getByTestId("tag").click();
  await expect(page).toHaveURL(/tag=nlp/);
  await expect(rows).toHaveCount(1);
  await expect(rows.first()).toHaveAttribute("data-name", "text-clf");
  await page.getByTestId("tag-filter").getByRole("button", { name: "Show all" }).click();
  await expect(rows).toHaveCount(2);

  await cnn.getByTestId("model-link").click();
  await expect(page.getByTestId("model-page")).toHaveAttribute("data-name", "mnist-cnn");
  await expect(page.getByTestId("breadcrumbs")).toContainText(`${seeded.entity} registry`);
});

test("the model page shows versions with their aliases, the stages, and the protected alias locked", async ({ admin: page }) => {
  await page.goto(modelAt());
  await expect(page.getByTestId("model-description-value")).toHaveText("Digit classifier (a small CNN)");
  await expect(page.getByTestId("model-version-row")).toHaveCount(3);
  expect(await page.getByTestId("model-version-row").evaluateAll((els) => els.map((e) => e.getAttribute("data-version")))).toEqual(["v2", "v1", "v0"]);
  await expect.poll(() => aliasesOf(versionRow(page, "v2"))).toEqual(["latest"]);
  await expect.poll(() => aliasesOf(versionRow(page, "v1"))).toEqual(["staging"]);
  await expect.poll(() => aliasesOf(versionRow(page, "v0"))).toEqual(["production"]);
  await expect(versionRow(page, "v0").locator('[data-testid="alias"][data-alias="production"]').getByTestId("alias-lock")).toBeVisible();
  // each version names its artifact version and the run that logged it
  await expect(versionRow(page, "v0").getByTestId("version-link")).toHaveText("cnn-weights:v0");
  await expect(versionRow(page, "v0").getByTestId("artifact-run-link")).toHaveAttribute("data-run-id", "train-a");

  await expect(stage(page, "production")).toHaveAttribute("data-version", "v0");
  await expect(stage(page, "production")).toHaveAttribute("data-protected", "true");
  await expect(stage(page, "staging")).toHaveAttribute("data-version", "v1");
  await expect(stage(page, "archived")).toHaveAttribute("data-version", "");
  await expect(stage(page, "archived")).toContainText("no version");

  await page.getByTestId("tab-aliases").click();
  await expect(page.locator('[data-testid="alias-row"][data-alias="production"]')).toHaveAttribute("data-protected", "true");
  await expect(page.locator('[data-testid="alias-row"][data-alias="staging"]')).toHaveAttribute("data-protected", "false");
  await expectAccessible(page, "a model page");
  await expectNamedControls(page, "a model page");
});

test("a promotion names the version it replaces, then moves the alias; a demotion takes it off; the audit trail lists both", async ({ admin: page, state }) => {
  await page.goto(modelAt());
  await promote(page, "v2", "staging");
  const dialog = page.getByTestId("confirm-dialog");
  await expect(dialog).toContainText("Promote v2 to staging?");
  await expect(dialog.getByTestId("confirm-replaces")).toHaveAttribute("data-from", "v1");
  await expect(dialog.getByTestId("confirm-replaces")).toHaveText("staging now names v1; v2 replaces v1 as staging.");
  await expectAccessible(page, "the promotion confirmation");
  // cancelling changes nothing
  await dialog.getByTestId("confirm-cancel").click();
  await expect(dialog).toHaveCount(0);
  expect((await aliasesNow(state.adminKey)).staging).toBe("v1");

  await promote(page, "v2", "staging");
  await page.getByTestId("confirm-ok").click();
  await expect(page.getByTestId("confirm-dialog")).toHaveCount(0);
  await expect(page.getByTestId("move-notice")).toHaveText("staging now names v2.");
  await expect(stage(page, "staging")).toHaveAttribute("data-version", "v2");
  await expect(versionRow(page, "v2").locator('[data-testid="alias"][data-alias="staging"]')).toBeVisible();
  await expect(versionRow(page, "v1").getByTestId("alias")).toHaveCount(0);
  expect((await aliasesNow(state.adminKey)).staging).toBe("v2");

  // the admin may move the protected alias: the confirmation says it is protected
  await promote(page, "v1", "production");
  await expect(page.getByTestId("confirm-replaces")).toHaveText("production now names v0; v1 replaces v0 as production.");
  await expect(page.getByTestId("confirm-dialog")).toContainText("production is protected");
  await page.getByTestId("confirm-ok").click();
  await expect(stage(page, "production")).toHaveAttribute("data-version", "v1");

  // demote: staging leaves v2
  await stage(page, "staging").getByTestId("demote").click();
  await expect(page.getByTestId("confirm-dialog")).toContainText("Demote v2 from staging?");
  await expect(page.getByTestId("confirm-replaces")).toHaveAttribute("data-from", "v2");
  await page.getByTestId("confirm-ok").click();
  await expect(stage(page, "staging")).toHaveAttribute("data-version", "");
  await expect.poll(() => aliasesOf(versionRow(page, "v2"))).toEqual(["latest"]);
  expect((await aliasesNow(state.adminKey)).staging).toBeUndefined();

  // the audit trail: newest first, the three moves over the links
  await page.getByTestId("tab-audit").click();
  await expect(page).toHaveURL(/tab=audit/);
  const rows = page.getByTestId("audit-row");
  await expect(rows.first()).toHaveAttribute("data-action", "alias.remove");
  await expect(rows.nth(0)).toHaveAttribute("data-alias", "staging");
  await expect(rows.nth(0)).toHaveAttribute("data-from", "v2");
  await expect(rows.nth(0)).toContainText("staging removed from v2");
  await expect(rows.nth(1)).toHaveAttribute("data-action", "alias.set");
  await expect(rows.nth(1)).toContainText("production moved v0 → v1");
  await expect(rows.nth(2)).toContainText("staging moved v1 → v2");
  await expect(rows.nth(2)).toContainText("admin");
  await expect(page.locator('[data-testid="audit-row"][data-action="link"]')).toHaveCount(3);
  await expectAccessible(page, "the audit trail");
});

test("a plain member of the team cannot move the protected alias: the refusal is shown, nothing changes", async ({ page, state }) => {
  await page.addInitScript((key: string) => {
    window.localStorage.setItem("fwtrack.apiKey", key);
  }, seeded.bob.api_key);
  const before = await aliasesNow(state.adminKey);
  const entries = await auditCount(state.adminKey);
  await page.goto(modelAt());
  await expect(page.getByTestId("viewer-name")).toHaveText("bob");
  await promote(page, "v2", "production");
  await expect(page.getByTestId("confirm-replaces")).toHaveAttribute("data-from", before.production ?? "");
  await page.getByTestId("confirm-ok").click();
  const error = page.getByTestId("confirm-dialog").getByRole("alert");
  await expect(error).toContainText("production");
  await expect(error).not.toContainText("403");
  await expect(page.getByTestId("confirm-dialog")).toBeVisible();
  await expectAccessible(page, "a refused promotion");
  await page.getByTestId("confirm-cancel").click();
  await expect(stage(page, "production")).toHaveAttribute("data-version", before.production ?? "");
  expect(await aliasesNow(state.adminKey)).toEqual(before);
  expect(await auditCount(state.adminKey)).toBe(entries);

  // an unprotected alias is theirs to move
  await promote(page, "v0", "archived");
  await expect(page.getByTestId("confirm-replaces")).toHaveText("archived names no version yet; it will name v0.");
  await page.getByTestId("confirm-ok").click();
  await expect(stage(page, "archived")).toHaveAttribute("data-version", "v0");

  // the webhooks are the entity admins': the refusal is shown in words
  await page.getByTestId("registry-nav-webhooks").click();
  await expect(page.getByTestId("error")).toContainText("Cannot load the webhooks");
  await expect(page.getByTestId("error")).toContainText("admin");
  await expect(page.getByTestId("webhooks-table")).toHaveCount(0);
});

test("a version's card: training run, data, evaluation, metrics, lineage", async ({ admin: page }) => {
  const v0 = seeded.versions.v0;
  if (v0 === undefined) throw new Error("the fixture linked no v0");
  await page.goto(modelAt());
  await versionRow(page, "v0").getByTestId("model-version-link").click();
  const card = page.getByTestId("model-version-page");
  await expect(card).toHaveAttribute("data-version", "mnist-cnn:v0");
  await expect(page.getByTestId("card-description")).toHaveText("Digit classifier (a small CNN)");
  expect((await page.getByTestId("card-tags").getByTestId("tag").allTextContents()).sort()).toEqual(["mnist", "vision"]);
  await expect(page.getByTestId("card-artifact").getByTestId("version-link")).toHaveText("cnn-weights:v0");
  await expect(page.getByTestId("card-metadata").locator('[data-testid="kv-row"][data-key="lr"]')).toContainText("0.01");
  // the data the run used
  await expect(page.getByTestId("card-dataset")).toHaveCount(1);
  await expect(page.getByTestId("card-dataset")).toHaveAttribute("data-version", seeded.dataset);
  // its evaluation: the run's numeric summary
  const metrics = seeded.metrics[v0.run] ?? {};
  await expect(page.locator('[data-testid="card-metric"][data-key="eval/acc"]')).toContainText(String(Number((metrics["eval/acc"] ?? NaN).toPrecision(4))));
  await expect(page.locator('[data-testid="card-metric"][data-key="train/loss"]')).toBeVisible();
  // a few of its metrics charted
  const chart = page.locator('[data-testid="card-charts"] [data-testid="chart-panel"][data-key="eval/acc"]');
  await chart.scrollIntoViewIfNeeded();
  await expect(chart).toHaveAttribute("data-state", "ready");
  await expect(chart).toHaveAttribute("data-points", "4");
  await expect(page.locator('[data-testid="card-charts"] [data-testid="chart-panel"][data-key="train/loss"]')).toHaveCount(1);
  // the lineage of the artifact version: digits -> train-a -> cnn-weights:v0
  const graph = page.getByTestId("lineage-graph");
  await graph.scrollIntoViewIfNeeded();
  await expect(graph.locator('[data-testid="lineage-node"][data-start="true"]')).toHaveAttribute("data-id", `artifact:${seeded.project}/cnn-weights:v0`);
  await expect(graph.locator('[data-testid="lineage-node"][data-kind="run"]').first()).toBeVisible();
  await expect(graph.locator(`[data-testid="lineage-node"][data-id="artifact:${seeded.project}/${seeded.dataset}"]`)).toHaveCount(1);
  await expectAccessible(page, "a model version's card");
  await expectNamedControls(page, "a model version's card");

  // the training run link goes to the run
  await page.getByTestId("card-run-link").click();
  await expect(page.getByTestId("run-page")).toHaveAttribute("data-run-id", v0.run);
  await expect(page).toHaveURL(new RegExp(`#/p/${seeded.entity}/${seeded.project}/r/${v0.run}`));
});

test("a webhook pointed at a real receiver: add, test, the delivered ping in the log, delete", async ({ admin: page }) => {
  test.setTimeout(150_000);
  await page.goto(at(`/registry/${seeded.entity}`));
  await page.getByTestId("registry-nav-webhooks").click();
  await expect(page.getByTestId("webhooks-page")).toBeVisible();
  await expect(page.getByTestId("empty")).toContainText("No webhooks");
  // a URL that is not http(s) is refused before asking the server
  await page.getByTestId("webhook-url").fill("ftp://example.com/x");
  await page.getByTestId("webhook-add").click();
  await expect(page.getByTestId("webhook-error")).toContainText("http:// or https://");

  await page.getByTestId("webhook-url").fill(receiver);
  await page.getByTestId("webhook-description").fill("the e2e receiver");
  await page.getByTestId("webhook-add").click();
  await expect(page.getByTestId("webhook-secret-value")).not.toHaveValue("");
  const secret = await page.getByTestId("webhook-secret-value").inputValue();
  const row = page.locator(`[data-testid="webhook-row"][data-url="${receiver}"]`);
  await expect(row).toBeVisible();
  await expect(page.getByTestId("deliveries")).toBeVisible();
  await page.getByTestId("webhook-secret-done").click();
  await expectAccessible(page, "the webhooks page");
  await expectNamedControls(page, "the webhooks page");

  await row.getByTestId("webhook-test").click();
  const ping = page.locator('[data-testid="delivery-row"][data-event="ping"]');
  // generous waits: CI runs these beside the packaging tests, which load both cores
  await expect(ping).toHaveCount(1, { timeout: 30_000 });
  await expect(ping).toHaveAttribute("data-status", "delivered", { timeout: 60_000 });
  await expect(ping.getByTestId("delivery-last-status")).toHaveText("204");
  // the list's last delivery follows the log
  await expect(row.getByTestId("delivery-status")).toHaveAttribute("data-status", "delivered");
  await ping.getByText("Payload").click();
  await expect(ping.getByTestId("delivery-payload")).toContainText('"event": "ping"');
  await expectAccessible(page, "a delivery log");

  // the receiver got it, signed with the secret shown once
  const received = readFileSync(receiverLog, "utf8")
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l) as Received)
    .filter((r) => r.headers["x-fwtrack-event"] === "ping");
  // one request per attempt: under load an attempt may time out after the receiver got it
  const attempts = Number(await ping.getByTestId("delivery-attempts").innerText());
  expect(received).toHaveLength(attempts);
  const got = received[received.length - 1] as Received;
  expect(got.path).toBe("/hooks/fwtrack");
  expect((JSON.parse(got.body) as { event: string }).event).toBe("ping");
  const expected = createHmac("sha256", secret).update(`${got.headers["x-fwtrack-timestamp"] ?? ""}.${got.body}`).digest("hex");
  expect(got.headers["x-fwtrack-signature-256"]).toBe(`sha256=${expected}`);

  await row.getByTestId("webhook-delete").click();
  await expect(page.getByTestId("confirm-dialog")).toContainText(receiver);
  await page.getByTestId("confirm-ok").click();
  await expect(page.getByTestId("webhook-row")).toHaveCount(0);
});

test("fwtrack ui shows the local registry read-only", async ({ page }) => {
  await page.goto(`${ui}/#/registry/local`);
  const row = page.locator('[data-testid="model-row"][data-name="local-cnn"]');
  await expect(row).toBeVisible();
  await expect(row.locator('[data-testid="model-stage"][data-stage="production"]')).toHaveAttribute("data-version", "v0");
  await expect(page.getByTestId("new-model")).toHaveCount(0);
  await expect(page.getByTestId("registry-nav-webhooks")).toHaveCount(0);

  await row.getByTestId("model-link").click();
  await expect(page.getByTestId("model-page")).toHaveAttribute("data-name", "local-cnn");
  await expect(stage(page, "production")).toHaveAttribute("data-version", "v0");
  await expect(versionRow(page, "v0")).toBeVisible();
  await expect(page.getByTestId("promote")).toHaveCount(0);
  await expect(page.getByTestId("demote")).toHaveCount(0);
  await expect(page.getByTestId("tag-input")).toHaveCount(0);
  await expectAccessible(page, "a model read-only");

  await versionRow(page, "v0").getByTestId("model-version-link").click();
  await expect(page.getByTestId("model-version-page")).toHaveAttribute("data-version", "local-cnn:v0");
  await expect(page.getByTestId("card-artifact").getByTestId("version-link")).toHaveText("local-weights:v0");
  await expect(page.getByTestId("card-run-link")).toHaveAttribute("data-run-id", "local-train");
});
