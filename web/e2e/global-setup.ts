// Start a real server (auth on) with runs uploaded online, a `fwtrack ui` over a local directory,
// and a process that keeps logging to a running run. Everything is stopped by pid in the
// teardown, and here already when the setup itself fails.

import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

import {
  ADMIN_KEY,
  PYTHON,
  STATE_ENV,
  freePort,
  newWorkDir,
  runPython,
  startProcess,
  stopPid,
  stopPidsNow,
  waitFor,
  waitHttp,
  writeState,
  type Expected,
  type State,
} from "./harness";

const FIXTURES = join(import.meta.dirname, "fixtures.py");
const LIVE_SECONDS = 540;

export default async function globalSetup(): Promise<void> {
  if (!existsSync(PYTHON)) throw new Error(`${PYTHON} is missing: run \`make build\` first (the tests log runs through the Python API)`);
  const work = newWorkDir();
  const pids: number[] = [];
  const onExit = (): void => {
    stopPidsNow(pids);
  };
  process.on("exit", onExit);
  try {
    const serverPort = await freePort();
    const server = `http://127.0.0.1:${serverPort}`;
    const srv = startProcess(work, "server", ["-m", "fwtrack", "server", "--port", String(serverPort), "--data", join(work, "server-data")], {
      FWTRACK_SERVER_ADMIN_KEY: ADMIN_KEY,
    });
    pids.push(srv.pid as number);

    const localDir = join(work, "local-runs");
    await runPython(work, "fixtures-local", [FIXTURES, "local", "--dir", localDir], {}, 60_000);
    const uiPort = await freePort();
    const ui = `http://127.0.0.1:${uiPort}`;
    const uiProc = startProcess(work, "ui", ["-m", "fwtrack", "ui", "--dir", localDir, "--port", String(uiPort)]);
    pids.push(uiProc.pid as number);

    await waitHttp(`${server}/api/v1/health`, srv, join(work, "server.log"));
    const expectedPath = join(work, "expected.json");
    await runPython(work, "fixtures-server", [FIXTURES, "server", "--url", server, "--key", ADMIN_KEY, "--work", work, "--out", expectedPath], {}, 240_000);
    const live = startProcess(work, "live", [FIXTURES, "live", "--url", server, "--key", ADMIN_KEY, "--work", work, "--seconds", String(LIVE_SECONDS)]);
    pids.push(live.pid as number);

    await waitHttp(`${ui}/api/v1/health`, uiProc, join(work, "ui.log"));
    const headers = { Authorization: `Bearer ${ADMIN_KEY}` };
    await waitFor("the ui to index its two local runs", async () => {
      const r = await fetch(`${ui}/api/v1/runs/local/local-proj`);
      return r.ok && ((await r.json()) as { total: number }).total === 2;
    });
    await waitFor("the live run to reach the server", async () => {
      const r = await fetch(`${server}/api/v1/runs/admin/live/live-run`, { headers });
      return r.ok && ((await r.json()) as { keys: string[] }).keys.includes("train/loss");
    });

    const state: State = {
      work,
      server,
      ui,
      adminKey: ADMIN_KEY,
      pids: [...pids],
      expected: JSON.parse(readFileSync(expectedPath, "utf8")) as Expected,
    };
    const statePath = join(work, "state.json");
    writeState(statePath, state);
    process.env[STATE_ENV] = statePath;
  } catch (err) {
    for (const pid of pids.reverse()) await stopPid(pid, 2000);
    process.off("exit", onExit);
    throw new Error(`browser-test setup failed (logs in ${work}): ${String(err)}`, { cause: err });
  }
}
