// API keys: the viewer's own (list, create with an optional expiry, revoke) and, for admins,
// any user's (list, revoke).

import { request } from "./client";
import { userPath } from "./users";

/** An API key as the server lists it: never the key itself, only its prefix. Unix seconds. */
export interface KeyInfo {
  id: number;
  prefix: string;
  description: string;
  created_at: number;
  last_used_at: number | null;
  expires_at: number | null;
  revoked: boolean;
  expired: boolean;
}

/** `POST /keys`: the new key, shown only in this answer. */
export interface CreatedKey {
  id: number;
  api_key: string;
  expires_at: number | null;
}

export type KeyStatus = "active" | "revoked" | "expired";

/** The viewer's keys, or (admins) the keys of `user`. */
export async function listKeys(user?: string, signal?: AbortSignal): Promise<KeyInfo[]> {
  const path = user === undefined ? "/keys" : `${userPath(user)}/keys`;
  const data = await request<{ keys: KeyInfo[] }>(path, signal === undefined ? {} : { signal });
  return data.keys;
}

/** A new key for the viewer; `expiresIn` in seconds, none for a key that never expires. */
export function createKey(description: string, expiresIn?: number): Promise<CreatedKey> {
  const body: { description: string; expires_in?: number } = { description: description.trim() };
  if (expiresIn !== undefined) body.expires_in = Math.round(expiresIn);
  return request<CreatedKey>("/keys", { method: "POST", body });
}

/** Revoke a key (its owner or an admin); it stops working at once. */
export function revokeKey(id: number): Promise<{ id: number; revoked: boolean }> {
  return request<{ id: number; revoked: boolean }>(`/keys/${encodeURIComponent(String(id))}`, { method: "DELETE" });
}

/** Revoked wins over expired; a key past its `expires_at` counts as expired even before the server says so. */
export function keyStatus(key: KeyInfo, now: number = Date.now() / 1000): KeyStatus {
  if (key.revoked) return "revoked";
  if (key.expired || (key.expires_at !== null && key.expires_at <= now)) return "expired";
  return "active";
}

/** Whether `apiKey` (a full `fwk_...` key) is the key listed as `key` (its prefix). */
export function isKey(key: KeyInfo, apiKey: string | null): boolean {
  return apiKey !== null && key.prefix !== "" && apiKey.startsWith(key.prefix);
}
