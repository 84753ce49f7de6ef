import { describe, expect, it } from "vitest";

import { assembleHtml, DATA_ID, fileName, jsonForScript, scriptForHtml } from "./html";
import type { ExportData } from "./record";

const data = (text: string): ExportData => ({
  format: 1,
  entity: "e",
  project: "p",
  reportId: "abc",
  title: "T",
  exported_at: 1,
  answers: { "/api/v1/reports/e/p/abc": { type: "application/json", text } },
});

describe("the exported HTML", () => {
  it("embeds data no report text can break out of, and reads back equal", () => {
    const evil = '{"text":"</script><script>alert(1)</script><!-- \u2028 </SCRIPT >"}';
    const html = assembleHtml({ title: "A </title> & <b>", css: "a{}</style><p>", js: "var s='</script>';", data: data(evil) });
    const doc = new DOMParser().parseFromString(html, "text/html");
    expect(doc.title).toBe("A </title> & <b>");
    const scripts = Array.from(doc.querySelectorAll("script"));
    expect(scripts).toHaveLength(2);
    const embedded = doc.getElementById(DATA_ID);
    expect(embedded?.getAttribute("type")).toBe("application/json");
    expect(JSON.parse(embedded?.textContent ?? "")).toEqual(data(evil));
    expect(doc.querySelectorAll("style")).toHaveLength(1);
    expect(doc.querySelector("p")).toBeNull();
    expect(doc.getElementById("app")).not.toBeNull();
    expect(html).not.toMatch(/<link|<script[^>]+src=|https?:\/\//);
  });

  it("escapes every < of the data and the closing tags of the script", () => {
    expect(jsonForScript({ a: "</script>" })).toBe('{"a":"\\u003c/script>"}');
    expect(JSON.parse(jsonForScript({ a: "<!--</" }))).toEqual({ a: "<!--</" });
    expect(scriptForHtml('x="</SCRIPT>";y="<!--"')).toBe('x="<\\/SCRIPT>";y="<\\!--"');
    // the escapes mean the same in JavaScript strings
    expect(JSON.parse(scriptForHtml(JSON.stringify("</script>")))).toBe("</script>");
  });

  it("names the file after the report", () => {
    expect(fileName("Loss study: lr/seed", "html")).toBe("Loss study_ lr_seed.html");
    expect(fileName("  ", "zip")).toBe("report.zip");
    expect(fileName("..", "html")).toBe("report.html");
  });
});
