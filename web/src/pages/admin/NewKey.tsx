// A key just created: shown once, with a copy button.

import { useRef, useState } from "preact/hooks";

/** The new key of `owner`; `onDone` hides it for good (the server keeps only its hash). */
export function NewKey({ owner, apiKey, onDone }: { owner: string; apiKey: string; onDone: () => void }) {
  const inputRef = useRef<HTMLInputElement>(null);
  const [copied, setCopied] = useState<"yes" | "failed" | null>(null);

  const copy = async (): Promise<void> => {
    try {
      await navigator.clipboard.writeText(apiKey);
      setCopied("yes");
    } catch {
      // no clipboard (plain http on another host) or refused: select the text for Ctrl+C
      inputRef.current?.select();
      setCopied("failed");
    }
  };

  return (
    <section class="new-key card" aria-label={`New API key for ${owner}`} data-testid="new-key" data-owner={owner}>
      <p role="status">
        <strong>New API key for {owner}.</strong> Copy it now: it is shown only once.
      </p>
      <div class="new-key-row">
        <input
          ref={inputRef}
          class="input mono new-key-value"
          readOnly
          value={apiKey}
          aria-label={`API key for ${owner}`}
          spellcheck={false}
          onFocus={(e) => {
            e.currentTarget.select();
          }}
          data-testid="new-key-value"
        />
        <button type="button" class="btn" onClick={() => void copy()} data-testid="new-key-copy">
          {copied === "yes" ? "Copied" : "Copy"}
        </button>
        <button type="button" class="btn btn-ghost" onClick={onDone} data-testid="new-key-done">
          Done
        </button>
      </div>
      {copied === "failed" && <p class="hint">The browser did not allow copying: the key is selected, press Ctrl+C.</p>}
    </section>
  );
}
