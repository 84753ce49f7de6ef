// What an image descriptor draws over its pixels (W&B's formats, docs/media.md): box groups
// in pixel coordinates with captions and class colours, mask groups (a PNG of class ids each)
// and the class names. Pure: the Media tab's ImageOverlay draws what these return.

export interface OverlayClass {
  id: number;
  name: string;
  color: string;
}

export interface PixelBox {
  x: number;
  y: number;
  w: number;
  h: number;
  classId: number | null;
  caption: string;
  color: string;
}

export interface BoxGroup {
  key: string;
  boxes: PixelBox[];
}

export interface MaskGroup {
  key: string;
  path: string;
  /** Ids present in the labels, in order. */
  classIds: number[];
}

export interface Overlays {
  boxes: BoxGroup[];
  masks: MaskGroup[];
  classes: OverlayClass[];
}

/** A categorical palette (Tableau 10 + 10), indexed by class id. */
const PALETTE = [
  "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac",
  "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
];

/** The colour of a class id (stable across images and runs). */
export function classColor(id: number): string {
  const i = ((Math.trunc(id) % PALETTE.length) + PALETTE.length) % PALETTE.length;
  return PALETTE[i] as string;
}

/** `#rrggbb` -> [r, g, b]. */
export function rgbOf(hex: string): [number, number, number] {
  const n = Number.parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function num(v: unknown): number | null {
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}

function labels(v: unknown): Map<number, string> {
  const out = new Map<number, string>();
  if (!isObj(v)) return out;
  for (const [k, name] of Object.entries(v)) {
    const id = Number(k);
    if (Number.isInteger(id) && typeof name === "string") out.set(id, name);
  }
  return out;
}

function fmtScore(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toFixed(2);
}

/** One box in pixels of a `width` x `height` image, or null when malformed. Without
 * `domain: "pixel"` the position is in fractions of the image, as W&B's. */
export function boxInPixels(box: unknown, width: number, height: number, names: Map<number, string>): PixelBox | null {
  if (!isObj(box) || !isObj(box.position)) return null;
  const pos = box.position;
  const pixel = box.domain === "pixel";
  const sx = pixel ? 1 : width;
  const sy = pixel ? 1 : height;
  let x0: number, y0: number, x1: number, y1: number;
  const minX = num(pos.minX), maxX = num(pos.maxX), minY = num(pos.minY), maxY = num(pos.maxY);
  if (minX !== null && maxX !== null && minY !== null && maxY !== null) {
    [x0, x1, y0, y1] = [minX * sx, maxX * sx, minY * sy, maxY * sy];
  } else {
    const mid = Array.isArray(pos.middle) ? pos.middle.map(num) : [];
    const w = num(pos.width), h = num(pos.height);
    const mx = mid[0] ?? null, my = mid[1] ?? null;
    if (mx === null || my === null || w === null || h === null) return null;
    [x0, x1, y0, y1] = [(mx - w / 2) * sx, (mx + w / 2) * sx, (my - h / 2) * sy, (my + h / 2) * sy];
  }
  const classId = typeof box.class_id === "number" && Number.isInteger(box.class_id) ? box.class_id : null;
  let caption = typeof box.box_caption === "string" ? box.box_caption : classId !== null ? (names.get(classId) ?? `class_${classId}`) : "";
  if (typeof box.box_caption !== "string" && isObj(box.scores)) {
    const parts = Object.entries(box.scores).flatMap(([k, v]) => (typeof v === "number" ? [`${k} ${fmtScore(v)}`] : []));
    if (parts.length > 0) caption = caption === "" ? parts.join(", ") : `${caption} (${parts.join(", ")})`;
  }
  return { x: x0, y: y0, w: x1 - x0, h: y1 - y0, classId, caption, color: classId !== null ? classColor(classId) : "#ffffff" };
}

/** The overlays of an image descriptor of `width` x `height` pixels (empty when it has none). */
export function overlaysOf(desc: Obj, width: number, height: number): Overlays {
  const classes = new Map<number, string>();
  if (Array.isArray(desc.classes)) {
    for (const c of desc.classes) {
      if (isObj(c) && typeof c.id === "number" && typeof c.name === "string" && !classes.has(c.id)) classes.set(c.id, c.name);
    }
  }
  const boxes: BoxGroup[] = [];
  if (isObj(desc.boxes)) {
    for (const [key, group] of Object.entries(desc.boxes)) {
      if (!isObj(group)) continue;
      const names = labels(group.class_labels);
      for (const [id, name] of names) if (!classes.has(id)) classes.set(id, name);
      const list = Array.isArray(group.box_data) ? group.box_data : [];
      boxes.push({ key, boxes: list.flatMap((b) => { const p = boxInPixels(b, width, height, names); return p === null ? [] : [p]; }) });
    }
  }
  const masks: MaskGroup[] = [];
  if (isObj(desc.masks)) {
    for (const [key, mask] of Object.entries(desc.masks)) {
      if (!isObj(mask) || typeof mask.path !== "string") continue;
      const names = labels(mask.class_labels);
      for (const [id, name] of names) if (!classes.has(id)) classes.set(id, name);
      masks.push({ key, path: mask.path, classIds: [...names.keys()] });
    }
  }
  const classList = [...classes.entries()].sort((a, b) => a[0] - b[0]).map(([id, name]) => ({ id, name, color: classColor(id) }));
  return { boxes, masks, classes: classList };
}

export function hasOverlays(o: Overlays): boolean {
  return o.boxes.length > 0 || o.masks.length > 0;
}

/** RGBA pixels of a mask layer: each pixel's class colour at `alpha` (0..255) where the class
 * is shown, transparent elsewhere. `ids` holds one class id per pixel (the mask PNG's gray). */
export function maskPixels(ids: ArrayLike<number>, hidden: ReadonlySet<number>, alpha: number): Uint8ClampedArray {
  const out = new Uint8ClampedArray(ids.length * 4);
  const cache = new Map<number, [number, number, number]>();
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i] as number;
    if (hidden.has(id)) continue;
    let rgb = cache.get(id);
    if (rgb === undefined) {
      rgb = rgbOf(classColor(id));
      cache.set(id, rgb);
    }
    out[i * 4] = rgb[0];
    out[i * 4 + 1] = rgb[1];
    out[i * 4 + 2] = rgb[2];
    out[i * 4 + 3] = alpha;
  }
  return out;
}
