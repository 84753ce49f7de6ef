// A modal confirmation: focus trapped inside, Esc cancels, focus returns where it was.

import type { ComponentChildren } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { errorMessage } from "./states";

const FOCUSABLE = 'button:not([disabled]), [href], input:not([disabled]), select, textarea, [tabindex]:not([tabindex="-1"])';

/**
 * Asks before something that cannot be undone. `onConfirm` may fail: its error is shown and the
 * dialog stays open. The cancel button has the initial focus (the safe choice).
 */
export function ConfirmDialog({ title, children, confirmLabel = "Confirm", danger = false, onConfirm, onCancel }: {
  title: string;
  children?: ComponentChildren;
  confirmLabel?: string;
  danger?: boolean;
  onConfirm: () => Promise<void>;
  onCancel: () => void;
}) {
  const ref = useRef<HTMLDivElement>(null);
  const cancelRef = useRef<HTMLButtonElement>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    const before = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    cancelRef.current?.focus();
    return () => {
      before?.focus();
    };
  }, []);

  const onKeyDown = (e: KeyboardEvent): void => {
    if (e.key === "Escape") {
      e.preventDefault();
      e.stopPropagation();
      if (!busy) onCancel();
      return;
    }
    if (e.key !== "Tab" || ref.current === null) return;
    const items = [...ref.current.querySelectorAll<HTMLElement>(FOCUSABLE)];
    const first = items[0];
    const last = items[items.length - 1];
    if (first === undefined || last === undefined) return;
    if (e.shiftKey && document.activeElement === first) {
      e.preventDefault();
      last.focus();
    } else if (!e.shiftKey && document.activeElement === last) {
      e.preventDefault();
      first.focus();
    }
  };
  const confirm = async (): Promise<void> => {
    setBusy(true);
    setError(null);
    try {
      await onConfirm();
    } catch (err) {
      setError(errorMessage(err));
      setBusy(false);
    }
  };

  return (
    <div
      class="modal-backdrop"
      onMouseDown={(e) => {
        if (e.target === e.currentTarget && !busy) onCancel();
      }}
    >
      <div
        class="modal"
        role="alertdialog"
        aria-modal="true"
        aria-labelledby="confirm-title"
        aria-describedby="confirm-body"
        ref={ref}
        onKeyDown={onKeyDown}
        data-testid="confirm-dialog"
      >
        <h2 id="confirm-title" class="modal-title">
          {title}
        </h2>
        <div id="confirm-body" class="modal-body">
          {children}
        </div>
        {error !== null && (
          <div class="field-error" role="alert">
            {error}
          </div>
        )}
        <div class="modal-actions">
          <button type="button" class="btn" ref={cancelRef} disabled={busy} onClick={onCancel} data-testid="confirm-cancel">
            Cancel
          </button>
          <button
            type="button"
            class={danger ? "btn btn-danger" : "btn btn-primary"}
            disabled={busy}
            onClick={() => void confirm()}
            data-testid="confirm-ok"
          >
            {busy ? "Working…" : confirmLabel}
          </button>
        </div>
      </div>
    </div>
  );
}
