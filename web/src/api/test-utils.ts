// Helpers for tests of the API client and of the pages that show its answers.

import type { RunInfo } from "./types";

/** A finished run `e/p/r` with empty fields, as `GET /runs/...` lists it; `partial` overrides. */
export function runInfo(partial: Partial<RunInfo> = {}): RunInfo {
  return {
    id: "r",
    entity: "e",
    project: "p",
    name: "r",
    state: "finished",
    tags: [],
    notes: null,
    created_at: 0,
    updated_at: 0,
    heartbeat_at: null,
    runtime: 0,
    exit_code: 0,
    config: {},
    summary: {},
    metadata: {},
    keys: [],
    log_size: 0,
    ...partial,
  };
}
