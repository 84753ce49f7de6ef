import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { poll } from "./poll";

let hidden = false;

function setHidden(value: boolean): void {
  hidden = value;
  document.dispatchEvent(new Event("visibilitychange"));
}

beforeEach(() => {
  vi.useFakeTimers();
  hidden = false;
  Object.defineProperty(document, "hidden", { configurable: true, get: () => hidden });
});

afterEach(() => {
  vi.useRealTimers();
});

/** A call that resolves when the test says so. */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve = (): void => undefined;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

describe("poll", () => {
  it("calls at once, then intervalMs after each call completes", async () => {
    const fn = vi.fn(() => Promise.resolve());
    const stop = poll(fn, 2000);
    expect(fn).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(1999);
    expect(fn).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(fn).toHaveBeenCalledTimes(2);
    await vi.advanceTimersByTimeAsync(2000);
    expect(fn).toHaveBeenCalledTimes(3);
    stop();
  });

  it("never overlaps: a slow call delays the next one", async () => {
    const calls: { resolve: () => void }[] = [];
    const fn = vi.fn(() => {
      const d = deferred();
      calls.push(d);
      return d.promise;
    });
    const stop = poll(fn, 1000);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(fn).toHaveBeenCalledTimes(1); // still waiting for the first answer
    calls[0]?.resolve();
    await vi.advanceTimersByTimeAsync(999);
    expect(fn).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(fn).toHaveBeenCalledTimes(2);
    stop();
  });

  it("keeps polling after a failed call", async () => {
    const fn = vi.fn(() => Promise.reject(new Error("503")));
    const stop = poll(fn, 500);
    await vi.advanceTimersByTimeAsync(1000);
    expect(fn).toHaveBeenCalledTimes(3);
    stop();
  });

  it("pauses while the tab is hidden and resumes at once when it is shown", async () => {
    const fn = vi.fn(() => Promise.resolve());
    const stop = poll(fn, 1000);
    expect(fn).toHaveBeenCalledTimes(1);
    setHidden(true);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(fn).toHaveBeenCalledTimes(1);
    setHidden(false);
    expect(fn).toHaveBeenCalledTimes(2);
    await vi.advanceTimersByTimeAsync(1000);
    expect(fn).toHaveBeenCalledTimes(3);
    stop();
  });

  it("does not call twice when the tab is shown before the next call is due", async () => {
    const fn = vi.fn(() => Promise.resolve());
    const stop = poll(fn, 1000);
    await vi.advanceTimersByTimeAsync(0);
    setHidden(true);
    setHidden(false);
    expect(fn).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(1000);
    expect(fn).toHaveBeenCalledTimes(2);
    stop();
  });

  it("does not start when created in a hidden tab, and starts when shown", () => {
    hidden = true;
    const fn = vi.fn(() => Promise.resolve());
    const stop = poll(fn, 1000);
    expect(fn).not.toHaveBeenCalled();
    setHidden(false);
    expect(fn).toHaveBeenCalledTimes(1);
    stop();
  });

  it("stops: no more calls, the call in flight is aborted, visibility is ignored", async () => {
    let signal: AbortSignal | null = null;
    const fn = vi.fn((s: AbortSignal) => {
      signal = s;
      return deferred().promise;
    });
    const stop = poll(fn, 1000);
    stop();
    expect((signal as AbortSignal | null)?.aborted).toBe(true);
    setHidden(true);
    setHidden(false);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(fn).toHaveBeenCalledTimes(1);
  });
});
