// What the browser benchmarks (web_bench.mjs, table_bench.mjs) share: playwright-core from
// web/node_modules, Chromium's flags, the plan named on the command line, the screenshots
// folder next to its results, and the progress log.

import { createRequire } from "node:module";
import { mkdirSync, readFileSync } from "node:fs";
import path from "node:path";

const require = createRequire(new URL("../web/package.json", import.meta.url));
export const { chromium } = require("playwright-core");

export const plan = JSON.parse(readFileSync(process.argv[2], "utf8"));
export const FLAGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
export const shots = path.join(path.dirname(plan.results), "screenshots");
mkdirSync(shots, { recursive: true });

export function log(msg) {
  process.stdout.write(`  ${msg}\n`);
}
