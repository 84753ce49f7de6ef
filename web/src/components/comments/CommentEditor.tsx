// The comment box: markdown with a preview, `@` completion of the people a mention notifies,
// Ctrl/Cmd+Enter to send.

import { useEffect, useRef, useState } from "preact/hooks";
import { mentionPeople } from "../../api/comments";
import { errorMessage } from "../states";
import { CommentBody } from "./CommentBody";
import { completeMention, matchPeople, mentionAt } from "./mentions";

const people = new Map<string, Promise<string[]>>();

/** The names an `@` notifies in `entity` (asked once per page load; [] when that fails). */
function peopleOf(entity: string): Promise<string[]> {
  let found = people.get(entity);
  if (found === undefined) {
    found = mentionPeople(entity).catch(() => []);
    people.set(entity, found);
  }
  return found;
}

/** The largest comment the server takes (python/fwtrack/server/comments.py MAX_BODY). */
export const MAX_BODY = 20_000;

export function CommentEditor({
  entity,
  initial = "",
  label,
  submitLabel,
  placeholder = "Write a comment (markdown; @name mentions a teammate)",
  mentions = true,
  autoFocus = false,
  onSubmit,
  onCancel,
  testid = "comment-editor",
}: {
  entity: string;
  initial?: string;
  label: string;
  submitLabel: string;
  placeholder?: string;
  /** Offer `@` completion (not in `fwtrack ui`: nobody else to mention). */
  mentions?: boolean;
  autoFocus?: boolean;
  /** Save the text; a failure is shown and the text kept. */
  onSubmit: (body: string) => Promise<void>;
  onCancel?: () => void;
  testid?: string;
}) {
  const [text, setText] = useState(initial);
  const [preview, setPreview] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [names, setNames] = useState<string[]>([]);
  const [choices, setChoices] = useState<string[]>([]);
  const [active, setActive] = useState(0);
  const area = useRef<HTMLTextAreaElement>(null);

  useEffect(() => {
    if (!mentions) return;
    let live = true;
    void peopleOf(entity).then((found) => {
      if (!live) return;
      setNames(found);
      // someone who typed `@al` before the list arrived gets the suggestions now
      const el = area.current;
      if (el !== null && document.activeElement === el) {
        const at = mentionAt(el.value, el.selectionStart);
        if (at !== null) setChoices(matchPeople(found, at.prefix));
      }
    });
    return () => {
      live = false;
    };
  }, [entity, mentions]);

  useEffect(() => {
    if (autoFocus) area.current?.focus();
  }, [autoFocus]);

  const suggest = (value: string, caret: number): void => {
    const at = mentions ? mentionAt(value, caret) : null;
    setChoices(at === null ? [] : matchPeople(names, at.prefix));
    setActive(0);
  };

  const pick = (name: string): void => {
    const el = area.current;
    const caret = el?.selectionStart ?? text.length;
    const next = completeMention(text, caret, name);
    setText(next.text);
    setChoices([]);
    requestAnimationFrame(() => {
      if (el === null) return;
      el.focus();
      el.setSelectionRange(next.caret, next.caret);
    });
  };

  const empty = text.trim() === "";
  const tooLong = text.length > MAX_BODY;
  const submit = async (): Promise<void> => {
    if (empty || tooLong || busy) return;
    setBusy(true);
    setError(null);
    try {
      await onSubmit(text);
      setText("");
      setPreview(false);
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };

  const onKeyDown = (e: KeyboardEvent): void => {
    if (choices.length > 0) {
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        e.preventDefault();
        const step = e.key === "ArrowDown" ? 1 : -1;
        setActive((i) => (i + step + choices.length) % choices.length);
        return;
      }
      if (e.key === "Enter" || e.key === "Tab") {
        const name = choices[active];
        if (name !== undefined) {
          e.preventDefault();
          pick(name);
          return;
        }
      }
      if (e.key === "Escape") {
        e.preventDefault();
        e.stopPropagation();
        setChoices([]);
        return;
      }
    }
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      void submit();
    } else if (e.key === "Escape" && onCancel !== undefined) {
      e.preventDefault();
      onCancel();
    }
  };

  const listId = `${testid}-people`;
  return (
    <div class="comment-editor" data-testid={testid}>
      <div class="comment-editor-tabs" role="group" aria-label="Write or preview">
        <button type="button" class="btn btn-ghost btn-small" aria-pressed={!preview} onClick={() => { setPreview(false); }} data-testid="comment-write-tab">
          Write
        </button>
        <button type="button" class="btn btn-ghost btn-small" aria-pressed={preview} onClick={() => { setPreview(true); }} disabled={empty} data-testid="comment-preview-tab">
          Preview
        </button>
      </div>
      {preview ? (
        <div class="comment-preview">
          <CommentBody text={text} notified={[]} testid="comment-preview" />
        </div>
      ) : (
        <div class="comment-input">
          <textarea
            ref={area}
            class="comment-textarea"
            aria-label={label}
            placeholder={placeholder}
            value={text}
            rows={3}
            role="combobox"
            aria-autocomplete="list"
            aria-expanded={choices.length > 0}
            aria-controls={listId}
            aria-activedescendant={choices.length > 0 ? `${listId}-${active}` : undefined}
            onInput={(e) => {
              const el = e.currentTarget;
              setText(el.value);
              suggest(el.value, el.selectionStart);
            }}
            onKeyDown={onKeyDown}
            onBlur={() => {
              // let a click on a suggestion land first
              setTimeout(() => { setChoices([]); }, 150);
            }}
            data-testid="comment-input"
          />
          {choices.length > 0 && (
            <ul class="mention-choices" role="listbox" id={listId} aria-label="People to mention" data-testid="mention-choices">
              {choices.map((name, i) => (
                <li
                  key={name}
                  id={`${listId}-${i}`}
                  role="option"
                  aria-selected={i === active}
                  class={i === active ? "mention-choice active" : "mention-choice"}
                  onMouseDown={(e) => {
                    e.preventDefault();
                    pick(name);
                  }}
                >
                  @{name}
                </li>
              ))}
            </ul>
          )}
        </div>
      )}
      {tooLong && (
        <div class="field-error" role="alert">
          The comment is {text.length} characters long; the limit is {MAX_BODY}.
        </div>
      )}
      {error !== null && (
        <div class="field-error" role="alert" data-testid="comment-error">
          {error}
        </div>
      )}
      <div class="comment-editor-actions">
        <span class="muted comment-hint">Markdown and $math$; Ctrl+Enter sends</span>
        {onCancel !== undefined && (
          <button type="button" class="btn btn-small" onClick={onCancel} disabled={busy} data-testid="comment-cancel">
            Cancel
          </button>
        )}
        <button type="button" class="btn btn-primary btn-small" disabled={empty || tooLong || busy} onClick={() => void submit()} data-testid="comment-submit">
          {busy ? "Saving…" : submitLabel}
        </button>
      </div>
    </div>
  );
}
