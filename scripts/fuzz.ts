/**
 * Randomised robustness checks ("fuzzing") of the two places the server reads untrusted input:
 * the RESP request parser and the JSON-RPC dispatcher. Every case derives from one integer seed,
 * so a failure is replayed from its seed alone. test/unit/fuzz-*.test.ts run a few thousand fixed
 * seeds; this script runs the same cases for as long as asked, printing progress each second and
 * the first failures of each kind with a one-line command that replays the case (exit code 1):
 *
 *   node scripts/fuzz.ts [--seconds 10] [--seed S] [--target parser|rpc|all] [--cases N]
 *
 * Case i uses seed S + i. A problem is a string "kind | detail", so repeats of one bug count as
 * one kind. Properties: valid RESP streams cut into random reads parse back exactly; mutated
 * streams never make feed() throw, yield only commands and a final ProtocolError, and never
 * leave the parser holding more than one maximal command; any JSON-RPC text gets a well-formed
 * reply (none for notifications) with a standard code, never a throw or an internal error.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ControlPlane } from "../src/api/control-plane.ts";
import { METHODS } from "../src/api/methods.ts";
import { RpcDispatcher } from "../src/api/rpc.ts";
import { Prng } from "../src/backends/kv/prng.ts";
import { Catalog } from "../src/db0/catalog.ts";
import { type ParserLimits, ProtocolError, RequestParser } from "../src/resp/parser.ts";
import { TEST_KDF } from "../src/security/kdf.ts";

/** Small limits so random input reaches them often. */
export const FUZZ_LIMITS: ParserLimits = { maxBulk: 512, maxArgs: 16, maxInline: 1024 };
/** Most a parser may hold between reads: one maximal, incomplete command. */
export const PARSER_MEMORY_BOUND =
  (FUZZ_LIMITS.maxArgs + 1) * (FUZZ_LIMITS.maxBulk + FUZZ_LIMITS.maxInline + 4);

/** The kind of a problem string, for grouping repeats of one bug. */
export const problemKind = (problem: string): string => problem.split(" | ")[0];

const pick = <T>(rng: Prng, xs: readonly T[]): T => xs[rng.below(xs.length)];
const chance = (rng: Prng, p: number): boolean => rng.nextU32() / 0x100000000 < p;

// ---- RESP ----------------------------------------------------------------------------------

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
      got.push(item);
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
    let items: (Buffer[] | ProtocolError)[];
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
      if (!Array.isArray(item) || item.length === 0 || !item.every(Buffer.isBuffer)) {
        return `malformed command | ${String(item)}`;
      }
      if (item.length > FUZZ_LIMITS.maxArgs) return `too many arguments | ${item.length}`;
      for (const a of item) bytesOut += a.length;
    }
    if (parser.buffered > PARSER_MEMORY_BOUND) {
      return `memory over bound | ${parser.buffered} bytes held, bound ${PARSER_MEMORY_BOUND}`;
    }
  }
  return bytesOut > input.length ? `invented bytes | ${bytesOut} out of ${input.length}` : null;
}

// ---- JSON-RPC ------------------------------------------------------------------------------

export const RPC_MAX_BATCH = 20;
const STANDARD_CODES = new Set([
  -32700, -32600, -32601, -32602, -32000, -32001, -32002, -32003, -32004,
]);

export interface RpcTarget {
  dispatcher: RpcDispatcher;
  /** Non-HeroError exceptions the dispatcher reported (bugs); drained by rpcCase. */
  internal: string[];
  close(): void;
}

/** A dispatcher over a real catalog in a temp dir, with a host that serves nothing. */
export async function openRpcTarget(): Promise<RpcTarget> {
  const dir = mkdtempSync(join(tmpdir(), "herodb-fuzz-rpc-"));
  const catalog = await Catalog.open(join(dir, "data"), "fuzz-secret", { kdf: TEST_KDF });
  const host = { open: async () => undefined, close: async () => undefined };
  const internal: string[] = [];
  const dispatcher = new RpcDispatcher(new ControlPlane({ catalog, host }), {
    maxBatch: RPC_MAX_BATCH,
    onInternalError: (method, e) => internal.push(`${method}: ${e instanceof Error ? e.stack : e}`),
  });
  return { dispatcher, internal, close: () => rmSync(dir, { recursive: true, force: true }) };
}

