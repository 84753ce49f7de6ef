// Small shared hooks: async loading, the current route, a ticking clock.

import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { isAbort } from "../api/client";
import { parseRoute, type Route } from "./route";

export interface Async<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  /** Load again (keeps the current data while loading). */
  reload: () => void;
  /** Replace the data (after an edit answered the new value). */
  setData: (data: T) => void;
}

/**
 * Runs `load` when `deps` change (aborting the previous call) and on `reload()`. Aborted calls
 * are not errors.
 */
export function useAsync<T>(load: (signal: AbortSignal) => Promise<T>, deps: readonly unknown[]): Async<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(true);
  const [nonce, setNonce] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;

  useEffect(() => {
    const controller = new AbortController();
    setLoading(true);
    loadRef
      .current(controller.signal)
      .then((value) => {
        if (controller.signal.aborted) return;
        setData(value);
        setError(null);
        setLoading(false);
      })
      .catch((err: unknown) => {
        if (controller.signal.aborted || isAbort(err)) return;
        setError(err);
        setLoading(false);
      });
    return () => {
      controller.abort();
    };
  }, [...deps, nonce]);

  const reload = useCallback(() => {
    setNonce((n) => n + 1);
  }, []);
  return { data, error, loading, reload, setData };
}

/** The current hash route, updated on navigation. */
export function useRoute(): Route {
  const [route, setRoute] = useState<Route>(() => parseRoute(window.location.hash));
  useEffect(() => {
    const onChange = (): void => {
      setRoute(parseRoute(window.location.hash));
    };
    window.addEventListener("hashchange", onChange);
    return () => {
      window.removeEventListener("hashchange", onChange);
    };
  }, []);
  return route;
}

/** The time in Unix seconds, refreshed every `everyMs` (for "5 min ago" and running durations). */
export function useNow(everyMs = 1000): number {
  const [now, setNow] = useState(() => Date.now() / 1000);
  useEffect(() => {
    const t = setInterval(() => {
      setNow(Date.now() / 1000);
    }, everyMs);
    return () => {
      clearInterval(t);
    };
  }, [everyMs]);
  return now;
}

/**
 * `value`, or the previous one while it is equal by JSON: keeps props stable across polls that
 * answer the same data, so children (charts) don't redraw for nothing.
 */
export function useStable<T>(value: T): T {
  const ref = useRef<{ json: string; value: T } | null>(null);
  const json = JSON.stringify(value);
  if (ref.current === null || ref.current.json !== json) ref.current = { json, value };
  return ref.current.value;
}

/**
 * Whether the element of `ref` has come within `marginPx` of the viewport (and stays true after):
 * panels wait for it before fetching. True at once where IntersectionObserver is missing.
 */
export function useSeen(ref: { current: Element | null }, marginPx = 200): boolean {
  const [seen, setSeen] = useState(() => typeof IntersectionObserver === "undefined");
  useEffect(() => {
    const el = ref.current;
    if (seen || el === null || typeof IntersectionObserver === "undefined") return;
    const io = new IntersectionObserver(
      (entries) => {
        if (entries.some((e) => e.isIntersecting)) setSeen(true);
      },
      { rootMargin: `${marginPx}px 0px` },
    );
    io.observe(el);
    return () => {
      io.disconnect();
    };
  }, [ref, seen, marginPx]);
  return seen;
}
