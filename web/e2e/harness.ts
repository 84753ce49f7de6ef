// The browser tests' processes: a real `fwtrack server` (with auth) holding runs uploaded online
// through the Python API, a `fwtrack ui` over a local directory, and a Python process that keeps
// logging to a running run. Global setup starts them; global teardown stops them by pid.

import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { mkdirSync, mkdtempSync, openSync, readFileSync, writeFileSync, existsSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const HERE = dirname(fileURLToPath(import.meta.url));
export const REPO = resolve(HERE, "..", "..");
/** The repository's virtual environment (make venv / make build). */
export const PYTHON = process.env.FWTRACK_E2E_PYTHON ?? join(REPO, ".venv", "bin", "python");
export const ADMIN_KEY = "fwk_" + "E2eTestKey".repeat(4);
/** Where global setup leaves the state for the tests and the teardown. */
export const STATE_ENV = "FWTRACK_E2E_STATE";

export interface RunSpec {
  name: string;
  config: Record<string, unknown>;
  tags: string[];
  steps: number;
  points: Record<string, number>;
}

export interface Expected {
  runs: Record<string, RunSpec>;
  alice: { name: string; password: string; api_key: string };
  scratch: Record<string, Record<string, number>>;
  zoom: { steps: number };
  /** `admin/media/media-run`: console lines, system samples, media and tables. */
  media: { lines: number; stderr: number; needle: string; image_steps: number; big_rows: number };
  shared: Record<string, Record<string, number>>;
}

export interface State {
  work: string;
  server: string;
  ui: string;
  adminKey: string;
  pids: number[];
  expected: Expected;
}

export function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.once("error", fail);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr !== null ? addr.port : 0;
      srv.close(() => {
        ok(port);
      });
    });
  });
}

/** Environment for a child Python process: no proxies, no inherited fwtrack settings. */
function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith("FWTRACK_") || /_proxy$/i.test(k)) continue;
    env[k] = v;
  }
  env.NO_PROXY = "127.0.0.1,localhost";
  env.PYTHONUNBUFFERED = "1";
  return { ...env, ...extra };
}

/** Start a long-lived process in its own process group, output to `<work>/<name>.log`. */
export function startProcess(work: string, name: string, args: string[], env: Record<string, string> = {}): ChildProcess {
  const out = openSync(join(work, `${name}.log`), "a");
  const child = spawn(PYTHON, args, {
    cwd: work,
    env: childEnv(env),
    stdio: ["ignore", out, out],
    detached: true,
  });
  child.unref();
  if (child.pid === undefined) throw new Error(`could not start ${name}: ${PYTHON} ${args.join(" ")}`);
  return child;
}

/** Run a Python command to completion (bounded), failing with its output. */
export function runPython(work: string, name: string, args: string[], env: Record<string, string>, timeoutMs: number): Promise<void> {
  return new Promise((ok, fail) => {
    const logPath = join(work, `${name}.log`);
    const out = openSync(logPath, "a");
    const child = spawn(PYTHON, args, { cwd: work, env: childEnv(env), stdio: ["ignore", out, out] });
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      fail(new Error(`${name} took longer than ${timeoutMs} ms; see ${logPath}`));
    }, timeoutMs);
    child.on("exit", (code) => {
      clearTimeout(timer);
      if (code === 0) ok();
      else fail(new Error(`${name} exited with ${code}:\n${readFileSync(logPath, "utf8").slice(-4000)}`));
    });
  });
}

/** Poll `url` until it answers 200 (or the process dies, or the deadline passes). */
export async function waitHttp(url: string, child: ChildProcess, logPath: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`process for ${url} exited (${child.exitCode}):\n${tail(logPath)}`);
    try {
      const resp = await fetch(url);
      if (resp.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms:\n${tail(logPath)}`);
}

/** Poll until `check` returns true. */
export async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch {
      // keep polling
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}`);
}

function tail(path: string): string {
  try {
    return readFileSync(path, "utf8").slice(-4000);
  } catch {
    return "(no output)";
  }
}

