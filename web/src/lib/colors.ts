// Run colours: distinct among the runs a chart shows, the same on every page and chart.
//
// `assignColors(ids)` gives every id of a visible set its own colour: each id first asks for
// the palette entry its hash picks (so a run keeps the colour it has alone, and most keep
// theirs when the set changes), ids whose entry is taken get the free entries in id order, and
// beyond the palette come generated hues, all distinct. The answer depends on the set only, not
// on its order, so re-sorting the table or a poll that reorders the runs changes no colour.
// `runColor(id)` is the colour of a run shown alone (the hash's entry).

/**
 * Distinguishable colours (each keeps at least 3:1 contrast on white, enough for lines and
 * swatches); no grey, which reads as "disabled".
 */
export const PALETTE: readonly string[] = [
  "#1f77b4", // blue
  "#e8590c", // orange
  "#2b8a3e", // green
  "#c92a2a", // red
  "#7048e8", // violet
  "#8c564b", // brown
  "#d6336c", // pink
  "#0c8599", // teal
  "#a88400", // olive
  "#1c3d8f", // navy
  "#5c940d", // lime
  "#ae3ec9", // magenta
];

/** FNV-1a over the UTF-16 code units of `s`, as an unsigned 32-bit integer. */
export function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  // final avalanche so ids differing in their last character spread over the palette
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return h >>> 0;
}

/** The colour of a run: a palette entry picked by a hash of its id. */
export function runColor(runId: string): string {
  return PALETTE[hash32(runId) % PALETTE.length] ?? "#1f77b4";
}

/** `#rrggbb` of HSL `h` (degrees), `s`, `l` (0..1). */
function hsl(h: number, s: number, l: number): string {
  const a = s * Math.min(l, 1 - l);
  const f = (n: number): string => {
    const k = (n + h / 30) % 12;
    const v = l - a * Math.max(-1, Math.min(k - 3, 9 - k, 1));
    return Math.round(v * 255)
      .toString(16)
      .padStart(2, "0");
  };
  return `#${f(0)}${f(8)}${f(4)}`;
}

/** WCAG relative luminance of `#rrggbb`. */
export function luminance(hex: string): number {
  const c = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16) / 255).map((v) => (v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4));
  return 0.2126 * (c[0] ?? 0) + 0.7152 * (c[1] ?? 0) + 0.0722 * (c[2] ?? 0);
}

const LIGHTNESS = [0.42, 0.32, 0.5];
const extra: string[] = [];
const extraUsed = new Set<string>(PALETTE);
let extraStep = 0;

/** The `i`-th colour after the palette: golden-angle hues at a few darknesses, each darkened
 * until it keeps 3:1 contrast on white, never equal to a palette entry or an earlier one. */
function extraColor(i: number): string {
  while (extra.length <= i) {
    const n = extraStep++;
    let l = LIGHTNESS[n % LIGHTNESS.length] ?? 0.42;
    let color = hsl((n * 137.508) % 360, 0.8, l);
    while (1.05 / (luminance(color) + 0.05) < 3 && l > 0.05) {
      l -= 0.02;
      color = hsl((n * 137.508) % 360, 0.8, l);
    }
    if (!extraUsed.has(color)) {
      extraUsed.add(color);
      extra.push(color);
    }
  }
  return extra[i] ?? "#1f77b4";
}

/** Distinct colours for a set of ids (see the module header): the same set, in any order,
 * gets the same colours. Duplicate ids share one colour. */
export function assignColors(ids: Iterable<string>): Map<string, string> {
  const sorted = [...new Set(ids)].sort();
  const out = new Map<string, string>();
  const taken = new Set<number>();
  const waiting: string[] = [];
  for (const id of sorted) {
    const slot = hash32(id) % PALETTE.length;
    if (taken.has(slot)) {
      waiting.push(id);
    } else {
      taken.add(slot);
      out.set(id, PALETTE[slot] ?? "#1f77b4");
    }
  }
  let slot = 0;
  let generated = 0;
  for (const id of waiting) {
    while (slot < PALETTE.length && taken.has(slot)) slot++;
    if (slot < PALETTE.length) {
      taken.add(slot);
      out.set(id, PALETTE[slot] ?? "#1f77b4");
    } else {
      out.set(id, extraColor(generated++));
    }
  }
  return out;
}

/** `colorOf(id)` for a set: its assigned colour, else the run's own (`runColor`). */
export function colorsOf(ids: Iterable<string>): (id: string) => string {
  const colors = assignColors(ids);
  return (id) => colors.get(id) ?? runColor(id);
}
