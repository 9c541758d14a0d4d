/**
 * Sequential specifications for the checker: a single compare-and-set register (the shape of
 * Jepsen's etcd test) and a key-value store whose state is one key's value, so the checker can
 * partition by key. Every step is pure. An output of `{ ok: false }` on a write-like operation
 * means it definitely had no effect; an undefined output (indeterminate) means it took effect
 * with its normal semantics at its linearization point (the checker handles "never").
 */
import type { KvInput, KvOutput, Model, RegisterInput, RegisterOutput } from "./types.ts";

/** Register state: null until the first write. */
export type RegisterState = number | null;

export const registerModel: Model<RegisterState, RegisterInput, RegisterOutput> = {
  init: () => null,
  step(s, input, output) {
    switch (input.op) {
      case "read":
        // A read that failed or timed out observed nothing.
        if (output === undefined || !output.ok) return { ok: true, state: s };
        return { ok: (output.value ?? null) === s, state: s };
      case "write":
        if (output !== undefined && !output.ok) return { ok: true, state: s };
        return { ok: true, state: input.value };
      case "cas":
        return casStep(s, input.from, input.to, output);
    }
  },
  hash: (s) => (s === null ? "N" : String(s)),
};

/**
 * A cas succeeds exactly when the current value equals `from`: a reported success needs a
 * match, a reported failure needs a mismatch and changes nothing, an unknown outcome is decided
 * by the state at the point where it takes effect.
 */
function casStep<T>(
  s: T | null,
  from: T | null | undefined,
  to: T,
  output: { ok: boolean } | undefined,
): { ok: boolean; state: T | null } {
  const matches = s === (from ?? null);
  if (output === undefined) return { ok: true, state: matches ? to : s };
  if (output.ok) return { ok: matches, state: to };
  return { ok: !matches, state: s };
}

/** Key-value state for one key: null while the key does not exist. */
export type KvState = string | null;

/**
 * A per-key register with get, put, append (string concatenation) and cas. `initial` is the
 * value every key starts with: null for Redis-like stores (GET of a missing key is nil), "" for
 * histories whose keys start as the empty string.
 */
export function makeKvModel(initial: KvState = null): Model<KvState, KvInput, KvOutput> {
  return {
    init: () => initial,
    key: (input) => input.key,
    step(s, input, output) {
      const failed = output !== undefined && !output.ok;
      switch (input.op) {
        case "get":
          if (output === undefined || !output.ok) return { ok: true, state: s };
          return { ok: (output.value ?? null) === s, state: s };
        case "put":
          return { ok: true, state: failed ? s : requireValue(input) };
        case "append":
          return { ok: true, state: failed ? s : (s ?? "") + requireValue(input) };
        case "cas":
          if (input.to === undefined) throw new Error("kv cas needs `to`");
          return casStep(s, input.from, input.to, output);
      }
    },
    hash: (s) => (s === null ? "N" : `V${s}`),
  };
}

function requireValue(input: KvInput): string {
  if (input.value === undefined) throw new Error(`kv ${input.op} needs a value`);
  return input.value;
}

/** The Redis-like key-value model: keys start absent. */
export const kvModel = makeKvModel(null);
