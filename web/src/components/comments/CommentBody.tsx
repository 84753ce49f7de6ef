// A comment's markdown, drawn by `renderMarkdown` (the only HTML inserted from user text), with
// its `@mentions` highlighted.

import { useLayoutEffect, useMemo, useRef } from "preact/hooks";
import { renderMarkdown } from "../../lib/markdown";
import { highlightMentions } from "./mentions";

export function CommentBody({ text, notified, testid = "comment-body" }: { text: string; notified: readonly string[]; testid?: string }) {
  const ref = useRef<HTMLDivElement>(null);
  const html = useMemo(() => renderMarkdown(text), [text]);
  const names = notified.join(",");
  useLayoutEffect(() => {
    const el = ref.current;
    if (el === null) return;
    el.innerHTML = html; // back to the sanitized markup before highlighting again
    highlightMentions(el, names === "" ? [] : names.split(","));
  }, [html, names]);
  return <div class="comment-body md" ref={ref} data-testid={testid} dangerouslySetInnerHTML={{ __html: html }} />;
}
