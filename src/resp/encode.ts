/**
 * RESP2/RESP3 encoding of the neutral reply values (src/engine/reply.ts), into one output buffer
 * per batch of pipelined requests.
 */

import {
  Bool,
  Double,
  formatDouble,
  MapReply,
  NullArray,
  Pairs,
  Push,
  type Reply,
  Sequence,
  SetReply,
  Simple,
  Verbatim,
} from "../engine/reply.ts";
import { HeroError, respPrefix } from "../errors.ts";

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
