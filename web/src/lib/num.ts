/** A number from the server's JSON, where non-finite values are spelled as strings. */
export function toNumber(v: unknown): number | null {
  if (typeof v === "number") return v;
  if (v === "NaN") return Number.NaN;
  if (v === "Infinity") return Number.POSITIVE_INFINITY;
  if (v === "-Infinity") return Number.NEGATIVE_INFINITY;
  return null;
}