const words = (s: string): string[] => s.split(" ");
const STRINGS = ["", "x".repeat(129), "\u0000"].concat(
  words("InMemory Redb Sql Public Private Read ReadWrite a db1 名前 __proto__ constructor 2.0 0"),
);
const ODD_METHODS = words(
  " nope toString __proto__ constructor hasOwnProperty rpc. DB_LISTINSTANCES",
);
const KEYS = words(
  "instance_index name backend_type encryption_enabled visibility add_keys",
).concat(words("remove_keys key permission Redb __proto__ extra"));

function randomJson(rng: Prng, depth = 0): unknown {
  const r = rng.below(depth > 2 ? 5 : 7);
  if (r === 0) return pick(rng, [null, true, false]);
  if (r === 1) return pick(rng, [0, 1, -1, 1.5, 1e300, -0, 2 ** 53, 4294967297]);
  if (r === 2) return rng.below(6);
  if (r <= 4) return pick(rng, STRINGS);
  if (r === 5) return Array.from({ length: rng.below(4) }, () => randomJson(rng, depth + 1));
  const o: Record<string, unknown> = {};
  for (let n = rng.below(4); n > 0; n--) o[pick(rng, KEYS)] = randomJson(rng, depth + 1);
  return o;
}

function plausibleValue(rng: Prng, name: string): unknown {
  if (name === "instance_index") return rng.below(6);
  if (name === "name") return chance(rng, 0.8) ? `db${rng.below(4)}` : pick(rng, ["", "名前"]);
  if (name === "backend_type") {
    if (chance(rng, 0.6)) return "InMemory";
    return pick(rng, ["inmemory", "Sql", "Nope", { Redb: "/tmp/x" }, {}, { a: "b", c: "d" }]);
  }
  const key = pick(rng, ["k1", "k2", ""]);
  if (name === "add_keys") return [{ key, permission: pick(rng, ["Read", "ReadWrite", "All"]) }];
  if (name === "remove_keys") return [key];
  return randomJson(rng, 2);
}

/** Named or positional params for a method, mostly plausible, or anything at all. */
function randomParams(rng: Prng, method: unknown): unknown {
  const spec = METHODS.find((m) => m.name === method);
  const r = rng.below(10);
  if (spec === undefined || r >= 8) return r === 9 ? undefined : randomJson(rng);
  const named: Record<string, unknown> = {};
  for (const p of spec.params) {
    if (!chance(rng, p.required ? 0.95 : 0.6)) continue;
    named[p.name] = chance(rng, 0.9) ? plausibleValue(rng, p.name) : randomJson(rng, 2);
  }
  return r < 6 ? named : spec.params.map((p) => named[p.name] ?? null);
}

function randomRequest(rng: Prng): unknown {
  const req: Record<string, unknown> = {};
  if (chance(rng, 0.93)) req.jsonrpc = chance(rng, 0.95) ? "2.0" : randomJson(rng, 2);
  const m = rng.below(20);
  const method =
    m < 16 ? pick(rng, METHODS).name : m < 19 ? pick(rng, ODD_METHODS) : randomJson(rng, 2);
  if (chance(rng, 0.97)) req.method = method;
  const params = randomParams(rng, method);
  if (params !== undefined) req.params = params;
  const r = rng.below(20);
  if (r < 12) req.id = rng.below(1000);
  else if (r < 15) req.id = pick(rng, ["a", "", "id-1"]);
  else if (r < 16) req.id = null;
  else if (r < 18) req.id = pick(rng, [{}, [1], true]); // not valid ids
  if (chance(rng, 0.03)) req[pick(rng, ["result", "error"])] = randomJson(rng, 2);
  return req;
}

