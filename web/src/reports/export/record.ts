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

/** A replay answering each recorded path + query with its recorded body; null for the rest. */
export function replayFrom(answers: Answers): Replay {
  return (key: string): Response | null => {
    const hit = Object.prototype.hasOwnProperty.call(answers, key) ? answers[key] : undefined;
    if (hit === undefined) return null;
    const body = hit.b64 !== undefined ? fromBase64(hit.b64) : (hit.text ?? "");
    return new Response(body, { status: 200, headers: { "Content-Type": hit.type } });
  };
}
