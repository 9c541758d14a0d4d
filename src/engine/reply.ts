/**
 * The neutral result values every engine and command handler returns, and every protocol edge
 * encodes (RESP2 and RESP3 in src/resp/encode.ts, JSON for the HTTP API).
 *
 * They are plain JS values so the hot path allocates little:
 *   Buffer | string  → bulk string          number → integer (must be a safe integer)
 *   null             → null (RESP2 $-1)      Reply[] → array
 *   HeroError        → error                 the small classes below for the other RESP3 types.
 * RESP2 clients see the RESP3-only types degraded the way Redis does it: maps become flat
 * arrays, sets become arrays, doubles become bulk strings, booleans become 0/1, push becomes array.
 */
import type { HeroError } from "../errors.ts";

export class Simple {
  readonly value: string;
  constructor(value: string) {
    this.value = value;
  }
}
export class Double {
  readonly value: number;
  /** Redis's own text for the value when it is not the shortest form (GEOPOS's %.17Lf). */
  readonly text: string | undefined;
  constructor(value: number, text?: string) {
    this.value = value;
    this.text = text;
  }
}
/** RESP3 map; RESP2 flat array. Entries are [key, value, key, value, …]. */
export class MapReply {
  readonly flat: Reply[];
  constructor(flat: Reply[]) {
    this.flat = flat;
  }
}
export class SetReply {
  readonly items: Reply[];
  constructor(items: Reply[]) {
    this.items = items;
  }
}
export class Push {
  readonly items: Reply[];
  constructor(items: Reply[]) {
    this.items = items;
  }
}
export class Bool {
  readonly value: boolean;
  constructor(value: boolean) {
    this.value = value;
  }
}
/** A RESP3 verbatim string (INFO, CLIENT INFO); RESP2 bulk string. */
export class Verbatim {
  readonly text: string;
  constructor(text: string) {
    this.text = text;
  }
}
/**
 * Pairs such as WITHSCORES / WITHVALUES results: RESP2 gets the flat array [a1, b1, a2, b2…],
 * RESP3 an array of two-element arrays, as Redis 7 answers.
 */
export class Pairs {
  readonly flat: Reply[];
  constructor(flat: Reply[]) {
    this.flat = flat;
  }
}
/** Several replies to one command (SUBSCRIBE a b answers once per channel). */
export class Sequence {
  readonly replies: Reply[];
  constructor(replies: Reply[]) {
    this.replies = replies;
  }
}
/** Null array: RESP2 `*-1` (EXEC aborted by WATCH, BLPOP timeout), RESP3 `_`. */
export class NullArray {}
/**
 * A reply whose RESP2 form is not the mechanical one of its RESP3 form (SQL results: RESP3 maps
 * per row, RESP2 a header row then value rows). Other edges (JSON) use the RESP3 form.
 */
export class ByProtocol {
  readonly resp3: Reply;
  readonly resp2: Reply;
  constructor(resp3: Reply, resp2: Reply) {
    this.resp3 = resp3;
    this.resp2 = resp2;
  }
}

export type Reply =
  | Buffer
  | string
  | number
  | bigint
  | null
  | HeroError
  | Simple
  | Double
  | MapReply
  | SetReply
  | Push
  | Bool
  | Verbatim
  | NullArray
  | Pairs
  | Sequence
  | ByProtocol
  | Reply[];

export const OK = new Simple("OK");
export const QUEUED = new Simple("QUEUED");
export const PONG = new Simple("PONG");
export const NULL_ARRAY = new NullArray();

/** Formats a double the way Redis does in replies (inf, -inf, shortest round-trip form). */
export function formatDouble(n: number): string {
  if (n === Number.POSITIVE_INFINITY) return "inf";
  if (n === Number.NEGATIVE_INFINITY) return "-inf";
  if (Number.isInteger(n) && Math.abs(n) < 1e17) return n.toFixed(0);
  return String(n).replace("e+", "e+");
}
