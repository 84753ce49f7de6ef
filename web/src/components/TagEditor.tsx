// A run's tags: remove with the × of each chip, add through the input (Enter or comma).

import { ChipEditor } from "./ChipEditor";

const TAG_MAX = 256;

/** Edits `tags` through `onChange` (the whole new list); shows the save's error. */
export function TagEditor({ tags, onChange }: { tags: readonly string[]; onChange: (next: string[]) => Promise<void> }) {
  return (
    <div class="tag-editor" data-testid="tag-editor">
      <ChipEditor
        items={tags}
        noun="tag"
        listLabel="Tags"
        addLabel="Add a tag"
        chipClass="tag"
        check={(n) => (n.length > TAG_MAX ? `a tag is at most ${TAG_MAX} characters` : null)}
        onSave={onChange}
      />
    </div>
  );
}
