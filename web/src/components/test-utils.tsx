// Helpers for component tests: render into a fresh container, fire DOM events inside act().

import { render, type ComponentChild } from "preact";
import { act } from "preact/test-utils";

/** Render `node` into a new container attached to the document. */
export function mount(node: ComponentChild): { container: HTMLElement; unmount: () => void } {
  const container = document.createElement("div");
  document.body.appendChild(container);
  void act(() => {
    render(node, container);
  });
  return {
    container,
    unmount: () => {
      void act(() => {
        render(null, container);
      });
      container.remove();
    },
  };
}

/** Press a key on `el` (keydown, bubbling). */
export function press(el: Element, key: string, init: KeyboardEventInit = {}): void {
  void act(() => {
    el.dispatchEvent(new KeyboardEvent("keydown", { key, bubbles: true, cancelable: true, ...init }));
  });
}

/** Click `el`. */
export function click(el: Element): void {
  void act(() => {
    (el as HTMLElement).click();
  });
}

/** Type `value` into an input (sets it and fires `input`). */
export function type(el: Element, value: string): void {
  void act(() => {
    (el as HTMLInputElement).value = value;
    el.dispatchEvent(new Event("input", { bubbles: true }));
  });
}

/** Let pending promises and the renders they cause settle. */
export async function settle(): Promise<void> {
  await act(async () => {
    await new Promise((r) => setTimeout(r, 0));
  });
}

/** The element matching `selector` inside `root` (throws when missing: a clear test failure). */
export function $(root: ParentNode, selector: string): HTMLElement {
  const el = root.querySelector<HTMLElement>(selector);
  if (el === null) throw new Error(`no element matches ${selector}`);
  return el;
}
