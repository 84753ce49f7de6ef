// A point cloud payload (`media/<hex>.pts.json`, W&B's format) -> flat arrays three.js draws.
// Pure: Object3DView hands these to a BufferGeometry.
//
// The JSON is a list of points ([x, y, z], [x, y, z, category] or [x, y, z, r, g, b] with
// r, g, b in 0..255) or `{"type": "lidar/beta", "points": [...], "boxes": [{"corners": 8
// points, "color": [r, g, b], "label", "score"}], "vectors": [{"start", "end", "color"?}]}`.

import { classColor, rgbOf } from "./overlay";

export interface CloudBox {
  corners: number[][];
  /** 0..1 */
  color: [number, number, number];
  label: string | null;
  score: number | null;
}

export interface CloudVector {
  start: [number, number, number];
  end: [number, number, number];
  color: [number, number, number];
}

export interface PointCloud {
  positions: Float32Array;
  /** 0..1 per channel, 3 per point */
  colors: Float32Array;
  count: number;
  boxes: CloudBox[];
  vectors: CloudVector[];
  /** The bounding sphere of points and box corners: center and radius (>= 1e-6). */
  center: [number, number, number];
  radius: number;
}

const DEFAULT_POINT: [number, number, number] = [0.35, 0.65, 0.95];

function finite(v: unknown): v is number {
  return typeof v === "number" && Number.isFinite(v);
}

/** A colour given as 0..1 or 0..255 (W&B's docs use both) as 0..1. */
export function unitColor(c: unknown, fallback: [number, number, number]): [number, number, number] {
  if (!Array.isArray(c) || c.length < 3 || !c.slice(0, 3).every(finite)) return fallback;
  const rgb = c.slice(0, 3) as number[];
  const scale = rgb.some((v) => v > 1) ? 255 : 1;
  return rgb.map((v) => Math.min(1, Math.max(0, v / scale))) as [number, number, number];
}

function vec3(v: unknown): [number, number, number] | null {
  return Array.isArray(v) && v.length >= 3 && v.slice(0, 3).every(finite) ? [v[0] as number, v[1] as number, v[2] as number] : null;
}

/** Parse a point cloud payload; throws on anything that is not one. */
export function parsePointCloud(doc: unknown): PointCloud {
  let raw: unknown[];
  let rawBoxes: unknown[] = [];
  let rawVectors: unknown[] = [];
  if (Array.isArray(doc)) raw = doc;
  else if (typeof doc === "object" && doc !== null && Array.isArray((doc as { points?: unknown }).points)) {
    const d = doc as { points: unknown[]; boxes?: unknown; vectors?: unknown };
    raw = d.points;
    rawBoxes = Array.isArray(d.boxes) ? d.boxes : [];
    rawVectors = Array.isArray(d.vectors) ? d.vectors : [];
  } else throw new Error("not a point cloud: expected a list of points or {points: [...]}");
  const positions = new Float32Array(raw.length * 3);
  const colors = new Float32Array(raw.length * 3);
  let n = 0;
  for (const p of raw) {
    if (!Array.isArray(p) || p.length < 3 || !finite(p[0]) || !finite(p[1]) || !finite(p[2])) continue;
    positions.set([p[0], p[1], p[2]], n * 3);
    let c: [number, number, number] = DEFAULT_POINT;
    if (p.length >= 6 && finite(p[3]) && finite(p[4]) && finite(p[5])) c = [p[3] / 255, p[4] / 255, p[5] / 255];
    else if (p.length === 4 && finite(p[3])) c = rgbOf(classColor(p[3])).map((v) => v / 255) as [number, number, number];
    colors.set(c, n * 3);
    n++;
  }
  const boxes: CloudBox[] = [];
  for (const b of rawBoxes) {
    if (typeof b !== "object" || b === null) continue;
    const box = b as { corners?: unknown; color?: unknown; label?: unknown; score?: unknown };
    const corners = Array.isArray(box.corners) ? box.corners.map(vec3) : [];
    if (corners.length !== 8 || corners.some((c) => c === null)) continue;
    boxes.push({
      corners: corners as number[][],
      color: unitColor(box.color, [0, 1, 0]),
      label: typeof box.label === "string" ? box.label : null,
      score: finite(box.score) ? box.score : null,
    });
  }
  const vectors: CloudVector[] = [];
  for (const v of rawVectors) {
    if (typeof v !== "object" || v === null) continue;
    const vec = v as { start?: unknown; end?: unknown; color?: unknown };
    const start = vec3(vec.start), end = vec3(vec.end);
    if (start === null || end === null) continue;
    vectors.push({ start, end, color: unitColor(vec.color, [1, 1, 0]) });
  }
  const pts = positions.subarray(0, n * 3);
  const all: number[][] = boxes.flatMap((b) => b.corners);
  let lo = [Infinity, Infinity, Infinity], hi = [-Infinity, -Infinity, -Infinity];
  const grow = (x: number, y: number, z: number): void => {
    lo = [Math.min(lo[0] as number, x), Math.min(lo[1] as number, y), Math.min(lo[2] as number, z)];
    hi = [Math.max(hi[0] as number, x), Math.max(hi[1] as number, y), Math.max(hi[2] as number, z)];
  };
  for (let i = 0; i < n; i++) grow(pts[i * 3] as number, pts[i * 3 + 1] as number, pts[i * 3 + 2] as number);
  for (const c of all) grow(c[0] as number, c[1] as number, c[2] as number);
  if (!Number.isFinite(lo[0])) { lo = [0, 0, 0]; hi = [0, 0, 0]; }
  const center: [number, number, number] = [0, 1, 2].map((i) => ((lo[i] as number) + (hi[i] as number)) / 2) as [number, number, number];
  const radius = Math.max(1e-6, Math.hypot((hi[0] as number) - (lo[0] as number), (hi[1] as number) - (lo[1] as number), (hi[2] as number) - (lo[2] as number)) / 2);
  return { positions: pts, colors: colors.subarray(0, n * 3), count: n, boxes, vectors, center, radius };
}

/** The 12 edges of a box (W&B's corner order: itertools.product((-1, 1), repeat=3)) as pairs
 * of corner indexes: corners differing in exactly one coordinate sign. */
export const BOX_EDGES: readonly (readonly [number, number])[] = (() => {
  const out: [number, number][] = [];
  for (let a = 0; a < 8; a++) for (let b = a + 1; b < 8; b++) {
    const diff = a ^ b;
    if (diff === 1 || diff === 2 || diff === 4) out.push([a, b]);
  }
  return out;
})();

/** The loader three.js needs for a model file format, or null when it cannot show it. */
export function loaderFor(format: string): "gltf" | "obj" | "stl" | "points" | null {
  switch (format.toLowerCase()) {
    case "glb":
    case "gltf":
      return "gltf";
    case "obj":
      return "obj";
    case "stl":
      return "stl";
    case "pts.json":
      return "points";
    default:
      return null;
  }
}
