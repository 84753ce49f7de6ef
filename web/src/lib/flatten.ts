// Nested config/summary objects as flat key/value rows.

import type { Json } from "../api/types";

function isObject(v: Json | undefined): v is { [key: string]: Json } {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * `{"model": {"layers": 4}}` -> `[["model/layers", 4]]` (joined by `sep`), in key order.
 * Empty objects stay as a row of their own; arrays are values.
 */
export function flatten(obj: Record<string, Json>, sep = "/"): [string, Json][] {
  const out: [string, Json][] = [];
  const walk = (o: Record<string, Json>, prefix: string): void => {
    for (const [k, v] of Object.entries(o)) {
      const key = prefix === "" ? k : `${prefix}${sep}${k}`;
      if (isObject(v) && Object.keys(v).length > 0) walk(v, key);
      else out.push([key, v]);
    }
  };
  walk(obj, "");
  return out;
}

/** The value at a `.`-separated path (`model.layers`), or `undefined`. */
export function getPath(obj: Record<string, Json>, path: string): Json | undefined {
  if (path in obj) return obj[path];
  let cur: Json | undefined = obj;
  for (const part of path.split(".")) {
    if (!isObject(cur)) return undefined;
    cur = cur[part];
  }
  return cur;
}

/** Deep equality of two JSON values (for highlighting differences). */
export function jsonEqual(a: Json | undefined, b: Json | undefined): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined || a === null || b === null) return false;
  if (typeof a !== "object" || typeof b !== "object") return false;
  return JSON.stringify(a) === JSON.stringify(b);
}
