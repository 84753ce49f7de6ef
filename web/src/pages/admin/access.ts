// Who may use the access pages, and the choices they offer.

import type { Viewer } from "../../api/types";

/** The one user of `fwtrack ui` (python/fwtrack/server/app.py `LOCAL_USER`). */
export const LOCAL_USER = "local";

/**
 * Whether the dashboard runs on `fwtrack ui`: it answers every request, without a key, as its
 * local admin. A team server always needs a key, so with a stored key this is a team server
 * even for a user named `local`.
 */
export function isLocalViewer(viewer: Viewer, hasKey: boolean): boolean {
  return viewer.name === LOCAL_USER && viewer.is_admin && !hasKey;
}

/** Lifetimes offered for a new API key (`undefined`: never expires). */
export const EXPIRY_CHOICES: readonly { id: string; label: string; seconds: number | undefined }[] = [
  { id: "never", label: "Never", seconds: undefined },
  { id: "1d", label: "1 day", seconds: 86_400 },
  { id: "7d", label: "7 days", seconds: 7 * 86_400 },
  { id: "30d", label: "30 days", seconds: 30 * 86_400 },
  { id: "90d", label: "90 days", seconds: 90 * 86_400 },
  { id: "365d", label: "1 year", seconds: 365 * 86_400 },
];

/** The seconds of an expiry choice (`undefined` for "never" and unknown ids). */
export function expirySeconds(id: string): number | undefined {
  return EXPIRY_CHOICES.find((c) => c.id === id)?.seconds;
}

/** Why a password cannot be set, or null when the server will take it. */
export function passwordProblem(password: string, min: number): string | null {
  if (password.length < min) return `a password has at least ${min} characters`;
  if (password.length > 1024) return "a password has at most 1024 characters";
  return null;
}