/** JSON-RPC text: a request, a batch or any JSON, sometimes mangled into invalid JSON. */
export function randomRpcText(rng: Prng): string {
  const r = rng.below(20);
  const batch = () =>
    Array.from({ length: rng.below(RPC_MAX_BATCH + 3) }, () =>
      chance(rng, 0.9) ? randomRequest(rng) : randomJson(rng),
    );
  const payload = r < 14 ? randomRequest(rng) : r < 18 ? batch() : randomJson(rng);
  let text = JSON.stringify(payload) ?? "null";
  if (chance(rng, 0.25)) {
    const chars = Array.from(text);
    for (let n = 1 + rng.below(3); n > 0; n--) {
      const at = rng.below(chars.length + 1);
      const junk = pick(rng, ["{", "}", "[", "]", '"', ",", ":", "0", "-", "\\", "\u2028"]);
      if (rng.below(2) === 0) chars.splice(at, 1);
      else chars.splice(at, 0, junk);
    }
    text = chars.join("");
  }
  return text;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);
const isId = (v: unknown): boolean => typeof v === "string" || typeof v === "number" || v === null;
/** A well-formed request without an id: the spec says it gets no reply. */
/** A valid Request object (JSON-RPC 2.0 §4): anything else must be answered -32600. */
function isRequest(v: unknown): v is Record<string, unknown> {
  if (!isPlainObject(v) || v.jsonrpc !== "2.0" || typeof v.method !== "string") return false;
  return v.result === undefined && v.error === undefined && (!("id" in v) || isId(v.id));
}
/** A valid request without an id: the spec says it gets no reply. */
const isNotification = (v: unknown): boolean => isRequest(v) && !("id" in v);

/** What is wrong with `res` as the answer to one request `req` (null: nothing). */
function checkResponse(req: unknown, res: unknown): string | null {
  if (!isPlainObject(res) || res.jsonrpc !== "2.0")
    return `not a response | ${JSON.stringify(res)}`;
  const wantId = isPlainObject(req) && isId(req.id) ? req.id : null;
  if (res.id !== wantId) {
    const sent = isPlainObject(req) ? JSON.stringify(req.id) : "none";
    return `wrong id | reply id ${JSON.stringify(res.id)}, request id ${sent}, wanted ${wantId}`;
  }
  if ("result" in res === "error" in res) return "not exactly one of result and error";
  if ("result" in res) return !isRequest(req) ? "result for a malformed request" : null;
  const e = res.error;
  if (!isPlainObject(e) || !Number.isInteger(e.code) || typeof e.message !== "string") {
    return `malformed error | ${JSON.stringify(e)}`;
  }
  const code = e.code as number;
  if (code === -32603 || code === -32005) return `internal error | ${code} ${e.message}`;
  if (!STANDARD_CODES.has(code)) return `non-standard code | ${code}`;
  if (!isRequest(req) && code !== -32600) return `malformed request not answered -32600 | ${code}`;
  return null;
}

/** What is wrong with `reply` as the dispatcher's answer to `text` (null: nothing). */
export function checkRpcReply(text: string, reply: unknown): string | null {
  let payload: unknown;
  try {
    payload = JSON.parse(text);
  } catch {
    const ok = isPlainObject(reply) && reply.id === null && isPlainObject(reply.error);
    return ok && (reply.error as { code?: unknown }).code === -32700 ? null : "no parse error";
  }
  if (!Array.isArray(payload)) {
    if (reply === null) return isNotification(payload) ? null : "no answer to a request";
    if (isNotification(payload)) return `answered a notification | ${JSON.stringify(reply)}`;
    return checkResponse(payload, reply);
  }
  if (payload.length === 0 || payload.length > RPC_MAX_BATCH)
    return checkResponse(undefined, reply);
  const answered = payload.filter((p) => !isNotification(p));
  if (reply === null) return answered.length === 0 ? null : "no answer to a batch";
  if (!Array.isArray(reply) || reply.length !== answered.length) {
    return `wrong number of batch replies | ${answered.length} wanted: ${JSON.stringify(reply)}`;
  }
  for (let i = 0; i < reply.length; i++) {
    const problem = checkResponse(answered[i], reply[i]);
    if (problem !== null) return `${problem} (batch item ${i})`;
  }
  return null;
}

