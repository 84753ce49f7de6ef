// Display formats: durations, relative times, numbers and JSON values.

import type { Json } from "../api/types";

/** `45s`, `3m 20s`, `2h 05m`, `3d 4h`; "-" for a missing or negative value. */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds) || seconds < 0) return "-";
  if (seconds < 1) return seconds === 0 ? "0s" : `${Math.round(seconds * 1000)}ms`;
  const s = Math.floor(seconds);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, "0")}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h ${String(m % 60).padStart(2, "0")}m`;
  const d = Math.floor(h / 24);
  return `${d}d ${h % 24}h`;
}

/** `just now`, `5 min ago`, `3 h ago`, `2 days ago`, then the date. `t` and `now` in Unix seconds. */
export function formatRelative(t: number | null | undefined, now: number = Date.now() / 1000): string {
  if (t === null || t === undefined || !Number.isFinite(t)) return "-";
  const d = now - t;
  if (d < 0) return d > -60 ? "just now" : formatDateTime(t);
  if (d < 45) return "just now";
  if (d < 3600) return `${Math.max(1, Math.round(d / 60))} min ago`;
  if (d < 86400) return `${Math.round(d / 3600)} h ago`;
  if (d < 86400 * 30) {
    const days = Math.round(d / 86400);
    return days === 1 ? "yesterday" : `${days} days ago`;
  }
  return formatDate(t);
}

function pad(n: number): string {
  return String(n).padStart(2, "0");
}

/** `2025-03-14` in local time. */
export function formatDate(t: number): string {
  const d = new Date(t * 1000);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

/** `2025-03-14 09:05:02` in local time. */
export function formatDateTime(t: number | null | undefined): string {
  if (t === null || t === undefined || !Number.isFinite(t)) return "-";
  const d = new Date(t * 1000);
  return `${formatDate(t)} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/**
 * A number for tables: integers as they are (with thin grouping past 6 digits), others with
 * 4 significant digits, very large or small ones in exponent form.
 */
export function formatNumber(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Number.POSITIVE_INFINITY) return "Infinity";
  if (v === Number.NEGATIVE_INFINITY) return "-Infinity";
  if (Number.isInteger(v) && Math.abs(v) < 1e15) {
    return Math.abs(v) >= 1e6 ? v.toLocaleString("en-US") : String(v);
  }
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e9)) return v.toExponential(3).replace(/\.?0+e/, "e");
  return String(Number(v.toPrecision(4)));
}

/** A JSON value in a table cell: numbers formatted, strings as they are, the rest as JSON. */
export function formatValue(v: Json | undefined): string {
  if (v === undefined || v === null) return "";
  if (typeof v === "number") return formatNumber(v);
  if (v === "NaN" || v === "Infinity" || v === "-Infinity") return v;
  if (typeof v === "string") return v;
  if (typeof v === "boolean") return v ? "true" : "false";
  return JSON.stringify(v);
}

/** A byte count: `512 B`, `1.5 KB`, `3.2 MB`. */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n) || n < 0) return "-";
  if (n < 1024) return `${n} B`;
  const units = ["KB", "MB", "GB", "TB"];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i] ?? "TB"}`;
}
