/**
 * The RESP request reader: turns a client's byte stream into commands (arrays of Buffers).
 *
 * Clients send arrays of bulk strings (`*2\r\n$3\r\nGET\r\n$1\r\nk\r\n`); telnet users send inline
 * lines (`PING\r\n`). Both are handled here, with limits checked on the headers before any body is
 * buffered, so a `$4294967296` or `*1000000` header is refused at once instead of making the
 * server wait for (or allocate) gigabytes. A protocol error cannot be resynchronised, so the
 * caller answers it and closes the connection.
 *
 * Partial input is kept as a list of chunks and only joined once enough bytes have arrived for
 * the bulk being waited on, so a large value arriving in many small reads costs one copy.
 */

export interface ParserLimits {
  /** Largest bulk string accepted (Redis's proto-max-bulk-len). */
  maxBulk: number;
  /** Most arguments in one command. */
  maxArgs: number;
  /** Longest inline command line or header line. */
  maxInline: number;
}

export const DEFAULT_LIMITS: ParserLimits = {
  maxBulk: 512 * 1024 * 1024,
  maxArgs: 512 * 1024,
  maxInline: 64 * 1024,
};

export class ProtocolError {
  readonly message: string;
  constructor(message: string) {
    this.message = message;
  }
}

const CR = 13;
const LF = 10;

/** Parses a non-negative or -1 decimal between start and end; NaN when malformed. */
function parseLength(buf: Buffer, start: number, end: number): number {
  if (start >= end || end - start > 18) return Number.NaN;
  let i = start;
  let neg = false;
  if (buf[i] === 45) {
    neg = true;
    i++;
    if (i === end) return Number.NaN;
  }
  let n = 0;
  for (; i < end; i++) {
    const c = buf[i] - 48;
    if (c < 0 || c > 9) return Number.NaN;
    n = n * 10 + c;
  }
  return neg ? -n : n;
}

/** Splits an inline command line into arguments, honouring "double" and 'single' quotes. */
export function splitInline(line: string): Buffer[] | null {
  const out: Buffer[] = [];
  let i = 0;
  while (i < line.length) {
    while (i < line.length && (line[i] === " " || line[i] === "\t")) i++;
    if (i >= line.length) break;
    let cur = "";
    if (line[i] === '"' || line[i] === "'") {
      const q = line[i++];
      let closed = false;
      while (i < line.length) {
        const c = line[i];
        if (q === '"' && c === "\\" && i + 1 < line.length) {
          const n = line[i + 1];
          const esc: Record<string, string> = { n: "\n", r: "\r", t: "\t", b: "\b", a: "\x07" };
          if (n === "x" && /^[0-9a-fA-F]{2}$/.test(line.slice(i + 2, i + 4))) {
            cur += String.fromCharCode(Number.parseInt(line.slice(i + 2, i + 4), 16));
            i += 4;
          } else {
            cur += esc[n] ?? n;
            i += 2;
          }
        } else if (q === "'" && c === "\\" && line[i + 1] === "'") {
          cur += "'";
          i += 2;
        } else if (c === q) {
          i++;
          closed = true;
          break;
        } else {
          cur += c;
          i++;
        }
      }
      // An unbalanced quote, or a closing quote not followed by a space, is a protocol error.
      if (!closed || (i < line.length && line[i] !== " " && line[i] !== "\t")) return null;
    } else {
      while (i < line.length && line[i] !== " " && line[i] !== "\t") cur += line[i++];
    }
    out.push(Buffer.from(cur, "latin1"));
  }
  return out;
}

export class RequestParser {
  private readonly limits: ParserLimits;
  private chunks: Buffer[] = [];
  private pendingLen = 0;
  /** Bytes needed before another parse attempt can make progress. */
  private need = 0;

  constructor(limits: ParserLimits = DEFAULT_LIMITS) {
    this.limits = limits;
  }

  /** Bytes buffered but not yet parsed (for query-buffer limits and CLIENT LIST). */
  get buffered(): number {
    return this.pendingLen;
  }

