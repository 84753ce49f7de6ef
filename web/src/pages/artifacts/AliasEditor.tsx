// A version's aliases: `latest` shown as it is, the others removable with their ×, new ones
// added through the input (Enter). Each change saves the whole set (the server moves an alias
// here from the version that had it). Read-only servers get the badges alone.

import { useState } from "preact/hooks";
import { ApiError } from "../../api/client";
import { errorMessage } from "../../components/states";
import { aliasProblem, editableAliases } from "./aliases";
import { AliasBadges } from "./common";

export function AliasEditor({ aliases, readOnly, onSave }: {
  aliases: readonly string[];
  readOnly: boolean;
  /** Saves the aliases set by hand (never `latest`); rejects with the server's error. */
  onSave: (next: string[]) => Promise<void>;
}) {
  const [draft, setDraft] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [refused, setRefused] = useState(false); // the server answered 405: read-only after all

  if (readOnly || refused) {
    return (
      <div class="alias-editor" data-testid="alias-editor" data-readonly="true">
        {aliases.length === 0 ? <span class="muted">none</span> : <AliasBadges aliases={aliases} />}
        {refused && <div class="hint">This server shows artifacts read-only: set aliases where the artifact was logged.</div>}
      </div>
    );
  }
  const editable = editableAliases(aliases);
  const save = async (next: string[]): Promise<boolean> => {
    setBusy(true);
    setError(null);
    try {
      await onSave(next);
      return true;
    } catch (err) {
      if (err instanceof ApiError && err.status === 405) setRefused(true);
      else setError(errorMessage(err));
      return false;
    } finally {
      setBusy(false);
    }
  };
  const add = async (): Promise<void> => {
    const names = draft
      .split(",")
      .map((s) => s.trim())
      .filter((s) => s !== "");
    if (names.length === 0) return;
    for (const n of names) {
      const problem = aliasProblem(n);
      if (problem !== null) {
        setError(problem);
        return;
      }
    }
    if (await save(editableAliases([...editable, ...names]))) setDraft("");
  };
  return (
    <div class="alias-editor" data-testid="alias-editor" data-readonly="false">
      <ul class="tag-list" aria-label="Aliases">
        {aliases.includes("latest") && (
          <li class="badge alias alias-latest" data-testid="alias" data-alias="latest" title="latest always names the newest version">
            latest
          </li>
        )}
        {editable.map((a) => (
          <li key={a} class="badge alias tag-removable" data-testid="alias" data-alias={a}>
            <span>{a}</span>
            <button
              type="button"
              class="tag-remove"
              aria-label={`Remove alias ${a}`}
              disabled={busy}
              onClick={() => {
                void save(editable.filter((x) => x !== a));
              }}
            >
              ×
            </button>
          </li>
        ))}
      </ul>
      <input
        class="input input-small"
        type="text"
        value={draft}
        placeholder="Add alias…"
        aria-label="Add an alias"
        disabled={busy}
        data-testid="alias-input"
        onInput={(e) => {
          setDraft(e.currentTarget.value);
        }}
        onKeyDown={(e) => {
          if (e.key === "Enter" || e.key === ",") {
            e.preventDefault();
            void add();
          }
        }}
      />
      {error !== null && (
        <div class="field-error" role="alert" data-testid="alias-error">
          {error}
        </div>
      )}
    </div>
  );
}
