// An image with W&B's overlays: box groups as SVG rectangles with captions in their class
// colours, mask groups as translucent canvas layers, and toggles per group and per class.

import { useEffect, useRef, useState } from "preact/hooks";
import { useObjectUrl } from "../pages/run/blob";
import { maskPixels, type MaskGroup, type Overlays } from "./overlay";
import "./media.css";

interface RunRef {
  entity: string;
  project: string;
  runId: string;
}

const MASK_ALPHA = 128;

function MaskLayer({ run, mask, hidden }: { run: RunRef; mask: MaskGroup; hidden: ReadonlySet<number> }) {
  const obj = useObjectUrl(run.entity, run.project, run.runId, mask.path, "image/png");
  const canvasRef = useRef<HTMLCanvasElement>(null);
  const [ids, setIds] = useState<{ data: Uint8Array; w: number; h: number } | null>(null);
  useEffect(() => {
    if (obj.url === null) return;
    let live = true;
    const img = new Image();
    img.onload = () => {
      if (!live) return;
      const c = document.createElement("canvas");
      c.width = img.naturalWidth;
      c.height = img.naturalHeight;
      const ctx = c.getContext("2d");
      if (ctx === null) return;
      ctx.drawImage(img, 0, 0);
      const rgba = ctx.getImageData(0, 0, c.width, c.height).data;
      const data = new Uint8Array(c.width * c.height);
      for (let i = 0; i < data.length; i++) data[i] = rgba[i * 4] as number; // gray: R = G = B
      setIds({ data, w: c.width, h: c.height });
    };
    img.src = obj.url;
    return () => {
      live = false;
    };
  }, [obj.url]);
  useEffect(() => {
    const canvas = canvasRef.current;
    if (canvas === null || ids === null) return;
    canvas.width = ids.w;
    canvas.height = ids.h;
    const ctx = canvas.getContext("2d");
    if (ctx === null) return;
    const image = ctx.createImageData(ids.w, ids.h);
    image.data.set(maskPixels(ids.data, hidden, MASK_ALPHA));
    ctx.putImageData(image, 0, 0);
  }, [ids, hidden]);
  return <canvas ref={canvasRef} class="overlay-mask" data-testid="overlay-mask" data-key={mask.key} data-ready={ids !== null} aria-hidden="true" />;
}

export function ImageOverlay({ run, src, width, height, overlays, alt, path }: {
  run: RunRef;
  src: string;
  width: number;
  height: number;
  overlays: Overlays;
  alt: string;
  path: string;
}) {
  const [offGroups, setOffGroups] = useState<ReadonlySet<string>>(new Set());
  const [offClasses, setOffClasses] = useState<ReadonlySet<number>>(new Set());
  const toggle = <T,>(set: ReadonlySet<T>, v: T): Set<T> => {
    const next = new Set(set);
    if (next.has(v)) next.delete(v);
    else next.add(v);
    return next;
  };
  const groups = [...overlays.boxes.map((g) => ({ key: g.key, kind: "boxes" })), ...overlays.masks.map((m) => ({ key: m.key, kind: "mask" }))];
  const font = Math.max(9, Math.round(Math.min(width, height) / 22));
  return (
    <div class="overlay" data-testid="image-overlay">
      <div class="overlay-stage" style={{ aspectRatio: `${width} / ${height}`, maxWidth: `${Math.max(width, 320)}px` }}>
        <img class="overlay-image" src={src} alt={alt} data-testid="media-image" data-path={path} />
        {overlays.masks.map((m) =>
          offGroups.has(`mask:${m.key}`) ? null : <MaskLayer key={m.key} run={run} mask={m} hidden={offClasses} />,
        )}
        <svg class="overlay-boxes" viewBox={`0 0 ${width} ${height}`} preserveAspectRatio="none" aria-hidden="true">
          {overlays.boxes.map((g) =>
            offGroups.has(`boxes:${g.key}`) ? null : (
              <g key={g.key} data-testid="overlay-box-group" data-key={g.key}>
                {g.boxes.map((b, i) =>
                  b.classId !== null && offClasses.has(b.classId) ? null : (
                    <g key={i} data-testid="overlay-box" data-class={b.classId ?? ""} data-caption={b.caption}>
                      <rect x={b.x} y={b.y} width={b.w} height={b.h} fill="none" stroke={b.color} stroke-width={Math.max(1, font / 6)} vector-effect="non-scaling-stroke" />
                      {b.caption !== "" && (
                        <text x={b.x + 1} y={Math.max(font, b.y - 2)} fill={b.color} font-size={font} class="overlay-caption" data-testid="overlay-caption">
                          {b.caption}
                        </text>
                      )}
                    </g>
                  ),
                )}
              </g>
            ),
          )}
        </svg>
      </div>
      <div class="overlay-controls">
        <fieldset class="overlay-toggles" data-testid="overlay-groups">
          <legend>Overlays</legend>
          {groups.map((g) => {
            const id = `${g.kind}:${g.key}`;
            return (
              <label key={id} class="overlay-toggle">
                <input
                  type="checkbox"
                  checked={!offGroups.has(id)}
                  onChange={() => {
                    setOffGroups(toggle(offGroups, id));
                  }}
                  data-testid="overlay-group-toggle"
                  data-key={g.key}
                  data-kind={g.kind}
                />
                {g.key} <span class="muted">({g.kind})</span>
              </label>
            );
          })}
        </fieldset>
        {overlays.classes.length > 0 && (
          <fieldset class="overlay-toggles" data-testid="overlay-classes">
            <legend>Classes</legend>
            {overlays.classes.map((c) => (
              <label key={c.id} class="overlay-toggle">
                <input
                  type="checkbox"
                  checked={!offClasses.has(c.id)}
                  onChange={() => {
                    setOffClasses(toggle(offClasses, c.id));
                  }}
                  data-testid="overlay-class-toggle"
                  data-class={c.id}
                />
                <span class="overlay-swatch" style={{ background: c.color }} />
                {c.name}
              </label>
            ))}
          </fieldset>
        )}
      </div>
    </div>
  );
}
