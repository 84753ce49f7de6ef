// One action started from a form or a button: busy while it runs, its failure as a message.

import { useState } from "preact/hooks";
import { errorMessage } from "./states";

export interface Action {
  /** True while `run` is waiting for its work. */
  busy: boolean;
  /** The message of the last failure (or of a check that failed before any work), else null; always null with `report`. */
  error: string | null;
  setError: (message: string | null) => void;
  /**
   * Clears the error, sets `busy` and awaits `work`; a failure becomes the error, worded by
   * `describe` (the thrown value's message by default). Never rejects.
   */
  run: (work: () => Promise<void>, describe?: (err: unknown) => string) => Promise<void>;
}

/**
 * The state of one action. Its error is kept here, or handed to `report` where the message is
 * shown by a parent (several actions sharing one error line).
 */
export function useAction(report?: (message: string | null) => void): Action {
  const [busy, setBusy] = useState(false);
  const [ownError, setOwnError] = useState<string | null>(null);
  const setError = report ?? setOwnError;

  const run = async (work: () => Promise<void>, describe: (err: unknown) => string = errorMessage): Promise<void> => {
    setBusy(true);
    setError(null);
    try {
      await work();
    } catch (err) {
      setError(describe(err));
    } finally {
      setBusy(false);
    }
  };
  return { busy, error: ownError, setError, run };
}
