// Sign in with an API key or a username and password.

import { useState } from "preact/hooks";
import { hasStoredKey, login, signInWithKey } from "../api/auth";
import { ApiError } from "../api/client";
import type { Viewer } from "../api/types";
import { errorMessage } from "../components/states";
import { href } from "../lib/route";

function signInError(err: unknown): string {
  if (err instanceof ApiError && err.status === 401) {
    return err.detail !== "" && err.detail !== "Unauthorized" ? err.detail : "the server does not accept this key";
  }
  return errorMessage(err);
}

/** Two small forms; on success `onSignedIn` (the app then goes to `next`). */
export function SignInPage({ onSignedIn, viewer }: { onSignedIn: (viewer: Viewer) => void; viewer: Viewer | null | undefined }) {
  const [apiKey, setApiKey] = useState("");
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState<"key" | "password" | null>(null);
  const [keyError, setKeyError] = useState<string | null>(null);
  const [pwError, setPwError] = useState<string | null>(null);

  const submitKey = async (e: Event): Promise<void> => {
    e.preventDefault();
    setBusy("key");
    setKeyError(null);
    setPwError(null);
    try {
      onSignedIn(await signInWithKey(apiKey));
    } catch (err) {
      setKeyError(signInError(err));
    } finally {
      setBusy(null);
    }
  };
  const submitPassword = async (e: Event): Promise<void> => {
    e.preventDefault();
    setBusy("password");
    setKeyError(null);
    setPwError(null);
    try {
      onSignedIn(await login(username, password));
    } catch (err) {
      setPwError(signInError(err));
    } finally {
      setBusy(null);
    }
  };

  return (
    <div class="page signin" data-testid="signin-page">
      <div class="card signin-card">
        <h1 class="signin-title">Sign in to fwtrack</h1>
        {viewer !== undefined && viewer !== null && (
          <p class="notice" role="status" data-testid="signin-already">
            You are signed in as <strong>{viewer.name}</strong>
            {hasStoredKey() ? "" : " (this server needs no key)"}. <a href={href.projects()}>Go to the projects</a>
          </p>
        )}
        <form onSubmit={(e) => void submitKey(e)} class="form" data-testid="signin-key-form">
          <label class="field">
            <span class="field-label">API key</span>
            <input
              class="input mono"
              type="password"
              autocomplete="off"
              spellcheck={false}
              placeholder="fwk_…"
              value={apiKey}
              onInput={(e) => {
                setApiKey(e.currentTarget.value);
              }}
              data-testid="signin-api-key"
            />
          </label>
          <p class="hint">
            <code>fwtrack login</code> and the server's first start print one; an admin can create more.
          </p>
          {keyError !== null && (
            <div class="field-error" role="alert" data-testid="signin-error">
              {keyError}
            </div>
          )}
          <button type="submit" class="btn btn-primary" disabled={busy !== null}>
            {busy === "key" ? "Checking…" : "Sign in with key"}
          </button>
        </form>
        <div class="divider" role="separator">
          <span>or</span>
        </div>
        <form onSubmit={(e) => void submitPassword(e)} class="form" data-testid="signin-password-form">
          <label class="field">
            <span class="field-label">Username</span>
            <input
              class="input"
              type="text"
              autocomplete="username"
              value={username}
              onInput={(e) => {
                setUsername(e.currentTarget.value);
              }}
              data-testid="signin-username"
            />
          </label>
          <label class="field">
            <span class="field-label">Password</span>
            <input
              class="input"
              type="password"
              autocomplete="current-password"
              value={password}
              onInput={(e) => {
                setPassword(e.currentTarget.value);
              }}
              data-testid="signin-password"
            />
          </label>
          {pwError !== null && (
            <div class="field-error" role="alert" data-testid="signin-error">
              {pwError}
            </div>
          )}
          <button type="submit" class="btn" disabled={busy !== null}>
            {busy === "password" ? "Signing in…" : "Sign in with password"}
          </button>
        </form>
      </div>
    </div>
  );
}
