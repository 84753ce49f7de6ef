// One stable colour per run, the same on every page and chart.

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
