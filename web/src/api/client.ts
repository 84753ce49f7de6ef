// The one typed HTTP client of the dashboard: auth header, JSON, errors. No UI code here.

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly detail: string,
  ) {
    super(`${status}: ${detail}`);
    this.name = "ApiError";
  }
}

const KEY_STORAGE = "fwtrack.apiKey";

/** The stored API key (local storage; kept in memory only where storage is disabled). */
export function storedApiKey(): string | null {
  try {
    return localStorage.getItem(KEY_STORAGE);
  } catch {
    return memoryKey;
  }
}

let memoryKey: string | null = null;

export function storeApiKey(key: string | null): void {
  memoryKey = key;
  try {
    if (key === null) localStorage.removeItem(KEY_STORAGE);
    else localStorage.setItem(KEY_STORAGE, key);
  } catch {
    // storage disabled (private mode): the key lives as long as the page
  }
}

let unauthorized: ((detail: string) => void) | null = null;

/**
 * Called on every 401 answer (missing, unknown or revoked key), except for requests made with
 * `auth: false`: the app sends the user to the sign-in page.
 */
export function onUnauthorized(handler: ((detail: string) => void) | null): void {
  unauthorized = handler;
}

export interface RequestOptions {
  method?: string;
  body?: unknown;
  signal?: AbortSignal;
  query?: Record<string, string | number | undefined>;
  /** `false`: a 401 is only thrown, not reported to the global handler (sign-in checks). */
  auth?: boolean;
  /** Use this key instead of the stored one (checking a key before storing it). */
  apiKey?: string;
  /** Raw bytes to send instead of a JSON `body` (uploads), with their media type. */
  raw?: { data: Blob; type: string };
}

/** The API base: the dashboard is served by the server it talks to. */
export const API = "/api/v1";

/** True for the error of an aborted request (a page left, a poll stopped): not worth showing. */
export function isAbort(err: unknown): boolean {
  return err instanceof DOMException && err.name === "AbortError";
}

/**
 * Static report export (reports/export): while a `Recorder` is installed, every GET answer (and
 * every answer of a POST that only reads) is kept by its request path + query (+ body); a
 * `Replay` answers every read from such a record and refuses every write, never touching the
 * network (the exported HTML file). Both default off.
 */
export interface Recorder {
  record(key: string, resp: Response): Promise<void>;
}
export type Replay = (key: string) => Response | null;

/** POST routes that only read (recorded and replayed like GETs): the history of many runs. */
const READ_POSTS = /^\/api\/v1\/history\/[^/]+\/[^/]+$/;

let recorder: Recorder | null = null;
let replay: Replay | null = null;
let pending = 0;

export function setRecorder(r: Recorder | null): void {
  recorder = r;
}

export function setReplay(r: Replay | null): void {
  replay = r;
}

/** True while a report export records the answers (readers then ask for JSON, which it can recombine). */
export function isRecording(): boolean {
  return recorder !== null;
}

/** True in the static page (answers come from the embedded record): nothing can be changed. */
export function isReplaying(): boolean {
  return replay !== null;
}

/** Requests sent and not yet answered (the export waits for zero). */
export function pendingRequests(): number {
  return pending;
}

/** Send a request with the stored key; answers the response of a 2xx, throws ApiError otherwise. */
async function send(path: string, opts: RequestOptions, accept: string): Promise<Response> {
  // a page opened from disk has the origin "null": its (replayed) requests need none
  const url = new URL(API + path, replay !== null ? "http://export.invalid" : window.location.origin);
  for (const [k, v] of Object.entries(opts.query ?? {})) {
    if (v !== undefined) url.searchParams.set(k, String(v));
  }
  const method = opts.method ?? "GET";
  const read = method === "GET" || (method === "POST" && READ_POSTS.test(url.pathname));
  // a read sent as POST (many runs' histories at once) is known by its body too
  const key = method === "GET" ? url.pathname + url.search : `${method} ${url.pathname}${url.search} ${JSON.stringify(opts.body ?? null)}`;
  if (replay !== null) {
    if (!read) throw new ApiError(403, "this is an exported report: it cannot be changed; hint: open the report in the dashboard to edit it");
    const answer = replay(key);
    if (answer === null) throw new ApiError(404, `${key} is not part of this exported report; hint: export the report again after this view has loaded`);
    return answer;
  }
  pending++;
  try {
    const resp = await sendNetwork(url, opts, accept);
    if (recorder !== null && read) await recorder.record(key, resp.clone());
    return resp;
  } finally {
    pending--;
  }
}

async function sendNetwork(url: URL, opts: RequestOptions, accept: string): Promise<Response> {
  const headers: Record<string, string> = { Accept: accept };
  const key = opts.apiKey ?? storedApiKey();
  if (key !== null) headers.Authorization = `Bearer ${key}`;
  let body: string | Blob | undefined;
  if (opts.raw !== undefined) {
    headers["Content-Type"] = opts.raw.type;
    body = opts.raw.data;
  } else if (opts.body !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(opts.body);
  }
  const init: RequestInit = { method: opts.method ?? "GET", headers };
  if (body !== undefined) init.body = body;
  if (opts.signal !== undefined) init.signal = opts.signal;
  let resp: Response;
  try {
    resp = await fetch(url, init);
  } catch (err) {
    if (err instanceof DOMException && err.name === "AbortError") throw err;
    throw new ApiError(0, "cannot reach the server; check that it is running and the network is up");
  }
  if (!resp.ok) {
    let detail = resp.statusText;
    try {
      const data = (await resp.json()) as { detail?: unknown };
      if (typeof data.detail === "string") detail = data.detail;
    } catch {
      // not JSON: keep the status text
    }
    // a 401 for a key that was replaced meanwhile (signed in again) is no reason to leave
    const stale = opts.apiKey === undefined && storedApiKey() !== key;
    if (resp.status === 401 && opts.auth !== false && !stale && unauthorized !== null) unauthorized(detail);
    throw new ApiError(resp.status, detail);
  }
  return resp;
}

export async function request<T>(path: string, opts: RequestOptions = {}): Promise<T> {
  const resp = await send(path, opts, "application/json");
  if (resp.status === 204) return undefined as T;
  return (await resp.json()) as T;
}

/**
 * The answer of a request sent with `Accept: accept`, unread (for answers that are not JSON: the
 * binary history); errors are thrown as for `request`.
 */
export function requestRaw(path: string, accept: string, opts: RequestOptions = {}): Promise<Response> {
  return send(path, opts, accept);
}

/**
 * The body of a GET as a Blob (files, media payloads): `<img src>` cannot carry the API key, so
 * payloads are fetched here and shown through object URLs.
 */
export async function requestBlob(path: string, opts: RequestOptions = {}): Promise<Blob> {
  const resp = await send(path, opts, "*/*");
  return resp.blob();
}
