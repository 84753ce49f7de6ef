// A secret shown once (a new API key, an invitation link): the value selected on focus, a copy
// button that falls back to selecting the text, and Done. Test ids: `<testid>-value|copy|done`.

import { useRef, useState } from "preact/hooks";

export function CopyOnce({ value, label, what, testid, onDone }: { value: string; label: string; what: string; testid: string; onDone: () => void }) {
  const inputRef = useRef<HTMLInputElement>(null);
  const [copied, setCopied] = useState<"yes" | "failed" | null>(null);

  const copy = async (): Promise<void> => {
    try {
      await navigator.clipboard.writeText(value);
      setCopied("yes");
    } catch {
      // no clipboard (plain http on another host) or refused: select the text for Ctrl+C
      inputRef.current?.select();
      setCopied("failed");
    }
  };

  return (
    <>
      <div class="new-key-row">
        <input
          ref={inputRef}
          class="input mono new-key-value"
          readOnly
          value={value}
          aria-label={label}
          spellcheck={false}
          onFocus={(e) => {
            e.currentTarget.select();
          }}
          data-testid={`${testid}-value`}
        />
        <button type="button" class="btn" onClick={() => void copy()} data-testid={`${testid}-copy`}>
          {copied === "yes" ? "Copied" : "Copy"}
        </button>
        <button type="button" class="btn btn-ghost" onClick={onDone} data-testid={`${testid}-done`}>
          Done
        </button>
      </div>
      {copied === "failed" && <p class="hint">The browser did not allow copying: the {what} is selected, press Ctrl+C.</p>}
    </>
  );
}
