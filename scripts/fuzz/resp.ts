/**
 * The RESP request-parser fuzz cases, split out of scripts/fuzz.ts (the command-line entry) to
 * keep each generator in a file of its own. Properties: valid RESP streams cut into random reads
 * parse back exactly; mutated streams never make feed() throw, yield only commands and a final
 * ProtocolError, and never leave the parser holding more than one maximal command.
 */
import { Prng } from "../../src/backends/kv/prng.ts";
import {
  type ParserLimits,
  ProtocolError,
  type Request,
  RequestParser,
} from "../../src/resp/parser.ts";
import { chance, pick } from "./random.ts";

/** Small limits so random input reaches them often. */
export const FUZZ_LIMITS: ParserLimits = { maxBulk: 512, maxArgs: 16, maxInline: 1024 };
/** Most a parser may hold between reads: one maximal, incomplete command. */
export const PARSER_MEMORY_BOUND =
  (FUZZ_LIMITS.maxArgs + 1) * (FUZZ_LIMITS.maxBulk + FUZZ_LIMITS.maxInline + 4);

function randomArg(rng: Prng): Buffer {
  const r = rng.below(100);
  const len = r < 70 ? rng.below(17) : r < 95 ? rng.below(200) : rng.below(FUZZ_LIMITS.maxBulk + 1);
  const b = Buffer.allocUnsafe(len);
  const printable = chance(rng, 0.5);
  for (let i = 0; i < len; i++) b[i] = printable ? 33 + rng.below(94) : rng.below(256);
  return b;
}

function encodeArray(args: Buffer[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) parts.push(Buffer.from(`$${a.length}\r\n`), a, Buffer.from("\r\n"));
  return Buffer.concat(parts);
}

