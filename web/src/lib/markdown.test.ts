// @vitest-environment jsdom
// (happy-dom's attribute handling lets DOMPurify keep event handlers; jsdom is a faithful DOM)

import { describe, expect, it } from "vitest";

import { mentionsIn, renderMarkdown } from "./markdown";

describe("renderMarkdown", () => {
  it("renders headings, lists, code and links", () => {
    const html = renderMarkdown("# Title\n\n- a\n- b\n\n`x = 1`\n\n```\ny = 2\n```\n\n[docs](https://example.org)");
    expect(html).toContain("<h1>Title</h1>");
    expect(html).toContain("<li>a</li>");
    expect(html).toContain("<code>x = 1</code>");
    expect(html).toContain("y = 2");
    expect(html).toContain('href="https://example.org"');
    expect(html).toContain('rel="noopener noreferrer"');
  });

  it("draws inline and display math with KaTeX", () => {
    const html = renderMarkdown("Loss $L = \\sum_i x_i$ here.\n\n$$\n\\frac{a}{b}\n$$\n");
    expect(html).toContain('class="katex"');
    expect(html).toContain("katex-display");
    expect(html).toContain("<math");
  });

  it("leaves prices as text", () => {
    expect(renderMarkdown("costs $5 and $6")).not.toContain("katex");
  });

  it("removes scripts, event handlers and javascript: links", () => {
    const html = renderMarkdown('<script>alert(1)</script><img src="x" onerror="alert(2)">\n\n[x](javascript:alert(3))');
    expect(html).not.toContain("<script");
    expect(html).not.toContain("onerror");
    expect(html).not.toContain('href="javascript:');
    expect(html).toContain("<a>x</a>");
  });
});

describe("mentionsIn", () => {
  it("finds distinct names, not e-mail addresses or code", () => {
    expect(mentionsIn("@alice and @bob, thanks @alice. mail me at x@y.org `@carol`")).toEqual(["alice", "bob"]);
  });
});
