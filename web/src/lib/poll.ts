// Live polling (web/README.md, "Contracts"): one request at a time, paused while the tab is hidden.

/**
 * Call `fn` now and then again `intervalMs` after each call completes (never two at once).
 * While `document.hidden` no call starts; the next one starts as soon as the tab is visible
 * again. Errors thrown by `fn` don't stop the loop. The returned function stops polling and
 * aborts the call in flight (through the signal given to `fn`).
 */
export function poll(fn: (signal: AbortSignal) => Promise<void>, intervalMs: number): () => void {
  let stopped = false;
  let running = false;
  let due = false; // a call is wanted but the tab was hidden
  let timer: ReturnType<typeof setTimeout> | null = null;
  const controller = new AbortController();

  const hidden = (): boolean => typeof document !== "undefined" && document.hidden;

  const schedule = (): void => {
    if (stopped) return;
    timer = setTimeout(tick, intervalMs);
  };

  function tick(): void {
    timer = null;
    if (stopped || running) return;
    if (hidden()) {
      due = true;
      return;
    }
    due = false;
    running = true;
    let result: Promise<void>;
    try {
      result = fn(controller.signal);
    } catch (err) {
      result = Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    result
      .catch(() => undefined)
      .finally(() => {
        running = false;
        schedule();
      });
  }

  const onVisibility = (): void => {
    if (!stopped && due && !hidden() && !running && timer === null) tick();
  };
  if (typeof document !== "undefined") document.addEventListener("visibilitychange", onVisibility);
  tick();

  return () => {
    stopped = true;
    if (timer !== null) clearTimeout(timer);
    timer = null;
    controller.abort();
    if (typeof document !== "undefined") document.removeEventListener("visibilitychange", onVisibility);
  };
}
