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
 *
 * This is the first step of every command, so it is written for speed. Arguments are views of a
 * copy of the bytes read, never copied one by one: a read of at most 4 KiB is copied once for
 * all its commands (a stored value then keeps at most those 4 KiB alive; small copies share
 * Buffer's pool slabs either way), a larger read once per command, so a value never keeps the
 * other commands of a large read alive. A command the caller
 * says keeps none of its arguments (a read) gets views of the read buffer itself, which nothing
 * reuses. The command name becomes a string without an allocation when it repeats the previous
 * one, as pipelines do.
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

/** One command: its name as sent (any letter case) and its arguments after the name. */
export interface Request {
  name: string;
  args: Buffer[];
}

export class ProtocolError {
  readonly message: string;
  constructor(message: string) {
    this.message = message;
  }
}

const CR = 13;
const LF = 10;

/** Where the header line read by `readHeader` ends (its LF), or -1 when it has not all arrived. */
let headerEnd = -1;

/**
 * Reads the decimal on the header line at buf[at] (after its `*` or `$`), up to the line's LF
 * (an optional CR before it): sets `headerEnd` and returns the number, NaN when the line is
 * empty, longer than 18 characters or not a decimal. A scan in JavaScript: these lines are a few
 * bytes long, shorter than the call into Buffer#indexOf.
 */
function readHeader(buf: Buffer, at: number): number {
  const end = buf.length;
  let i = at + 1;
  let n = 0;
  let valid = true;
  const neg = i < end && buf[i] === 45;
  if (neg) i++;
  const digitsFrom = i;
  for (; i < end; i++) {
    const c = buf[i];
    if (c === LF) break;
    const d = c - 48;
    if (d >= 0 && d <= 9) n = n * 10 + d;
    else if (c !== CR || i + 1 >= end || buf[i + 1] !== LF) valid = false;
  }
  if (i === end) {
    headerEnd = -1;
    return Number.NaN;
  }
  headerEnd = i;
  const last = buf[i - 1] === CR && i - 1 >= at + 1 ? i - 1 : i;
  if (!valid || last <= digitsFrom || last - (at + 1) > 18) return Number.NaN;
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
  /** Where the command just parsed ends (set by parseArray/parseInline). */
  private next = 0;
  /** Body offsets and lengths of the arguments of the array being parsed. */
  private starts = new Int32Array(16);
  private lengths = new Int32Array(16);
  /** The last command name seen, as bytes and as its string (most pipelines repeat one). */
  private readonly nameBytes = new Uint8Array(32);
  private nameLen = -1;
  private name = "";
  /** The copy of the bytes being parsed from `copiedFrom` on, made for the first command that keeps its arguments. */
  private copied: Buffer | null = null;
  private copiedFrom = 0;

  private readonly keepsArguments: (name: string) => boolean;

  /**
   * `keepsArguments(name)` false: the command with that name holds on to none of its arguments
   * once it has run, so they may be views of the bytes read instead of a copy.
   */
  constructor(limits: ParserLimits = DEFAULT_LIMITS, keepsArguments = (_name: string) => true) {
    this.limits = limits;
    this.keepsArguments = keepsArguments;
  }

  /** Bytes buffered but not yet parsed (for query-buffer limits and CLIENT LIST). */
  get buffered(): number {
    return this.pendingLen;
  }

  /**
   * Feeds a chunk; returns the complete commands it finished, and a ProtocolError last if the
   * stream is broken (everything after it is discarded).
   */
  feed(chunk: Buffer): (Request | ProtocolError)[] {
    const out: (Request | ProtocolError)[] = [];
    this.chunks.push(chunk);
    this.pendingLen += chunk.length;
    if (this.pendingLen < this.need) return out;
    const buf = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks);
    this.copied = null;
    let off = 0;
    while (off < buf.length) {
      const r = buf[off] === 42 ? this.parseArray(buf, off) : this.parseInline(buf, off);
      if (r === INCOMPLETE) break;
      if (r instanceof ProtocolError) {
        out.push(r);
        this.reset();
        return out;
      }
      off = this.next;
      if (r !== EMPTY) out.push(r);
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

  /** The command name at buf[start, start+len) as a string, reusing the previous one if equal. */
  private nameAt(buf: Buffer, start: number, len: number): string {
    const bytes = this.nameBytes;
    if (len === this.nameLen) {
      let i = 0;
      while (i < len && bytes[i] === buf[start + i]) i++;
      if (i === len) return this.name;
    }
    const name = buf.toString("latin1", start, start + len);
    if (len <= bytes.length) {
      bytes.set(buf.subarray(start, start + len));
      this.nameLen = len;
      this.name = name;
    }
    return name;
  }

  private parseArray(
    buf: Buffer,
    start: number,
  ): Request | ProtocolError | typeof INCOMPLETE | typeof EMPTY {
    const { maxArgs, maxBulk, maxInline } = this.limits;
    const count = readHeader(buf, start);
    if (headerEnd === -1) {
      if (buf.length - start > maxInline)
        return new ProtocolError("Protocol error: too big mbulk count string");
      this.need = buf.length - start + 1;
      return INCOMPLETE;
    }
    if (Number.isNaN(count) || count > maxArgs) {
      return new ProtocolError("Protocol error: invalid multibulk length");
    }
    let off = headerEnd + 1;
    if (count <= 0) {
      this.next = off;
      return EMPTY;
    }
    if (count > this.starts.length) {
      let size = this.starts.length;
      while (size < count) size *= 2;
      this.starts = new Int32Array(size);
      this.lengths = new Int32Array(size);
    }
    const starts = this.starts;
    const lengths = this.lengths;
    for (let i = 0; i < count; i++) {
      if (off >= buf.length) {
        this.need = buf.length - start + 1;
        return INCOMPLETE;
      }
      if (buf[off] !== 36) {
        return new ProtocolError(
          `Protocol error: expected '$', got '${String.fromCharCode(buf[off])}'`,
        );
      }
      const len = readHeader(buf, off);
      if (headerEnd === -1) {
        if (buf.length - off > maxInline)
          return new ProtocolError("Protocol error: too big bulk count string");
        this.need = buf.length - start + 1;
        return INCOMPLETE;
      }
      if (Number.isNaN(len) || len < 0 || len > maxBulk) {
        return new ProtocolError("Protocol error: invalid bulk length");
      }
      const body = headerEnd + 1;
      if (body + len + 2 > buf.length) {
        // Wait for the whole bulk (and its CRLF) before trying again.
        this.need = body + len + 2 - start;
        return INCOMPLETE;
      }
      if (buf[body + len] !== CR || buf[body + len + 1] !== LF) {
        return new ProtocolError("Protocol error: bulk string not terminated by CRLF");
      }
      starts[i] = body;
      lengths[i] = len;
      off = body + len + 2;
    }
    this.need = 0;
    this.next = off;
    const name = this.nameAt(buf, starts[0], lengths[0]);
    const args = new Array<Buffer>(count - 1);
    if (count > 1 && !this.keepsArguments(name)) {
      for (let i = 1; i < count; i++) args[i - 1] = buf.subarray(starts[i], starts[i] + lengths[i]);
    } else if (count > 1) {
      let copy = this.copied;
      let base = this.copiedFrom;
      if (copy === null && buf.length - start <= BATCH_COPY) {
        // The rest of this read, copied once for every command in it that keeps arguments.
        copy = this.copied = Buffer.allocUnsafe(buf.length - start);
        copy.set(buf.subarray(start));
        base = this.copiedFrom = start;
      } else if (copy === null) {
        // A large read: this command's arguments alone, so a stored value keeps only them.
        base = starts[1];
        copy = Buffer.allocUnsafe(off - 2 - base);
        copy.set(buf.subarray(base, off - 2));
      }
      for (let i = 1; i < count; i++) {
        const at = starts[i] - base;
        args[i - 1] = copy.subarray(at, at + lengths[i]);
      }
    }
    return { name, args };
  }

  private parseInline(
    buf: Buffer,
    start: number,
  ): Request | ProtocolError | typeof INCOMPLETE | typeof EMPTY {
    const nl = buf.indexOf(LF, start);
    if (nl === -1) {
      if (buf.length - start > this.limits.maxInline) {
        return new ProtocolError("Protocol error: too big inline request");
      }
      this.need = buf.length - start + 1;
      return INCOMPLETE;
    }
    if (nl - start > this.limits.maxInline) {
      return new ProtocolError("Protocol error: too big inline request");
    }
    const end = nl > start && buf[nl - 1] === CR ? nl - 1 : nl;
    const argv = splitInline(buf.toString("latin1", start, end));
    if (argv === null) return new ProtocolError("Protocol error: unbalanced quotes in request");
    if (argv.length > this.limits.maxArgs) {
      return new ProtocolError("Protocol error: invalid multibulk length");
    }
    this.need = 0;
    this.next = nl + 1;
    if (argv.length === 0) return EMPTY;
    return { name: argv[0].toString("latin1"), args: argv.slice(1) };
  }
}

/** Reads up to this size are copied once for all their commands. */
const BATCH_COPY = 4096;

/** parseArray/parseInline: more bytes are needed. */
const INCOMPLETE = Symbol("incomplete");
/** parseArray/parseInline: a line that holds no command (an empty array, a blank line). */
const EMPTY = Symbol("empty");
