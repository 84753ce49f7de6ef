// Media descriptors (the run log's record kind 10) -> what the Media tab draws. Pure.

import type { Json, MediaDescriptor, MediaType } from "../../api/types";
import { customChart, type CustomChartSpec } from "../../charts/vega/spec";
import { hasOverlays, overlaysOf, type Overlays } from "../../media/overlay";

export type MediaView =
  | { kind: "image"; path: string; mime: string; width: number | null; height: number | null; caption: string | null; overlays?: Overlays }
  | { kind: "object3d"; path: string; format: string; points: number | null; caption: string | null }
  | { kind: "audio"; path: string; mime: string; caption: string | null }
  | { kind: "video"; path: string; mime: string; width: number | null; height: number | null; caption: string | null }
  | { kind: "html"; path: string; caption: string | null }
  | { kind: "table"; path: string; columns: string[]; nrows: number; caption: string | null }
  | { kind: "gallery"; items: MediaView[]; caption: string | null }
  | { kind: "custom-chart"; chart: CustomChartSpec; caption: null }
  | { kind: "unknown"; type: string };

const MEDIA_TYPES: readonly string[] = ["image", "audio", "video", "html", "table", "gallery", "object3d"] satisfies readonly (MediaType | "object3d")[];

const MIME: Record<string, string> = {
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  gif: "image/gif",
  webp: "image/webp",
  bmp: "image/bmp",
  wav: "audio/wav",
  mp3: "audio/mpeg",
  ogg: "audio/ogg",
  flac: "audio/flac",
  mp4: "video/mp4",
  webm: "video/webm",
  html: "text/html",
};

/** The MIME type of a media file from its format or path extension. */
export function mimeOf(format: string | undefined, path: string): string {
  const f = (format ?? "").toLowerCase();
  const ext = path.toLowerCase().split(".").pop() ?? "";
  return MIME[f] ?? MIME[ext] ?? "application/octet-stream";
}

function caption(d: { caption?: unknown }): string | null {
  return typeof d.caption === "string" && d.caption !== "" ? d.caption : null;
}

function num(v: unknown): number | null {
  return typeof v === "number" && Number.isFinite(v) && v > 0 ? v : null;
}

/** Whether a JSON value (a table cell) is a media descriptor. */
export function isMediaDescriptor(v: Json | undefined): v is MediaDescriptor & Record<string, Json> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
  const t = v._type;
  if (typeof t !== "string" || !MEDIA_TYPES.includes(t)) return false;
  return t === "gallery" ? Array.isArray(v.items) : typeof v.path === "string";
}

/** What to draw for a descriptor: gif videos are images, tables open the table viewer. */
export function mediaView(d: MediaDescriptor): MediaView {
  const chart = customChart(d);
  if (chart !== null) return { kind: "custom-chart", chart, caption: null };
  // 3D objects: a kind the API types do not list
  const loose = d as unknown as Record<string, unknown>;
  if (loose._type === "object3d" && typeof loose.path === "string") {
    const format = typeof loose.format === "string" ? loose.format : (loose.path.split("/").pop() ?? "").split(".").slice(1).join(".");
    return { kind: "object3d", path: loose.path, format, points: typeof loose.points === "number" ? loose.points : null, caption: caption(loose) };
  }
  switch (d._type) {
    case "image": {
      const width = num(d.width), height = num(d.height);
      const view: MediaView = { kind: "image", path: d.path, mime: mimeOf(d.format, d.path), width, height, caption: caption(d) };
      if (width !== null && height !== null) {
        const overlays = overlaysOf(loose, width, height);
        if (hasOverlays(overlays)) view.overlays = overlays;
      }
      return view;
    }
    case "audio":
      return { kind: "audio", path: d.path, mime: mimeOf(d.format, d.path), caption: caption(d) };
    case "video": {
      const mime = mimeOf(d.format, d.path);
      if (mime === "image/gif") return { kind: "image", path: d.path, mime, width: num(d.width), height: num(d.height), caption: caption(d) };
      return { kind: "video", path: d.path, mime, width: num(d.width), height: num(d.height), caption: caption(d) };
    }
    case "html":
      return { kind: "html", path: d.path, caption: caption(d) };
    case "table":
      return { kind: "table", path: d.path, columns: Array.isArray(d.columns) ? d.columns : [], nrows: typeof d.nrows === "number" ? d.nrows : 0, caption: caption(d) };
    case "gallery":
      return { kind: "gallery", items: (Array.isArray(d.items) ? d.items : []).map(mediaView), caption: caption(d) };
    default:
      return { kind: "unknown", type: String((d as { _type?: unknown })._type) };
  }
}

/** The index of the item to show for `step`: the last item at or before it (the first when none is). */
export function itemIndexForStep(steps: readonly number[], step: number): number {
  if (steps.length === 0) return -1;
  let best = 0;
  for (let i = 0; i < steps.length; i++) if ((steps[i] as number) <= step) best = i;
  return best;
}
