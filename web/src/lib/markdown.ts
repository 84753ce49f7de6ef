// Markdown for report blocks and comments: GitHub-flavoured markdown (headings, lists, code,
// tables, links) with `$inline$` and `$$display$$` math drawn by KaTeX, sanitized by DOMPurify.
// `renderMarkdown`'s output is the only HTML the dashboard inserts from user text.

import DOMPurify from "dompurify";
import katex from "katex";
import "katex/dist/katex.min.css";
import { Marked, type TokenizerAndRendererExtension } from "marked";

function math(tex: string, displayMode: boolean): string {
  return katex.renderToString(tex, { displayMode, throwOnError: false, output: "htmlAndMathml", trust: false, strict: "ignore" });
}

const blockMath: TokenizerAndRendererExtension = {
  name: "blockMath",
  level: "block",
  start: (src) => src.match(/^\$\$/m)?.index,
  tokenizer(src) {
    const m = /^\$\$\n?([\s\S]+?)\n?\$\$(?:\n|$)/.exec(src);
    if (m === null) return undefined;
    return { type: "blockMath", raw: m[0], text: (m[1] ?? "").trim() };
  },
  renderer: (token) => `<div class="md-math">${math(String(token.text), true)}</div>`,
};

const inlineMath: TokenizerAndRendererExtension = {
  name: "inlineMath",
  level: "inline",
  start: (src) => src.indexOf("$"),
  tokenizer(src) {
    // `$x$` with no space just inside the dollars, so "costs $5 and $6" stays text
    const m = /^\$(?!\s)((?:\\\$|[^$\n])+?)(?<!\s)\$(?!\d)/.exec(src);
    if (m === null) return undefined;
    return { type: "inlineMath", raw: m[0], text: m[1] ?? "" };
  },
  renderer: (token) => math(String(token.text), false),
};

const marked = new Marked({ gfm: true, breaks: false, async: false });
marked.use({ extensions: [blockMath, inlineMath] });

let hooked = false;

function hookLinks(): void {
  if (hooked) return;
  hooked = true;
  // links leave the dashboard in a new tab without handing it a window.opener
  DOMPurify.addHook("afterSanitizeAttributes", (node) => {
    if (node instanceof Element && node.tagName === "A" && node.hasAttribute("href")) {
      const target = node.getAttribute("href") ?? "";
      if (!target.startsWith("#")) {
        node.setAttribute("target", "_blank");
        node.setAttribute("rel", "noopener noreferrer");
      }
    }
  });
}

/** Sanitized HTML for markdown `text` (safe to insert with `dangerouslySetInnerHTML`). */
export function renderMarkdown(text: string): string {
  hookLinks();
  const html = marked.parse(text) as string;
  return DOMPurify.sanitize(html, {
    USE_PROFILES: { html: true, mathMl: true, svg: true },
    FORBID_TAGS: ["style", "form", "input", "button", "iframe", "object", "embed"],
    ADD_ATTR: ["target"],
  });
}

const MENTION = /(^|[^\w@./-])@([A-Za-z0-9][A-Za-z0-9_.-]{0,63})/g;

/** The distinct `@names` in `text`, outside code spans and code blocks, in order. */
export function mentionsIn(text: string): string[] {
  const withoutCode = text.replace(/```[\s\S]*?```/g, " ").replace(/`[^`\n]*`/g, " ");
  const out: string[] = [];
  for (const m of withoutCode.matchAll(MENTION)) {
    const name = (m[2] ?? "").replace(/[.-]+$/, "");
    if (name !== "" && !out.includes(name)) out.push(name);
  }
  return out;
}
