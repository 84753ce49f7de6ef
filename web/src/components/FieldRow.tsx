// A labelled value in an overview's list (`<dl class="fields">`): the run's, a version's.

import type { ComponentChildren } from "preact";

/** One `dt`/`dd` pair of a `<dl class="fields">`. */
export function FieldRow({ label, children, testid }: { label: string; children: ComponentChildren; testid?: string }) {
  return (
    <div class="field-row" data-testid={testid}>
      <dt>{label}</dt>
      <dd>{children}</dd>
    </div>
  );
}
