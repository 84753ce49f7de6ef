// Recording and replay of API answers for the static report export. While exporting, every GET
// answer is kept by its request path + query (`client.ts` setRecorder); the exported page answers
// every GET from that record (setReplay) and never touches the network.

import type { Recorder, Replay } from "../../api/client";

/** One recorded answer: text bodies as text, anything else base64. */
export interface Recorded {
  type: string;
  text?: string;
  b64?: string;
}

export type Answers = Record<string, Recorded>;

/** What the exported HTML file embeds (`<script type="application/json" id="fwtrack-report-data">`). */
export interface ExportData {
  format: 1;
  entity: string;
  project: string;
  reportId: string;
  title: string;
  exported_at: number;
  answers: Answers;
}

function isText(type: string): boolean {
  const t = type.split(";")[0]?.trim().toLowerCase() ?? "";
  return t.startsWith("text/") || t === "application/json" || t.endsWith("+json");
}

export function toBase64(bytes: Uint8Array): string {
  let s = "";
  const chunk = 0x8000;
  for (let i = 0; i < bytes.length; i += chunk) s += String.fromCharCode(...bytes.subarray(i, i + chunk));
  return btoa(s);
}

export function fromBase64(b64: string): Uint8Array<ArrayBuffer> {
  const s = atob(b64);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/** A recorder keeping every answer in `answers` (the last answer of a path wins). */
export function recorderInto(answers: Answers): Recorder {
  return {
    async record(key: string, resp: Response): Promise<void> {
      const type = resp.headers.get("Content-Type") ?? "application/octet-stream";
      if (resp.status === 204) {
        answers[key] = { type, text: "" };
      } else if (isText(type)) {
        answers[key] = { type, text: await resp.text() };
      } else {
        answers[key] = { type, b64: toBase64(new Uint8Array(await resp.arrayBuffer())) };
      }
    },
  };
}

/** A replay answering each recorded path + query (+ body) with its recorded body; null for the rest. */
export function replayFrom(answers: Answers): Replay {
  const history = historyIndex(answers);
  return (key: string): Response | null => {
    const hit = Object.prototype.hasOwnProperty.call(answers, key) ? answers[key] : undefined;
    if (hit === undefined) {
      const composed = composeHistory(history, key);
      return composed === null ? null : new Response(JSON.stringify(composed), { status: 200, headers: { "Content-Type": "application/json" } });
    }
    const body = hit.b64 !== undefined ? fromBase64(hit.b64) : (hit.text ?? "");
    return new Response(body, { status: 200, headers: { "Content-Type": hit.type } });
  };
}

// The history of many runs is read with a POST whose body names runs and keys; the page may
// batch them differently from one load to the next (which charts came into view together), so
// a request not recorded as such is answered from the recorded answers that hold its runs' keys.

const HISTORY = /^POST (\/api\/v1\/history\/[^/ ?]+\/[^/ ?]+)(?:\?\S*)? (.*)$/s;

interface HistoryBody {
  runs: string[];
  keys: string[];
  until?: number;
}

interface HistoryAnswer {
  runs: { run: string; series: Record<string, unknown>; downsampled: boolean }[];
  missing: string[];
}

interface HistoryRecord {
  path: string;
  body: HistoryBody;
  answer: HistoryAnswer;
}

function parseHistoryKey(key: string): { path: string; body: HistoryBody } | null {
  const m = HISTORY.exec(key);
  if (m === null) return null;
  try {
    const body = JSON.parse(m[2] ?? "") as Partial<HistoryBody> | null;
    if (body === null || !Array.isArray(body.runs) || !Array.isArray(body.keys)) return null;
    return { path: m[1] ?? "", body: { runs: body.runs, keys: body.keys, ...(typeof body.until === "number" ? { until: body.until } : {}) } };
  } catch {
    return null;
  }
}

function historyIndex(answers: Answers): HistoryRecord[] {
  const out: HistoryRecord[] = [];
  for (const [key, rec] of Object.entries(answers)) {
    const parsed = parseHistoryKey(key);
    if (parsed === null || rec.text === undefined) continue;
    try {
      out.push({ ...parsed, answer: JSON.parse(rec.text) as HistoryAnswer });
    } catch {
      // not an answer of this shape: left out
    }
  }
  return out;
}

/** The answer to a history request from recorded ones, or null when one of its run/key pairs was never read. */
export function composeHistory(index: readonly HistoryRecord[], key: string): HistoryAnswer | null {
  const want = parseHistoryKey(key);
  if (want === null) return null;
  const same = index.filter((r) => r.path === want.path && r.body.until === want.body.until);
  const runs: HistoryAnswer["runs"] = [];
  const missing: string[] = [];
  for (const run of want.body.runs) {
    if (same.some((r) => r.answer.missing.includes(run))) {
      missing.push(run); // unknown to the server
      continue;
    }
    const series: Record<string, unknown> = {};
    let downsampled = false;
    for (const k of want.body.keys) {
      const rec = same.find((r) => r.body.runs.includes(run) && r.body.keys.includes(k));
      if (rec === undefined) return null;
      const got = rec.answer.runs.find((r) => r.run === run);
      if (got === undefined) continue;
      downsampled ||= got.downsampled;
      if (Object.prototype.hasOwnProperty.call(got.series, k)) series[k] = got.series[k];
    }
    runs.push({ run, series, downsampled });
  }
  return { runs, missing };
}