/** The inline (telnet) form, or null when it would be over the line limit. */
function encodeInline(rng: Prng, args: Buffer[]): Buffer | null {
  const words = args.map((a, i) => {
    const s = a.toString("latin1");
    // Bare words: printable, no quotes or backslash, and no '*' opening the line.
    if (/^[!#-&(-[\]-~]+$/.test(s) && !(i === 0 && s.startsWith("*"))) return s;
    if (/^[ -&(-[\]-~]*$/.test(s) && chance(rng, 0.5)) return `'${s}'`;
    let q = '"';
    for (const c of s) {
      const code = c.charCodeAt(0);
      if (c === '"' || c === "\\") q += `\\${c}`;
      else if (code >= 32 && code < 127) q += c;
      else q += `\\x${code.toString(16).padStart(2, "0")}`;
    }
    return `${q}"`;
  });
  const line = `${words.join(chance(rng, 0.2) ? "\t" : " ")}\r\n`;
  return line.length - 1 > FUZZ_LIMITS.maxInline ? null : Buffer.from(line, "latin1");
}

/** A stream of random commands (arrays and inline lines, with blank noise between). */
function randomStream(rng: Prng): { stream: Buffer; commands: Buffer[][] } {
  const commands: Buffer[][] = [];
  const parts: Buffer[] = [];
  for (let n = 1 + rng.below(12); n > 0; n--) {
    if (chance(rng, 0.1))
      parts.push(Buffer.from(pick(rng, ["*0\r\n", "*-1\r\n", "\r\n", " \t\n"])));
    const argc = chance(rng, 0.05) ? FUZZ_LIMITS.maxArgs : 1 + rng.below(6);
    const cmd = Array.from({ length: argc }, () => randomArg(rng));
    commands.push(cmd);
    parts.push((chance(rng, 0.3) && encodeInline(rng, cmd)) || encodeArray(cmd));
  }
  return { stream: Buffer.concat(parts), commands };
}

/** Cuts a stream into reads, lazily: whole, byte by byte, small, or any size (some empty). */
function* randomChunks(rng: Prng, buf: Buffer): Generator<Buffer> {
  const mode = rng.below(4);
  const max =
    mode === 0 ? buf.length : mode === 1 ? 1 : mode === 2 ? 16 : 1 + rng.below(buf.length);
  for (let off = 0; off < buf.length; ) {
    const n = mode === 0 ? buf.length : chance(rng, 0.05) ? 0 : 1 + rng.below(max);
    yield buf.subarray(off, off + n);
    off += n;
  }
}

const show = (cmd: Buffer[]): string => JSON.stringify(cmd.map((b) => b.toString("latin1")));

/** Valid commands, encoded and cut into random reads, parse back exactly. */
export function parserRoundTrip(seed: number): string | null {
  const rng = new Prng(seed);
  const { stream, commands } = randomStream(rng);
  const parser = new RequestParser(FUZZ_LIMITS);
  const got: Buffer[][] = [];
  for (const chunk of randomChunks(rng, stream)) {
    for (const item of parser.feed(chunk)) {
      if (item instanceof ProtocolError) return `protocol error on valid input | ${item.message}`;
      got.push([Buffer.from(item.name, "latin1"), ...item.args]);
    }
  }
  // latin1 maps bytes one to one, so equal texts mean equal bytes.
  const i = got.findIndex((cmd, k) => show(cmd) !== show(commands[k] ?? []));
  if (i !== -1) return `wrong command | ${i}: ${show(commands[i] ?? [])} read as ${show(got[i])}`;
  if (got.length < commands.length) return `missing command | ${show(commands[got.length])}`;
  return parser.buffered === 0 ? null : `bytes left buffered | ${parser.buffered}`;
}

// Tokens that steer the parser into its branches (headers, signs, limits, quotes, escapes).
const TOKENS = ["\r\n", "\n", "\r", " ", "\x00", "\xff", "\\x"].concat(
  "* $ -1 - 0 513 17 99999999999999999999 *2147483648 $4294967296 \" ' \\".split(" "),
);

function mutate(rng: Prng, buf: Buffer): Buffer {
  let b = Buffer.from(buf);
  for (let n = 1 + rng.below(4); n > 0; n--) {
    const at = rng.below(b.length + 1);
    const op = chance(rng, 0.02) ? 6 : rng.below(6);
    if (op === 0 && at < b.length) b[at] ^= 1 << rng.below(8);
    else if (op === 1 && at < b.length) b[at] = pick(rng, TOKENS).charCodeAt(0);
    else if (op === 2) {
      const token = Buffer.from(pick(rng, TOKENS), "latin1");
      b = Buffer.concat([b.subarray(0, at), token, b.subarray(at)]);
    } else if (op === 3) b = Buffer.concat([b.subarray(0, at), b.subarray(at + 1 + rng.below(16))]);
    else if (op === 4) b = Buffer.concat([b.subarray(0, at), b.subarray(rng.below(at + 1))]);
    else if (op === 5) b = b.subarray(0, at);
    else if (op === 6) {
      // A flood with no line end, twice the memory bound, to catch unbounded buffering.
      const flood = Buffer.alloc(2 * PARSER_MEMORY_BOUND, pick(rng, ["x", "1", "$", " ", "\r"]));
      b = Buffer.concat([b.subarray(0, at), flood]);
    }
  }
  return b;
}

/** Mutated streams: feed() never throws, errors come last, memory stays bounded. */
export function parserMutation(seed: number): string | null {
  const rng = new Prng(seed);
  const input = mutate(rng, randomStream(rng).stream);
  const parser = new RequestParser(FUZZ_LIMITS);
  let bytesOut = 0;
  for (const chunk of randomChunks(rng, input)) {
    let items: (Request | ProtocolError)[];
    try {
      items = parser.feed(chunk);
    } catch (e) {
      return `feed threw | ${e instanceof Error ? e.stack : String(e)}`;
    }
    for (let i = 0; i < items.length; i++) {
      const item = items[i];
      if (item instanceof ProtocolError) {
        if (i !== items.length - 1) return "protocol error not last";
        if (!item.message.startsWith("Protocol error: ")) return `odd error | ${item.message}`;
        return null; // the server closes the connection here
      }
      if (typeof item.name !== "string" || !item.args.every(Buffer.isBuffer)) {
        return `malformed command | ${String(item)}`;
      }
      if (item.args.length + 1 > FUZZ_LIMITS.maxArgs) {
        return `too many arguments | ${item.args.length + 1}`;
      }
      bytesOut += item.name.length;
      for (const a of item.args) bytesOut += a.length;
    }
    if (parser.buffered > PARSER_MEMORY_BOUND) {
      return `memory over bound | ${parser.buffered} bytes held, bound ${PARSER_MEMORY_BOUND}`;
    }
  }
  return bytesOut > input.length ? `invented bytes | ${bytesOut} out of ${input.length}` : null;
}
