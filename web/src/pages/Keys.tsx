// The viewer's own API keys: create one (optionally expiring, shown once), see and revoke them.

import { useState } from "preact/hooks";
import { createKey, listKeys, type CreatedKey } from "../api/keys";
import type { Viewer } from "../api/types";
import { FieldError, TextField } from "../components/fields";
import { Empty, whenLoaded } from "../components/states";
import { useAction } from "../components/useAction";
import { useAsync } from "../lib/hooks";
import { currentHash, href } from "../lib/route";
import { EXPIRY_CHOICES, expirySeconds } from "./admin/access";
import { KeysTable } from "./admin/KeysTable";
import { NewKey } from "./admin/NewKey";
import "./admin/admin.css";

/** Description and lifetime of a new key. */
function CreateKeyForm({ onCreated }: { onCreated: (key: CreatedKey) => void }) {
  const [description, setDescription] = useState("");
  const [expiry, setExpiry] = useState("never");
  const action = useAction();

  const submit = (e: Event): void => {
    e.preventDefault();
    void action.run(async () => {
      onCreated(await createKey(description, expirySeconds(expiry)));
      setDescription("");
    });
  };

  return (
    <form class="inline-form card" onSubmit={submit} aria-label="Create an API key" data-testid="create-key-form">
      <TextField label="Description" value={description} maxLength={256} placeholder="e.g. CI runner" onValue={setDescription} testId="create-key-description" />
      <label class="field">
        <span class="field-label">Expires after</span>
        <select
          class="input"
          value={expiry}
          onChange={(e) => {
            setExpiry(e.currentTarget.value);
          }}
          data-testid="create-key-expiry"
        >
          {EXPIRY_CHOICES.map((c) => (
            <option key={c.id} value={c.id}>
              {c.label}
            </option>
          ))}
        </select>
      </label>
      <button type="submit" class="btn btn-primary" disabled={action.busy} data-testid="create-key-submit">
        {action.busy ? "Creating…" : "Create key"}
      </button>
      <FieldError error={action.error} class="inline-form-error" />
    </form>
  );
}

function OwnKeys({ viewer }: { viewer: Viewer }) {
  const keys = useAsync((signal) => listKeys(undefined, signal), []);
  const [created, setCreated] = useState<CreatedKey | null>(null);
  return (
    <section class="admin-section" aria-label="Your API keys" data-testid="own-keys-section">
      <p class="hint">
        Programs send a key as <code>Authorization: Bearer fwk_…</code> (<code>fwtrack login</code> stores one). Revoke a key you no longer use.
      </p>
      <CreateKeyForm
        onCreated={(k) => {
          setCreated(k);
          keys.reload();
        }}
      />
      {created !== null && (
        <NewKey
          owner={viewer.name}
          apiKey={created.api_key}
          onDone={() => {
            setCreated(null);
          }}
        />
      )}
      {whenLoaded(keys, { loading: "Loading keys…" }, (data) => (
        <KeysTable owner={viewer.name} keys={data} onRevoked={keys.reload} />
      ))}
    </section>
  );
}

/** `#/keys`: every signed-in user's own keys. */
export function KeysPage({ viewer, local }: { viewer: Viewer | null | undefined; local: boolean }) {
  let body;
  if (viewer === undefined || viewer === null) {
    body = (
      <Empty title="Sign in to see your API keys">
        <p>
          <a href={href.signin(currentHash())}>Sign in</a>
        </p>
      </Empty>
    );
  } else if (local) {
    body = (
      <Empty title="The local dashboard needs no API keys">
        <p>
          <code>fwtrack ui</code> answers without a key. Keys belong to a team server (<code>fwtrack server</code>).
        </p>
      </Empty>
    );
  } else {
    body = <OwnKeys viewer={viewer} />;
  }
  return (
    <div class="page page-narrow keys-page" data-testid="keys-page">
      <h1 class="page-title">API keys</h1>
      {body}
    </div>
  );
}
