// Helpers for tests of the API client and of the pages that show its answers.

import { afterEach, beforeEach, vi } from "vitest";
import { onUnauthorized, storeApiKey } from "./client";
import type { RunInfo } from "./types";

/** One request the stubbed `fetch` received. */
export interface FetchCall {
  url: URL;
  init: RequestInit;
}

/** The stubbed `fetch` of a test file: what it received, and what it answers (a test sets it). */
export interface FetchStub {
  readonly calls: FetchCall[];
  answer: (url: URL, init: RequestInit) => Response;
}

/** A JSON response. */
export function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
}

/**
 * Stubs `fetch` for every test of the calling file. Before each: no calls, the answer `{}`, local
 * storage cleared and `apiKey` stored (if given). After each: the real `fetch`, no stored key
 * and no 401 handler.
 */
export function stubFetch(apiKey?: string): FetchStub {
  const stub: FetchStub = { calls: [], answer: () => json({}) };
  beforeEach(() => {
    stub.calls.length = 0;
    stub.answer = () => json({});
    localStorage.clear();
    if (apiKey !== undefined) storeApiKey(apiKey);
    vi.stubGlobal("fetch", (input: URL | string, init: RequestInit) => {
      const url = new URL(String(input));
      stub.calls.push({ url, init });
      return Promise.resolve(stub.answer(url, init));
    });
  });
  afterEach(() => {
    vi.unstubAllGlobals();
    storeApiKey(null);
    onUnauthorized(null);
  });
  return stub;
}

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
