// Inline editing of a text value: shown as text, edited in place, saved with Enter or the button.

import { useEffect, useRef, useState } from "preact/hooks";
import { errorMessage } from "./states";

/**
 * Text that becomes an input on "Edit" (or a textarea when `multiline`). Enter (Ctrl+Enter in a
 * textarea) saves through `onSave`, Esc cancels; the save's error is shown under the field.
 */
export function EditableText({ value, onSave, label, multiline = false, placeholder = "", required = false, testid }: {
  value: string;
  onSave: (next: string) => Promise<void>;
  label: string;
  multiline?: boolean;
  placeholder?: string;
  required?: boolean;
  testid?: string;
}) {
  const [editing, setEditing] = useState(false);
  const [draft, setDraft] = useState(value);
  const [saving, setSaving] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const fieldRef = useRef<HTMLInputElement & HTMLTextAreaElement>(null);
  const editRef = useRef<HTMLButtonElement>(null);
  const wasEditing = useRef(false);

  useEffect(() => {
    if (editing) {
      fieldRef.current?.focus();
      fieldRef.current?.select();
    } else if (wasEditing.current) {
      editRef.current?.focus();
    }
    wasEditing.current = editing;
  }, [editing]);

  const start = (): void => {
    setDraft(value);
    setError(null);
    setEditing(true);
  };
  const cancel = (): void => {
    setEditing(false);
    setError(null);
  };
  const save = async (): Promise<void> => {
    const next = multiline ? draft : draft.trim();
    if (required && next.trim() === "") {
      setError(`${label} cannot be empty`);
      return;
    }
    if (next === value) {
      setEditing(false);
      return;
    }
    setSaving(true);
    setError(null);
    try {
      await onSave(next);
      setEditing(false);
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setSaving(false);
    }
  };
  const onKeyDown = (e: KeyboardEvent): void => {
    if (e.key === "Escape") {
      e.preventDefault();
      e.stopPropagation();
      cancel();
    } else if (e.key === "Enter" && (!multiline || e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      void save();
    }
  };

  if (!editing) {
    return (
      <div class={multiline ? "editable editable-multi" : "editable"} data-testid={testid}>
        <span class={value === "" ? "editable-value muted" : "editable-value"} data-testid={testid === undefined ? undefined : `${testid}-value`}>
          {value === "" ? placeholder : value}
        </span>
        <button type="button" class="btn btn-ghost btn-small" ref={editRef} aria-label={`Edit ${label.toLowerCase()}`} onClick={start}>
          Edit
        </button>
      </div>
    );
  }
  const common = {
    ref: fieldRef,
    value: draft,
    "aria-label": label,
    disabled: saving,
    onInput: (e: Event) => {
      setDraft((e.currentTarget as HTMLInputElement).value);
    },
    onKeyDown,
    class: "input",
  };
  return (
    <div class={multiline ? "editable editing editable-multi" : "editable editing"} data-testid={testid}>
      {multiline ? <textarea {...common} rows={4} placeholder={placeholder} /> : <input {...common} type="text" placeholder={placeholder} />}
      <div class="editable-actions">
        <button type="button" class="btn btn-primary btn-small" disabled={saving} onClick={() => void save()}>
          {saving ? "Saving…" : "Save"}
        </button>
        <button type="button" class="btn btn-small" disabled={saving} onClick={cancel}>
          Cancel
        </button>
        {multiline && <span class="hint">Ctrl+Enter saves, Esc cancels</span>}
      </div>
      {error !== null && (
        <div class="field-error" role="alert">
          {error}
        </div>
      )}
    </div>
  );
}
