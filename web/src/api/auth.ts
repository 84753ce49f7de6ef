// Who is signed in: the viewer, login with a password, sign-in with an API key, sign-out.

import { ApiError, request, storeApiKey, storedApiKey } from "./client";
import type { Viewer } from "./types";

/** The user of the stored key; `fwtrack ui` answers without a key (its local user). */
export function getViewer(signal?: AbortSignal): Promise<Viewer> {
  return request<Viewer>("/viewer", signal === undefined ? {} : { signal });
}

/** Check `apiKey` against `/viewer` and store it when the server accepts it. */
export async function signInWithKey(apiKey: string): Promise<Viewer> {
  const key = apiKey.trim();
  if (key === "") throw new ApiError(400, "enter an API key (it starts with fwk_)");
  const viewer = await request<Viewer>("/viewer", { apiKey: key, auth: false });
  storeApiKey(key);
  return viewer;
}

/** Exchange a username and password for a new API key, store it, and answer the viewer. */
export async function login(username: string, password: string): Promise<Viewer> {
  if (username.trim() === "" || password === "") {
    throw new ApiError(400, "enter a username and a password");
  }
  const { api_key } = await request<{ api_key: string }>("/login", {
    method: "POST",
    body: { username: username.trim(), password },
    auth: false,
  });
  return signInWithKey(api_key);
}

/** Forget the stored key. */
export function signOut(): void {
  storeApiKey(null);
}

/** Whether a key is stored (a server in `fwtrack ui` mode needs none). */
export function hasStoredKey(): boolean {
  return storedApiKey() !== null;
}
