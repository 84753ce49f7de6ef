/**
 * Chart settings shared by a chart's menu and the panel grid (its toolbar and its "add panel"
 * form): the x-axis choices and the smoothing slider.
 */
import { X_RELATIVE, X_STEP, X_WALL, type XAxis } from "./align";
import { clampSmoothing } from "./layout";

const X_BUILTINS: readonly { value: XAxis; label: string }[] = [
  { value: X_STEP, label: "Step" },
  { value: X_WALL, label: "Wall time" },
  { value: X_RELATIVE, label: "Relative time" },
];

/** The options of an x-axis `<select>`: step, wall time and relative time, then `metricKeys`. */
export function XAxisOptions(props: { metricKeys: readonly string[] }) {
  return (
    <>
      {X_BUILTINS.map((o) => (
        <option key={o.value} value={o.value}>
          {o.label}
        </option>
      ))}
      <optgroup label="Metric">
        {props.metricKeys.map((k) => (
          <option key={k} value={k}>
            {k}
          </option>
        ))}
      </optgroup>
    </>
  );
}

/** A smoothing slider (0 to 0.99) followed by its value; `onChange` gets the clamped value. */
export function SmoothingInput(props: { value: number; onChange: (smoothing: number) => void; outputClass?: string }) {
  return (
    <>
      <input
        type="range"
        min={0}
        max={0.99}
        step={0.01}
        value={props.value}
        onInput={(e) => { props.onChange(clampSmoothing(Number(e.currentTarget.value))); }}
      />
      <output class={props.outputClass}>{props.value.toFixed(2)}</output>
    </>
  );
}
