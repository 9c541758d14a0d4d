/**
 * The vocabulary shared by the linearizability checker, its models and the history parsers.
 * Kept in its own file so models and parsers can depend on the shapes without pulling in the
 * search itself.
 */

/**
 * One client operation as observed from outside the system. `output === undefined` marks an
 * indeterminate operation (the client timed out or crashed): it may have taken effect at any
 * moment after `call`, or never, so its `ret` is `Infinity`.
 */
export interface Operation<I, O> {
  client: number;
  input: I;
  output: O | undefined;
  call: number;
  ret: number;
}

/** Result of applying one operation to a model state. */
export interface StepResult<S> {
  /** False when the observed output is impossible from this state. */
  ok: boolean;
  state: S;
}

/**
 * A sequential specification. `step` must be pure: the search calls it many times on the same
 * state. `key` lets the checker split the history into independent per-key sub-histories
 * (linearizability is compositional). `hash` must map equal states, and only those, to equal
 * strings; JSON.stringify is used when absent.
 */
export interface Model<S, I, O> {
  init(): S;
  step(s: S, input: I, output: O | undefined): StepResult<S>;
  key?(input: I): string;
  hash?(s: S): string;
}

export interface CheckOptions {
  /** Wall-clock budget for the whole check; past it the verdict is "unknown". */
  timeoutMs?: number;
  /**
   * Approximate ceiling on the memory used by the visited-configuration cache. When reached,
   * older entries are dropped: the search stays correct but may repeat work.
   */
  maxCacheBytes?: number;
}

export interface CheckResult {
  verdict: "ok" | "illegal" | "unknown";
  /** The key of the partition that failed (or ran out of time), for keyed models. */
  partition?: string;
  /** Human-readable explanation for "illegal" and "unknown". */
  info?: string;
}

export type RegisterInput =
  | { op: "read" }
  | { op: "write"; value: number }
  | { op: "cas"; from: number | null; to: number };

export interface RegisterOutput {
  ok: boolean;
  value?: number | null;
}

export interface KvInput {
  op: "get" | "put" | "append" | "cas";
  key: string;
  value?: string;
  from?: string | null;
  to?: string;
}

export interface KvOutput {
  ok: boolean;
  value?: string | null;
}
