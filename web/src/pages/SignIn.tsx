// Sign in with an API key or a username and password.

import { useState } from "preact/hooks";
import { hasStoredKey, login, signInWithKey } from "../api/auth";
import { ApiError } from "../api/client";
import type { Viewer } from "../api/types";
import { FieldError, TextField } from "../components/fields";
import { errorMessage } from "../components/states";
import { useAction, type Action } from "../components/useAction";
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
  const byKey = useAction();
  const byPassword = useAction();
  const busy = byKey.busy || byPassword.busy;

  /** Sign in one way; a failure shows under that way's form, and the other form's message goes. */
  const submit = (e: Event, way: Action, other: Action, signIn: () => Promise<Viewer>): void => {
    e.preventDefault();
    other.setError(null);
    void way.run(async () => {
      onSignedIn(await signIn());
    }, signInError);
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
        <form
          onSubmit={(e) => {
            submit(e, byKey, byPassword, () => signInWithKey(apiKey));
          }}
          class="form"
          data-testid="signin-key-form"
        >
          <TextField
            label="API key"
            mono
            type="password"
            autocomplete="off"
            spellcheck={false}
            placeholder="fwk_…"
            value={apiKey}
            onValue={setApiKey}
            testId="signin-api-key"
          />
          <p class="hint">
            <code>fwtrack login</code> and the server's first start print one; an admin can create more.
          </p>
          <FieldError error={byKey.error} testId="signin-error" />
          <button type="submit" class="btn btn-primary" disabled={busy}>
            {byKey.busy ? "Checking…" : "Sign in with key"}
          </button>
        </form>
        <div class="divider" role="separator">
          <span>or</span>
        </div>
        <form
          onSubmit={(e) => {
            submit(e, byPassword, byKey, () => login(username, password));
          }}
          class="form"
          data-testid="signin-password-form"
        >
          <TextField label="Username" type="text" autocomplete="username" value={username} onValue={setUsername} testId="signin-username" />
          <TextField
            label="Password"
            type="password"
            autocomplete="current-password"
            value={password}
            onValue={setPassword}
            testId="signin-password"
          />
          <FieldError error={byPassword.error} testId="signin-error" />
          <button type="submit" class="btn" disabled={busy}>
            {byPassword.busy ? "Signing in…" : "Sign in with password"}
          </button>
        </form>
      </div>
    </div>
  );
}