  /**
   * Feeds a chunk; returns the complete commands it finished, and a ProtocolError last if the
   * stream is broken (everything after it is discarded).
   */
  feed(chunk: Buffer): (Buffer[] | ProtocolError)[] {
    this.chunks.push(chunk);
    this.pendingLen += chunk.length;
    if (this.pendingLen < this.need) return [];
    const buf = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks);
    const out: (Buffer[] | ProtocolError)[] = [];
    let off = 0;
    for (;;) {
      if (off >= buf.length) break;
      const r = buf[off] === 42 ? this.parseArray(buf, off) : this.parseInline(buf, off);
      if (r === null) break; // incomplete
      if (r instanceof ProtocolError) {
        out.push(r);
        this.reset();
        return out;
      }
      off = r.next;
      if (r.args !== null) out.push(r.args);
    }
    if (off >= buf.length) {
      this.chunks = [];
      this.pendingLen = 0;
      this.need = 0;
    } else {
      const rest = buf.subarray(off);
      this.chunks = [rest];
      this.pendingLen = rest.length;
    }
    return out;
  }

  reset(): void {
    this.chunks = [];
    this.pendingLen = 0;
    this.need = 0;
  }

  private lineEnd(buf: Buffer, from: number): number {
    const i = buf.indexOf(LF, from);
    if (i === -1) return -1;
    return i;
  }

  private parseArray(
    buf: Buffer,
    start: number,
  ): { next: number; args: Buffer[] | null } | ProtocolError | null {
    const { maxArgs, maxBulk, maxInline } = this.limits;
    let nl = this.lineEnd(buf, start);
    if (nl === -1) {
      if (buf.length - start > maxInline)
        return new ProtocolError("Protocol error: too big mbulk count string");
      this.need = buf.length - start + 1;
      return null;
    }
    const count = parseLength(buf, start + 1, buf[nl - 1] === CR ? nl - 1 : nl);
    if (Number.isNaN(count) || count > maxArgs) {
      return new ProtocolError("Protocol error: invalid multibulk length");
    }
    let off = nl + 1;
    if (count <= 0) return { next: off, args: null };
    const args = new Array<Buffer>(count);
    for (let i = 0; i < count; i++) {
      if (off >= buf.length) {
        this.need = buf.length - start + 1;
        return null;
      }
      if (buf[off] !== 36) {
        return new ProtocolError(
          `Protocol error: expected '$', got '${String.fromCharCode(buf[off])}'`,
        );
      }
      nl = this.lineEnd(buf, off);
      if (nl === -1) {
        if (buf.length - off > maxInline)
          return new ProtocolError("Protocol error: too big bulk count string");
        this.need = buf.length - start + 1;
        return null;
      }
      const len = parseLength(buf, off + 1, buf[nl - 1] === CR ? nl - 1 : nl);
      if (Number.isNaN(len) || len < 0 || len > maxBulk) {
        return new ProtocolError("Protocol error: invalid bulk length");
      }
      const body = nl + 1;
      if (body + len + 2 > buf.length) {
        // Wait for the whole bulk (and its CRLF) before trying again.
        this.need = body + len + 2 - start;
        return null;
      }
      if (buf[body + len] !== CR || buf[body + len + 1] !== LF) {
        return new ProtocolError("Protocol error: bulk string not terminated by CRLF");
      }
      args[i] = Buffer.from(buf.subarray(body, body + len));
      off = body + len + 2;
    }
    this.need = 0;
    return { next: off, args };
  }

  private parseInline(
    buf: Buffer,
    start: number,
  ): { next: number; args: Buffer[] | null } | ProtocolError | null {
    const nl = this.lineEnd(buf, start);
    if (nl === -1) {
      if (buf.length - start > this.limits.maxInline) {
        return new ProtocolError("Protocol error: too big inline request");
      }
      this.need = buf.length - start + 1;
      return null;
    }
    if (nl - start > this.limits.maxInline) {
      return new ProtocolError("Protocol error: too big inline request");
    }
    const end = nl > start && buf[nl - 1] === CR ? nl - 1 : nl;
    const args = splitInline(buf.toString("latin1", start, end));
    if (args === null) return new ProtocolError("Protocol error: unbalanced quotes in request");
    if (args.length > this.limits.maxArgs) {
      return new ProtocolError("Protocol error: invalid multibulk length");
    }
    this.need = 0;
    return { next: nl + 1, args: args.length === 0 ? null : args };
  }
}
