// The frame every fixed-height uPlot chart needs: it follows its container's width, and the
// plot is destroyed with the component.

import { useEffect } from "preact/hooks";
import type uPlot from "uplot";

interface Ref<T> {
  current: T;
}

/** Resize the plot in `uRef` to the width of `plotRef` (at `height`) and destroy it on unmount. */
export function usePlotFrame(plotRef: Ref<HTMLDivElement | null>, uRef: Ref<uPlot | null>, height: number): void {
  useEffect(() => {
    const el = plotRef.current;
    if (el === null || typeof ResizeObserver === "undefined") return;
    const ro = new ResizeObserver(() => {
      if (el.clientWidth > 0) uRef.current?.setSize({ width: el.clientWidth, height });
    });
    ro.observe(el);
    return () => {
      ro.disconnect();
    };
  }, [height]);

  useEffect(
    () => () => {
      uRef.current?.destroy();
      uRef.current = null;
    },
    [],
  );
}