/** Stop a process group by its leader's pid: SIGTERM, then SIGKILL after a grace period. */
export async function stopPid(pid: number, graceMs = 5000): Promise<void> {
  const alive = (): boolean => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  const signal = (sig: NodeJS.Signals): void => {
    try {
      process.kill(-pid, sig); // the group: the process and anything it started
    } catch {
      try {
        process.kill(pid, sig);
      } catch {
        // already gone
      }
    }
  };
  if (!alive()) return;
  signal("SIGTERM");
  const deadline = Date.now() + graceMs;
  while (alive() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  if (alive()) signal("SIGKILL");
}

export function stopPidsNow(pids: readonly number[]): void {
  for (const pid of pids) {
    for (const target of [-pid, pid]) {
      try {
        process.kill(target, "SIGKILL");
        break;
      } catch {
        // gone
      }
    }
  }
}

export function newWorkDir(): string {
  return mkdtempSync(join(tmpdir(), "fwtrack-e2e-"));
}

export function writeState(path: string, state: State): void {
  writeFileSync(path, JSON.stringify(state, null, 1));
}

export function readState(): State {
  const path = process.env[STATE_ENV];
  if (path === undefined || !existsSync(path)) throw new Error(`no browser-test state (${STATE_ENV} unset): run through playwright test`);
  return JSON.parse(readFileSync(path, "utf8")) as State;
}

export function removeWork(work: string): void {
  if (process.env.FWTRACK_E2E_KEEP === "1") return;
  rmSync(work, { recursive: true, force: true });
}

export interface SeededOptions {
  /** Bound on the fixture script's run. */
  seedTimeoutMs: number;
  /** Arguments right after the script, before its flags (a subcommand, e.g. `server`). */
  fixtureArgs?: string[];
  /** A subfolder of the work folder given to the script as `--work` (default: the work folder). */
  clientDir?: string;
}

export interface SeededServer<T> {
  /** The server's base URL. */
  url: string;
  /** This server's work folder (its data, logs and the seeded JSON). */
  work: string;
  adminKey: string;
  /** The script's `--out` JSON. */
  seeded: T;
}

/**
 * A `fwtrack server` of a spec's own (free port, the admin key of global setup), seeded by a
 * fixture script run as `<script> [fixtureArgs] --url --key --work --out`. Create it at the top of
 * the spec, `start()` it in `beforeAll` and `stop()` it in `afterAll`: the server's pid is kept as
 * soon as it starts, so `stop()` ends it even when `beforeAll` failed or timed out.
 */
export function seededServer<T>(name: string, fixtures: string, opts: SeededOptions): { start: () => Promise<SeededServer<T>>; stop: () => Promise<void> } {
  const pids: number[] = [];
  return {
    start: async () => {
      const state = readState();
      const adminKey = state.adminKey;
      const port = await freePort();
      const work = join(state.work, `${name}-${port}`);
      mkdirSync(work, { recursive: true });
      const url = `http://127.0.0.1:${port}`;
      const proc = startProcess(work, `${name}-server`, ["-m", "fwtrack", "server", "--port", String(port), "--data", join(work, "server-data")], {
        FWTRACK_SERVER_ADMIN_KEY: adminKey,
      });
      if (proc.pid !== undefined) pids.push(proc.pid);
      await waitHttp(`${url}/api/v1/health`, proc, join(work, `${name}-server.log`));
      const out = join(work, "seeded.json");
      const clientWork = opts.clientDir === undefined ? work : join(work, opts.clientDir);
      const args = [fixtures, ...(opts.fixtureArgs ?? []), "--url", url, "--key", adminKey, "--work", clientWork, "--out", out];
      await runPython(work, `${name}-fixtures`, args, {}, opts.seedTimeoutMs);
      return { url, work, adminKey, seeded: JSON.parse(readFileSync(out, "utf8")) as T };
    },
    stop: async () => {
      for (const pid of pids.splice(0).reverse()) await stopPid(pid);
    },
  };
}
