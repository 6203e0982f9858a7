import { StoreError } from "./errors.ts";

export type StoreOutcome = "ok" | "not_found" | "conflict" | "unavailable";

/** What the store reports for metrics (prom-client lives in the service, not here). */
export interface StoreObserver {
  /** One store operation: its kind, the bucket or stream, its duration and how it ended. */
  op(kind: "get" | "write" | "append" | "keys", target: string, seconds: number, outcome: StoreOutcome): void;
  /** A CAS update lost its race and is being retried. */
  casRetry(bucket: string): void;
}

/** Times an operation and reports it; the operation's result or error passes through unchanged. */
export async function observed<T>(
  observer: StoreObserver | undefined,
  kind: Parameters<StoreObserver["op"]>[0],
  target: string,
  op: () => Promise<T>,
): Promise<T> {
  if (!observer) return op();
  const started = process.hrtime.bigint();
  const seconds = () => Number(process.hrtime.bigint() - started) / 1e9;
  try {
    const result = await op();
    observer.op(kind, target, seconds(), "ok");
    return result;
  } catch (err) {
    observer.op(kind, target, seconds(), err instanceof StoreError ? err.kind : "unavailable");
    throw err;
  }
}
