// Which runs the charts show: the first rows of the current order, plus runs shown by hand,
// minus runs hidden by hand (the eye toggles, kept in the URL as `shown=` and `hidden=`).

/** How many runs of the current order the charts show by default. */
export const DEFAULT_VISIBLE = 10;

export interface Visibility {
  /** The first `DEFAULT_VISIBLE` run ids of the current order. */
  defaults: readonly string[];
  shown: readonly string[];
  hidden: readonly string[];
}

/** Whether the charts show `id`. */
export function isVisible(v: Visibility, id: string): boolean {
  if (v.hidden.includes(id)) return false;
  return v.defaults.includes(id) || v.shown.includes(id);
}

/** The runs the charts show, in order: the defaults, then the ones shown by hand. */
export function visibleIds(v: Visibility): string[] {
  const out: string[] = [];
  for (const id of [...v.defaults, ...v.shown]) {
    if (!v.hidden.includes(id) && !out.includes(id)) out.push(id);
  }
  return out;
}

/** The `shown`/`hidden` lists after the eye of `id` was clicked. */
export function toggleVisible(v: Visibility, id: string): { shown: string[]; hidden: string[] } {
  const shown = v.shown.filter((x) => x !== id);
  const hidden = v.hidden.filter((x) => x !== id);
  if (isVisible(v, id)) {
    if (v.defaults.includes(id)) hidden.push(id);
  } else if (!v.defaults.includes(id)) {
    shown.push(id);
  }
  return { shown, hidden };
}
