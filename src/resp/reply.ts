/**
 * Reply values and their RESP2/RESP3 encoding.
 *
 * Handlers return plain JS values so the hot path allocates little:
 *   Buffer | string  → bulk string          number → integer (must be a safe integer)
 *   null             → null (RESP2 $-1)      Reply[] → array
 *   HeroError        → error                 the small classes below for the other RESP3 types.
 * The encoder degrades RESP3-only types for RESP2 clients the way Redis does: maps become flat
 * arrays, sets become arrays, doubles become bulk strings, booleans become 0/1, push becomes array.
 */
import { HeroError, respPrefix } from "../errors.ts";

export class Simple {
  readonly value: string;
  constructor(value: string) {
    this.value = value;
  }
}
export class Double {
  readonly value: number;
  constructor(value: number) {
    this.value = value;
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

/**
 * A growable output buffer: all replies to one batch of pipelined requests are encoded into one
 * of these and written to the socket with a single write.
 */
export class OutBuf {
  buf: Buffer;
  len = 0;
  constructor(size = 16 * 1024) {
    this.buf = Buffer.allocUnsafe(size);
  }
  private ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }
  ascii(s: string): void {
    this.ensure(s.length);
    this.len += this.buf.write(s, this.len, "latin1");
  }
  utf8(s: string): void {
    const n = Buffer.byteLength(s);
    this.ensure(n);
    this.len += this.buf.write(s, this.len, "utf8");
  }
  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }
  /** Takes the encoded bytes (a copy) and resets for reuse. */
  take(): Buffer {
    const out = Buffer.from(this.buf.subarray(0, this.len));
    this.len = 0;
    return out;
  }
}

function errorLine(e: HeroError): string {
  const msg = e.message.replace(/[\r\n]+/g, " ");
  return `-${respPrefix(e.code)} ${msg}\r\n`;
}

export function encode(r: Reply, proto: 2 | 3, out: OutBuf): void {
  if (r === null) {
    out.ascii(proto === 3 ? "_\r\n" : "$-1\r\n");
  } else if (typeof r === "number") {
    out.ascii(`:${r}\r\n`);
  } else if (typeof r === "string") {
    out.ascii(`$${Buffer.byteLength(r)}\r\n`);
    out.utf8(r);
    out.ascii("\r\n");
  } else if (Buffer.isBuffer(r)) {
    out.ascii(`$${r.length}\r\n`);
    out.bytes(r);
    out.ascii("\r\n");
  } else if (Array.isArray(r)) {
    out.ascii(`*${r.length}\r\n`);
    for (const item of r) encode(item, proto, out);
  } else if (r instanceof Simple) {
    out.ascii(`+${r.value}\r\n`);
  } else if (r instanceof HeroError) {
    out.utf8(errorLine(r));
  } else if (typeof r === "bigint") {
    out.ascii(`:${r}\r\n`);
  } else if (r instanceof Double) {
    const s = formatDouble(r.value);
    if (proto === 3) out.ascii(`,${s}\r\n`);
    else out.ascii(`$${s.length}\r\n${s}\r\n`);
  } else if (r instanceof MapReply) {
    out.ascii(proto === 3 ? `%${r.flat.length / 2}\r\n` : `*${r.flat.length}\r\n`);
    for (const item of r.flat) encode(item, proto, out);
  } else if (r instanceof SetReply) {
    out.ascii(proto === 3 ? `~${r.items.length}\r\n` : `*${r.items.length}\r\n`);
    for (const item of r.items) encode(item, proto, out);
  } else if (r instanceof Push) {
    out.ascii(proto === 3 ? `>${r.items.length}\r\n` : `*${r.items.length}\r\n`);
    for (const item of r.items) encode(item, proto, out);
  } else if (r instanceof Bool) {
    out.ascii(proto === 3 ? (r.value ? "#t\r\n" : "#f\r\n") : r.value ? ":1\r\n" : ":0\r\n");
  } else if (r instanceof Verbatim) {
    if (proto === 3) {
      const n = Buffer.byteLength(r.text) + 4;
      out.ascii(`=${n}\r\ntxt:`);
      out.utf8(r.text);
      out.ascii("\r\n");
    } else encode(r.text, proto, out);
  } else if (r instanceof Pairs) {
    if (proto === 2) {
      out.ascii(`*${r.flat.length}\r\n`);
      for (const item of r.flat) encode(item, proto, out);
    } else {
      out.ascii(`*${r.flat.length / 2}\r\n`);
      for (let i = 0; i < r.flat.length; i += 2) {
        out.ascii("*2\r\n");
        encode(r.flat[i], proto, out);
        encode(r.flat[i + 1], proto, out);
      }
    }
  } else if (r instanceof Sequence) {
    for (const item of r.replies) encode(item, proto, out);
  } else if (r instanceof NullArray) {
    out.ascii(proto === 3 ? "_\r\n" : "*-1\r\n");
  } else {
    out.ascii("-ERR internal: unencodable reply\r\n");
  }
}
