/**
 * RESP2/RESP3 encoding of the neutral reply values (src/engine/reply.ts), into one output buffer
 * per batch of pipelined requests.
 */

import {
  Bool,
  ByProtocol,
  Double,
  formatDouble,
  MapReply,
  NullArray,
  OK,
  Pairs,
  Push,
  QUEUED,
  type Reply,
  Sequence,
  SetReply,
  Simple,
  Verbatim,
} from "../engine/reply.ts";
import { HeroError, respPrefix } from "../errors.ts";

/**
 * A growable output buffer: all replies to one batch of pipelined requests are encoded into one
 * of these and written to the socket with a single write. `take` hands out the encoded bytes
 * without copying them: the buffer moves on past them, so what was handed out is never written
 * again, and a fresh one is allocated once little room is left.
 */
export class OutBuf {
  buf: Buffer;
  len = 0;
  private readonly size: number;
  constructor(size = 16 * 1024) {
    this.size = size;
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
  /**
   * A bulk string, `$<len>\r\n<bytes>\r\n`, written byte by byte around one copy: the reply
   * of every GET, so no header string is built for it.
   */
  bulk(b: Uint8Array): void {
    const n = b.length;
    this.ensure(n + 16);
    const buf = this.buf;
    let at = this.len;
    buf[at++] = 36; // $
    at = writeDigits(buf, at, n);
    buf[at++] = 13;
    buf[at++] = 10;
    buf.set(b, at);
    at += n;
    buf[at++] = 13;
    buf[at++] = 10;
    this.len = at;
  }
  /** An integer reply `:<n>\r\n` for a non-negative integer below 2^31. */
  smallInt(n: number): void {
    this.ensure(16);
    const buf = this.buf;
    let at = this.len;
    buf[at++] = 58; // :
    at = writeDigits(buf, at, n);
    buf[at++] = 13;
    buf[at++] = 10;
    this.len = at;
  }
  /** Takes the encoded bytes (the caller owns them from now on) and starts after them. */
  take(): Buffer {
    const out = this.buf.subarray(0, this.len);
    this.buf = this.buf.subarray(this.len);
    this.len = 0;
    if (this.buf.length < this.size >> 3) this.buf = Buffer.allocUnsafe(this.size);
    return out;
  }
}

/** Writes the decimal digits of a non-negative integer below 2^31 at buf[at]; returns the end. */
function writeDigits(buf: Buffer, at: number, n: number): number {
  if (n < 10) {
    buf[at] = 48 + n;
    return at + 1;
  }
  let digits = 1;
  for (let m = n; m >= 10; m = (m / 10) | 0) digits++;
  for (let i = at + digits - 1; i >= at; i--) {
    buf[i] = 48 + (n % 10);
    n = (n / 10) | 0;
  }
  return at + digits;
}

const OK_LINE = Buffer.from("+OK\r\n");
const QUEUED_LINE = Buffer.from("+QUEUED\r\n");

function errorLine(e: HeroError): string {
  const msg = e.message.replace(/[\r\n]+/g, " ");
  return `-${respPrefix(e.code)} ${msg}\r\n`;
}

export function encode(r: Reply, proto: 2 | 3, out: OutBuf): void {
  // The replies of the commands pipelined most (GET, SET, INCR, MULTI's QUEUED) come first.
  if (r instanceof Uint8Array) {
    out.bulk(r);
  } else if (r === OK) {
    out.bytes(OK_LINE);
  } else if (r === null) {
    out.ascii(proto === 3 ? "_\r\n" : "$-1\r\n");
  } else if (typeof r === "number") {
    if (r >= 0 && r < 0x80000000 && Number.isInteger(r)) out.smallInt(r);
    else out.ascii(`:${r}\r\n`);
  } else if (r === QUEUED) {
    out.bytes(QUEUED_LINE);
  } else if (typeof r === "string") {
    out.ascii(`$${Buffer.byteLength(r)}\r\n`);
    out.utf8(r);
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
    const s = r.text ?? formatDouble(r.value);
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
  } else if (r instanceof ByProtocol) {
    encode(proto === 3 ? r.resp3 : r.resp2, proto, out);
  } else if (r instanceof NullArray) {
    out.ascii(proto === 3 ? "_\r\n" : "*-1\r\n");
  } else {
    out.ascii("-ERR internal: unencodable reply\r\n");
  }
}
