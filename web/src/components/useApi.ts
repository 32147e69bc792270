import { useCallback, useEffect, useRef, useState } from "react";

export interface Loaded<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload: () => void;
  setData: (data: T) => void;
}

/** Loads data for a screen; `deps` change -> loads again. A stale answer never overwrites a newer one. */
export function useApi<T>(load: (signal: AbortSignal) => Promise<T>, deps: readonly unknown[]): Loaded<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;

  useEffect(() => {
    const controller = new AbortController();
    setLoading(true);
    setError(null);
    loadRef
      .current(controller.signal)
      .then((result) => {
        if (!controller.signal.aborted) setData(result);
      })
      .catch((failure: unknown) => {
        if (!controller.signal.aborted) setError(failure);
      })
      .finally(() => {
        if (!controller.signal.aborted) setLoading(false);
      });
    return () => controller.abort();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, tick]);

  const reload = useCallback(() => setTick((value) => value + 1), []);
  return { data, error, loading, reload, setData };
}

/**
 * After a command, the read model behind a list follows a moment later: while `pending` holds for
 * the loaded data, load again a few times (short waits), so what was just created shows up.
 */
export function useCatchUp<T>(loaded: Loaded<T>, pending: (data: T) => boolean, tries = 15, waitMs = 400): void {
  const count = useRef(0);
  const { data, loading, reload } = loaded;
  const stillPending = data !== undefined && !loading && pending(data);
  useEffect(() => {
    if (!stillPending) {
      count.current = 0;
      return undefined;
    }
    if (count.current >= tries) return undefined;
    const timer = window.setTimeout(() => {
      count.current += 1;
      reload();
    }, waitMs);
    return () => window.clearTimeout(timer);
  }, [stillPending, data, reload, tries, waitMs]);
}
