// The unread-mentions count shared by the inbox page and the top bar's Inbox link: a change
// (mentions marked read or unread) is announced so the link asks again at once.

const EVENT = "fwtrack:mentions-changed";

/** Tell the Inbox link that the unread count changed. */
export function mentionsChanged(): void {
  window.dispatchEvent(new Event(EVENT));
}

/** Call `fn` whenever the unread count changed; returns the unsubscribe. */
export function onMentionsChanged(fn: () => void): () => void {
  window.addEventListener(EVENT, fn);
  return () => {
    window.removeEventListener(EVENT, fn);
  };
}