/** One JSON-RPC case: random text in, a well-formed reply (or none) out. */
export async function rpcCase(target: RpcTarget, seed: number): Promise<string | null> {
  const rng = new Prng(seed);
  const text = randomRpcText(rng);
  const call = { client: "fuzz", transport: "internal" as const, authorized: chance(rng, 0.85) };
  let problem: string | null;
  try {
    const reply = await target.dispatcher.handleText(text, call);
    JSON.stringify(reply);
    const internal = target.internal.splice(0);
    problem = internal.length > 0 ? `internal error | ${internal[0]}` : checkRpcReply(text, reply);
  } catch (e) {
    problem = `threw | ${e instanceof Error ? e.stack : String(e)}`;
  }
  return problem === null ? null : `${problem} | request ${text.slice(0, 300)}`;
}

// ---- command line --------------------------------------------------------------------------

const USAGE =
  "usage: node scripts/fuzz.ts [--seconds N] [--seed S] [--target parser|rpc|all] [--cases N]";

async function main(): Promise<void> {
  const opt = (name: string, fallback: string): string => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : fallback;
  };
  const seconds = Number(opt("seconds", "10"));
  const seedText = opt("seed", String((Math.random() * 2 ** 32) >>> 0));
  const base = Number(seedText) >>> 0;
  const target = opt("target", "all");
  const maxCases = Number(opt("cases", "Infinity"));
  type Check = { name: string; target: string; run: (seed: number) => unknown };
  const checks: Check[] = [];
  if (target === "parser" || target === "all") {
    checks.push({ name: "parser-roundtrip", target: "parser", run: parserRoundTrip });
    checks.push({ name: "parser-mutation", target: "parser", run: parserMutation });
  }
  const rpc = target === "rpc" || target === "all" ? await openRpcTarget() : null;
  if (rpc !== null) checks.push({ name: "rpc", target: "rpc", run: (seed) => rpcCase(rpc, seed) });
  if (checks.length === 0 || !(seconds > 0) || !(maxCases > 0) || !/^\d+$/.test(seedText)) {
    console.error(USAGE);
    process.exit(2);
  }
  console.log(`fuzzing ${target} for up to ${seconds}s from seed ${base}`);
  const start = Date.now();
  let lastReport = start;
  let cases = 0;
  const kinds = new Map<string, number>();
  let failed = 0;
  for (let i = 0; i < maxCases && Date.now() - start < seconds * 1000; i++) {
    const seed = (base + i) >>> 0;
    for (const check of checks) {
      cases++;
      const problem = (await check.run(seed)) as string | null;
      if (problem === null) continue;
      failed++;
      const kind = `${check.name}: ${problemKind(problem)}`;
      const seen = kinds.get(kind) ?? 0;
      kinds.set(kind, seen + 1);
      if (seen < 3) {
        console.log(`FAIL ${check.name} seed ${seed}: ${problem}`);
        const again = `node scripts/fuzz.ts --target ${check.target} --seed ${seed} --cases 1`;
        console.log(`  reproduce: ${again}`);
      }
    }
    if (Date.now() - lastReport >= 1000) {
      lastReport = Date.now();
      const s = Math.round((lastReport - start) / 1000);
      console.log(`${s}s: ${cases} cases, ${failed} failed, next seed ${(seed + 1) >>> 0}`);
    }
  }
  rpc?.close();
  console.log(`done: ${cases} cases, ${failed} failed`);
  for (const [kind, n] of kinds) console.log(`  ${n} × ${kind}`);
  process.exitCode = failed > 0 ? 1 : 0;
}

if (import.meta.main) await main();
