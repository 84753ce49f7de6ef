// Tabs: a tablist with arrow-key navigation (WAI-ARIA tabs pattern, automatic activation).

import type { ComponentChildren } from "preact";
import { useRef } from "preact/hooks";

export interface TabItem {
  id: string;
  label: string;
}

/** The tab bar; the caller renders the selected panel inside `<TabPanel>`. */
export function Tabs({ tabs, selected, onSelect, label }: {
  tabs: readonly TabItem[];
  selected: string;
  onSelect: (id: string) => void;
  label: string;
}) {
  const listRef = useRef<HTMLDivElement>(null);
  const onKeyDown = (e: KeyboardEvent): void => {
    const i = tabs.findIndex((t) => t.id === selected);
    let next = -1;
    if (e.key === "ArrowRight") next = (i + 1) % tabs.length;
    else if (e.key === "ArrowLeft") next = (i - 1 + tabs.length) % tabs.length;
    else if (e.key === "Home") next = 0;
    else if (e.key === "End") next = tabs.length - 1;
    if (next < 0) return;
    e.preventDefault();
    const tab = tabs[next];
    if (tab === undefined) return;
    onSelect(tab.id);
    const el = listRef.current?.querySelector<HTMLElement>(`[data-tab="${CSS.escape(tab.id)}"]`);
    el?.focus();
  };
  return (
    <div class="tabs" role="tablist" aria-label={label} ref={listRef} onKeyDown={onKeyDown}>
      {tabs.map((t) => (
        <button
          key={t.id}
          type="button"
          role="tab"
          id={`tab-${t.id}`}
          data-tab={t.id}
          data-testid={`tab-${t.id}`}
          aria-selected={t.id === selected}
          aria-controls={`tabpanel-${t.id}`}
          tabIndex={t.id === selected ? 0 : -1}
          class={t.id === selected ? "tab tab-selected" : "tab"}
          onClick={() => {
            onSelect(t.id);
          }}
        >
          {t.label}
        </button>
      ))}
    </div>
  );
}

/** The panel of the selected tab. */
export function TabPanel({ id, children }: { id: string; children: ComponentChildren }) {
  return (
    <div class="tabpanel" role="tabpanel" id={`tabpanel-${id}`} aria-labelledby={`tab-${id}`}>
      {children}
    </div>
  );
}
