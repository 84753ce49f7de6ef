// Panels of the report page drawn to PNG for the Markdown export: uPlot canvases copied as they
// are, SVG (parallel coordinates, lineage, Vega) through an Image, images as shown, and a panel
// with none of these (a number) as its text. Tables are read as rows instead.

const PAD = 8;

function loadImage(src: string): Promise<HTMLImageElement> {
  return new Promise((ok, fail) => {
    const img = new Image();
    img.onload = () => {
      ok(img);
    };
    img.onerror = () => {
      fail(new Error("image could not be decoded"));
    };
    img.src = src;
  });
}

/** An SVG element as a standalone image (its computed size, the xmlns it needs). */
async function svgImage(svg: SVGSVGElement, w: number, h: number): Promise<HTMLImageElement> {
  const copy = svg.cloneNode(true) as SVGSVGElement;
  copy.setAttribute("xmlns", "http://www.w3.org/2000/svg");
  copy.setAttribute("width", String(w));
  copy.setAttribute("height", String(h));
  const text = new XMLSerializer().serializeToString(copy);
  return loadImage(`data:image/svg+xml;charset=utf-8,${encodeURIComponent(text)}`);
}

function canvasPng(canvas: HTMLCanvasElement): Promise<Uint8Array> {
  return new Promise((ok, fail) => {
    canvas.toBlob((blob) => {
      if (blob === null) {
        fail(new Error("the panel could not be encoded as PNG"));
        return;
      }
      void blob.arrayBuffer().then((buf) => {
        ok(new Uint8Array(buf));
      }, fail);
    }, "image/png");
  });
}

/** A cell's text without its decorations (sort arrows); a config/summary column by its key. */
function cellText(c: Element): string {
  const field = c.getAttribute("data-field") ?? "";
  if (c.tagName === "TH" && /^(config|summary)\./.test(field)) return field;
  const copy = c.cloneNode(true) as Element;
  for (const hidden of Array.from(copy.querySelectorAll('[aria-hidden="true"]'))) hidden.remove();
  return copy.textContent.replace(/\s+/g, " ").trim();
}

/** The rows of the first table in `el` (header first), or null when it has none. */
export function tableRows(el: Element): string[][] | null {
  const table = el.querySelector("table");
  if (table === null) return null;
  const rows: string[][] = [];
  for (const tr of Array.from(table.querySelectorAll("tr"))) {
    const cells = Array.from(tr.querySelectorAll("th, td")).map(cellText);
    if (cells.length > 0) rows.push(cells);
  }
  // columns of controls only (select, show/hide) carry no text: left out
  const width = Math.max(0, ...rows.map((r) => r.length));
  const keep = Array.from({ length: width }, (_, i) => i).filter((i) => rows.some((r) => (r[i] ?? "") !== ""));
  return rows.map((r) => keep.map((i) => r[i] ?? ""));
}

/** The panel element drawn as one PNG: its canvases, SVGs and images at their places on a white ground. */
export async function panelPng(el: HTMLElement): Promise<Uint8Array> {
  const box = el.getBoundingClientRect();
  const width = Math.max(1, Math.round(box.width));
  const height = Math.max(1, Math.round(box.height));
  const scale = Math.max(1, Math.min(2, window.devicePixelRatio || 1));
  const canvas = document.createElement("canvas");
  canvas.width = Math.round(width * scale);
  canvas.height = Math.round(height * scale);
  const ctx = canvas.getContext("2d");
  if (ctx === null) throw new Error("no 2D canvas in this browser");
  ctx.scale(scale, scale);
  ctx.fillStyle = "#ffffff";
  ctx.fillRect(0, 0, width, height);
  let drawn = 0;
  for (const node of Array.from(el.querySelectorAll("canvas, svg, img"))) {
    if (node.parentElement?.closest("svg") != null) continue; // nested svg: drawn with its root
    const r = node.getBoundingClientRect();
    if (r.width < 1 || r.height < 1) continue;
    const x = r.left - box.left;
    const y = r.top - box.top;
    try {
      if (node instanceof HTMLCanvasElement) {
        ctx.drawImage(node, x, y, r.width, r.height);
      } else if (node instanceof SVGSVGElement) {
        ctx.drawImage(await svgImage(node, r.width, r.height), x, y, r.width, r.height);
      } else if (node instanceof HTMLImageElement && node.complete && node.naturalWidth > 0) {
        ctx.drawImage(node, x, y, r.width, r.height);
      } else {
        continue;
      }
      drawn++;
    } catch {
      // one part that cannot be drawn (an icon that fails to decode) leaves the rest
    }
  }
  if (drawn === 0) {
    // a panel of text (a number, a message): its lines
    const lines = (el.innerText || el.textContent || "").split("\n").map((l) => l.trim()).filter((l) => l !== "");
    ctx.fillStyle = "#1f2328";
    let y = PAD + 16;
    for (const line of lines) {
      ctx.font = y === PAD + 16 ? "600 14px system-ui, sans-serif" : "24px system-ui, sans-serif";
      ctx.fillText(line, PAD, y, width - 2 * PAD);
      y += 30;
    }
  }
  return canvasPng(canvas);
}
