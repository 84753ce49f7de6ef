// A key just created: shown once, with a copy button.

import { CopyOnce } from "../../components/CopyOnce";

/** The new key of `owner`; `onDone` hides it for good (the server keeps only its hash). */
export function NewKey({ owner, apiKey, onDone }: { owner: string; apiKey: string; onDone: () => void }) {
  return (
    <section class="new-key card" aria-label={`New API key for ${owner}`} data-testid="new-key" data-owner={owner}>
      <p role="status">
        <strong>New API key for {owner}.</strong> Copy it now: it is shown only once.
      </p>
      <CopyOnce value={apiKey} label={`API key for ${owner}`} what="key" testid="new-key" onDone={onDone} />
    </section>
  );
}
