// `@name` mentions in comments: highlighting them in rendered markdown, and completing the name
// being typed in the comment box.

// the same names as `mentionsIn` (lib/markdown.ts) reads
const MENTION = /(^|[^\w@./-])@([A-Za-z0-9][A-Za-z0-9_.-]{0,63})/g;
const SKIP = new Set(["CODE", "PRE", "A", "KBD", "SAMP", "SCRIPT", "STYLE"]);

function skipped(node: Node, root: Node): boolean {
  for (let p = node.parentNode; p !== null && p !== root; p = p.parentNode) {
    if (p instanceof Element && (SKIP.has(p.tagName) || p.classList.contains("katex") || p.classList.contains("mention"))) return true;
  }
  return false;
}

/**
 * Wraps every `@name` of the text under `root` (not in code, links or math) in
 * `<span class="mention">`, with `mention-notified` for the names in `notified`. Adds elements
 * around existing text only: the markup stays what `renderMarkdown` made.
 */
export function highlightMentions(root: HTMLElement, notified: readonly string[]): void {
  const doc = root.ownerDocument;
  const lower = new Set(notified.map((n) => n.toLowerCase()));
  const walker = doc.createTreeWalker(root, 4 /* NodeFilter.SHOW_TEXT */);
  const texts: Text[] = [];
  for (let n = walker.nextNode(); n !== null; n = walker.nextNode()) {
    const t = n as Text;
    if (t.data.includes("@") && !skipped(t, root)) texts.push(t);
  }
  for (const text of texts) {
    const data = text.data;
    const parts: (string | HTMLElement)[] = [];
    let last = 0;
    for (const m of data.matchAll(MENTION)) {
      const name = (m[2] ?? "").replace(/[.-]+$/, "");
      if (name === "") continue;
      const at = m.index + (m[1] ?? "").length;
      if (at > last) parts.push(data.slice(last, at));
      const span = doc.createElement("span");
      span.className = lower.has(name.toLowerCase()) ? "mention mention-notified" : "mention";
      span.dataset.testid = "mention";
      span.textContent = `@${name}`;
      parts.push(span);
      last = at + 1 + name.length;
    }
    if (parts.length === 0) continue;
    if (last < data.length) parts.push(data.slice(last));
    text.replaceWith(...parts);
  }
}

/** The `@prefix` being typed just before `caret` (its start and the prefix), or null. */
export function mentionAt(text: string, caret: number): { start: number; prefix: string } | null {
  const m = /(^|[^\w@./-])@([A-Za-z0-9_.-]{0,64})$/.exec(text.slice(0, caret));
  if (m === null) return null;
  const prefix = m[2] ?? "";
  return { start: caret - prefix.length - 1, prefix };
}

/** `text` with the `@prefix` before `caret` replaced by `@name ` and the caret after it. */
export function completeMention(text: string, caret: number, name: string): { text: string; caret: number } {
  const at = mentionAt(text, caret);
  if (at === null) return { text, caret };
  const inserted = `@${name} `;
  return { text: text.slice(0, at.start) + inserted + text.slice(caret), caret: at.start + inserted.length };
}

/** The people whose names start with (then contain) `prefix`, case-insensitively, at most `max`. */
export function matchPeople(people: readonly string[], prefix: string, max = 6): string[] {
  const p = prefix.toLowerCase();
  const starts = people.filter((n) => n.toLowerCase().startsWith(p));
  const contains = people.filter((n) => !n.toLowerCase().startsWith(p) && n.toLowerCase().includes(p));
  return [...starts, ...contains].slice(0, max);
}
