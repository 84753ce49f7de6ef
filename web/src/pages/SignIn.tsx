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

/** A labelled text input of the password form. */
function TextField(props: { label: string; type: string; autocomplete: string; value: string; onValue: (value: string) => void; testId: string }) {
  return (
    <label class="field">
      <span class="field-label">{props.label}</span>
      <input
        class="input"
        type={props.type}
        autocomplete={props.autocomplete}
        value={props.value}
        onInput={(e) => {
          props.onValue(e.currentTarget.value);
        }}
        data-testid={props.testId}
      />
    </label>
  );
}

/** Two small forms; on success `onSignedIn` (the app then goes to `next`). */
export function SignInPage({ onSignedIn, viewer }: { onSignedIn: (viewer: Viewer) => void; viewer: Viewer | null | undefined }) {
  const [apiKey, setApiKey] = useState("");
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState<"key" | "password" | null>(null);
  const [keyError, setKeyError] = useState<string | null>(null);
  const [pwError, setPwError] = useState<string | null>(null);

  /** Sign in one way; a failure shows under that way's form. */
  const submit = async (e: Event, way: "key" | "password", signIn: () => Promise<Viewer>): Promise<void> => {
    e.preventDefault();
    setBusy(way);
    setKeyError(null);
    setPwError(null);
    try {
      onSignedIn(await signIn());
    } catch (err) {
      (way === "key" ? setKeyError : setPwError)(signInError(err));
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
        <form onSubmit={(e) => void submit(e, "key", () => signInWithKey(apiKey))} class="form" data-testid="signin-key-form">
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
        <form onSubmit={(e) => void submit(e, "password", () => login(username, password))} class="form" data-testid="signin-password-form">
          <TextField label="Username" type="text" autocomplete="username" value={username} onValue={setUsername} testId="signin-username" />
          <TextField
            label="Password"
            type="password"
            autocomplete="current-password"
            value={password}
            onValue={setPassword}
            testId="signin-password"
          />
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
