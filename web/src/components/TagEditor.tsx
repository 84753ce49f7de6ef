// A run's tags: remove with the × of each chip, add through the input (Enter or comma).

import { useState } from "preact/hooks";
import { errorMessage } from "./states";

const TAG_MAX = 256;

/** Edits `tags` through `onChange` (the whole new list); shows the save's error. */
export function TagEditor({ tags, onChange }: { tags: readonly string[]; onChange: (next: string[]) => Promise<void> }) {
  const [draft, setDraft] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const commit = async (next: string[]): Promise<void> => {
    setBusy(true);
    setError(null);
    try {
      await onChange(next);
      return;
    } catch (err) {
      setError(errorMessage(err));
      throw err;
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
    const long = names.find((n) => n.length > TAG_MAX);
    if (long !== undefined) {
      setError(`a tag is at most ${TAG_MAX} characters`);
      return;
    }
    const next = [...tags];
    for (const n of names) if (!next.includes(n)) next.push(n);
    try {
      await commit(next);
      setDraft("");
    } catch {
      // shown by commit
    }
  };
  const remove = (tag: string): void => {
    void commit(tags.filter((t) => t !== tag)).catch(() => undefined);
  };

  return (
    <div class="tag-editor" data-testid="tag-editor">
      <ul class="tag-list" aria-label="Tags">
        {tags.map((t) => (
          <li key={t} class="tag tag-removable" data-testid="tag">
            <span>{t}</span>
            <button type="button" class="tag-remove" aria-label={`Remove tag ${t}`} disabled={busy} onClick={() => {
                remove(t);
              }}>
              ×
            </button>
          </li>
        ))}
      </ul>
      <input
        class="input input-small"
        type="text"
        value={draft}
        placeholder="Add tag…"
        aria-label="Add a tag"
        disabled={busy}
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
        <div class="field-error" role="alert">
          {error}
        </div>
      )}
    </div>
  );
}
