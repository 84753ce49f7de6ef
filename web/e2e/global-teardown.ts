// Stop every process the setup started (by pid, process group first), then remove the work dir.

import { readState, removeWork, stopPid } from "./harness";

export default async function globalTeardown(): Promise<void> {
  let state;
  try {
    state = readState();
  } catch {
    return; // the setup failed and cleaned up after itself
  }
  for (const pid of [...state.pids].reverse()) await stopPid(pid);
  removeWork(state.work);
}
