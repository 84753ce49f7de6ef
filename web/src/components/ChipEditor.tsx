// A list of names as chips: each removed with its ×, new ones added through the input (Enter
// or comma; several at once, comma-separated). Every change saves the whole list. Run tags and
// artifact aliases are edited with it.

import type { ComponentChildren } from "preact";
import { useState } from "preact/hooks";
import { errorMessage } from "./states";

/** `items` with the `names` it lacks appended, in order, each once. */
export function appendNew(items: readonly string[], names: readonly string[]): string[] {
  const next = [...items];
  for (const n of names) if (!next.includes(n)) next.push(n);
  return next;
}

/**
 * Edits `items` through `onSave` (the whole new list). `noun` names the chips (`Remove tag x`,
 * `data-testid="tag"`, `data-tag="x"`, `tag-input`, `tag-error`); `lead` goes before them in
 * the list, not removable. A name `check` refuses is not saved; a failed save keeps the draft
 * and shows what `failure` makes of the error (nothing when it returns null).
 */
export function ChipEditor({ items, noun, listLabel, addLabel, chipClass, lead, check, onSave, failure = errorMessage }: {
  items: readonly string[];
  noun: string;
  /** The list's accessible name (`Tags`). */
  listLabel: string;
  /** The input's accessible name (`Add a tag`). */
  addLabel: string;
  /** The class of a chip, besides `tag-removable`. */
  chipClass: string;
  lead?: ComponentChildren;
  /** Why a name cannot be added, or null when it can. */
  check: (name: string) => string | null;
  onSave: (next: string[]) => Promise<void>;
  failure?: (err: unknown) => string | null;
}) {
  const [draft, setDraft] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const save = async (next: string[]): Promise<boolean> => {
    setBusy(true);
    setError(null);
    try {
      await onSave(next);
      return true;
    } catch (err) {
      setError(failure(err));
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
      const problem = check(n);
      if (problem !== null) {
        setError(problem);
        return;
      }
    }
    if (await save(appendNew(items, names))) setDraft("");
  };
  return (
    <>
      <ul class="tag-list" aria-label={listLabel}>
        {lead}
        {items.map((x) => (
          <li key={x} class={`${chipClass} tag-removable`} data-testid={noun} {...{ [`data-${noun}`]: x }}>
            <span>{x}</span>
            <button
              type="button"
              class="tag-remove"
              aria-label={`Remove ${noun} ${x}`}
              disabled={busy}
              onClick={() => {
                void save(items.filter((y) => y !== x));
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
        placeholder={`Add ${noun}…`}
        aria-label={addLabel}
        disabled={busy}
        data-testid={`${noun}-input`}
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
        <div class="field-error" role="alert" data-testid={`${noun}-error`}>
          {error}
        </div>
      )}
    </>
  );
}
