/**
 * Readers for the shared linearizability test vectors (../shared/testdata/linearizability, whose
 * README defines the formats): Jepsen etcd logs of a compare-and-set register, EDN-map histories
 * of a key-value store, and the VERDICTS.txt table. Each event gets its line number as its time,
 * so the real-time order of the log is kept exactly. Operations whose outcome is unknown (`:info`
 * or never completed) become indeterminate; failed reads, which constrain nothing, are dropped.
 */
import type { KvInput, KvOutput, Operation, RegisterInput, RegisterOutput } from "./types.ts";

/** An EDN keyword such as `:invoke`, kept apart from strings. */
export interface Keyword {
  keyword: string;
}

export type EdnValue = null | boolean | number | string | Keyword | EdnValue[] | EdnMap;
export interface EdnMap {
  [key: string]: EdnValue;
}

/** Parses one EDN value: the subset the vectors use (maps with keyword keys, vectors, scalars). */
export function parseEdn(text: string): EdnValue {
  const reader = { text, pos: 0 };
  const value = readValue(reader);
  skipSpace(reader);
  if (reader.pos !== text.length) throw new Error(`trailing EDN input at ${reader.pos}: ${text}`);
  return value;
}

interface Reader {
  text: string;
  pos: number;
}

function skipSpace(r: Reader): void {
  while (r.pos < r.text.length && /[\s,]/.test(r.text[r.pos])) r.pos++;
}

function readValue(r: Reader): EdnValue {
  skipSpace(r);
  const c = r.text[r.pos];
  if (c === undefined) throw new Error("unexpected end of EDN input");
  if (c === "{") return readMap(r);
  if (c === "[" || c === "(") return readSeq(r, c === "[" ? "]" : ")");
  if (c === '"') return readString(r);
  const start = r.pos;
  while (r.pos < r.text.length && !/[\s,{}[\]()"]/.test(r.text[r.pos])) r.pos++;
  const token = r.text.slice(start, r.pos);
  if (token === "nil") return null;
  if (token === "true" || token === "false") return token === "true";
  if (token.startsWith(":") && token.length > 1) return { keyword: token.slice(1) };
  if (/^[-+]?\d+$/.test(token)) return Number(token);
  throw new Error(`unsupported EDN token ${JSON.stringify(token)}`);
}

function readMap(r: Reader): EdnMap {
  r.pos++;
  const map: EdnMap = {};
  for (;;) {
    skipSpace(r);
    if (r.text[r.pos] === "}") {
      r.pos++;
      return map;
    }
    const key = readValue(r);
    if (!isKeyword(key)) throw new Error("only keyword keys are supported in EDN maps");
    map[key.keyword] = readValue(r);
  }
}

function readSeq(r: Reader, close: string): EdnValue[] {
  r.pos++;
  const items: EdnValue[] = [];
  for (;;) {
    skipSpace(r);
    if (r.text[r.pos] === close) {
      r.pos++;
      return items;
    }
    items.push(readValue(r));
  }
}

const ESCAPES: Record<string, string> = { n: "\n", t: "\t", r: "\r", '"': '"', "\\": "\\" };

function readString(r: Reader): string {
  let out = "";
  r.pos++;
  for (;;) {
    const c = r.text[r.pos++];
    if (c === undefined) throw new Error("unterminated EDN string");
    if (c === '"') return out;
    if (c !== "\\") {
      out += c;
      continue;
    }
    const e = r.text[r.pos++];
    if (!(e in ESCAPES)) throw new Error(`unsupported EDN escape \\${e}`);
    out += ESCAPES[e];
  }
}

export function isKeyword(v: EdnValue | undefined): v is Keyword {
  return typeof v === "object" && v !== null && !Array.isArray(v) && typeof v.keyword === "string";
}

function keywordName(v: EdnValue | undefined, what: string): string {
  if (!isKeyword(v)) throw new Error(`${what} must be a keyword, got ${JSON.stringify(v)}`);
  return v.keyword;
}

/** What an event says happened to a pending call. */
type Completion = "ok" | "fail" | "info";

/**
 * Pairs invocations with completions per process. `outcome` turns a completion into the
 * operation's output, or "drop" for an operation that tells nothing.
 */
class Pairing<I, O> {
  readonly ops: Operation<I, O>[] = [];
  private readonly pending = new Map<number, { input: I; call: number; f: string }>();

  invoke(process: number, f: string, input: I, time: number): void {
    this.abandon(process);
    this.pending.set(process, { input, call: time, f });
  }

  complete(process: number, f: string, time: number, output: O | undefined | "drop"): void {
    const p = this.pending.get(process);
    if (!p) throw new Error(`completion of ${f} by process ${process} without an invocation`);
    if (p.f !== f) throw new Error(`process ${process} invoked ${p.f} but completed ${f}`);
    this.pending.delete(process);
    if (output === "drop") return;
    const ret = output === undefined ? Number.POSITIVE_INFINITY : time;
    this.ops.push({ client: process, input: p.input, output, call: p.call, ret });
  }

  /** A call that never completes may still take effect. */
  private abandon(process: number): void {
    const p = this.pending.get(process);
    if (!p) return;
    this.pending.delete(process);
    this.ops.push({
      client: process,
      input: p.input,
      output: undefined,
      call: p.call,
      ret: Infinity,
    });
  }

  finish(): Operation<I, O>[] {
    for (const process of [...this.pending.keys()]) this.abandon(process);
    return this.ops.sort((a, b) => a.call - b.call);
  }
}

const JEPSEN_LINE =
  /^\s*INFO\s+jepsen\.util\s+-\s+(\d+)\s+:(invoke|ok|fail|info)\s+:(read|write|cas)\s+(.+?)\s*$/;

/** Parses a Jepsen etcd log (a single register) into operations for `registerModel`. */
export function parseJepsenLog(text: string): Operation<RegisterInput, RegisterOutput>[] {
  const pairing = new Pairing<RegisterInput, RegisterOutput>();
  const lines = text.split("\n");
  for (let t = 0; t < lines.length; t++) {
    const m = JEPSEN_LINE.exec(lines[t]);
    if (!m) continue;
    const process = Number(m[1]);
    const type = m[2];
    const f = m[3];
    const value = parseEdn(m[4]);
    if (type === "invoke") {
      pairing.invoke(process, f, registerInput(f, value), t);
      continue;
    }
    pairing.complete(process, f, t, registerOutput(type as Completion, f, value));
  }
  return pairing.finish();
}

function registerInput(f: string, value: EdnValue): RegisterInput {
  if (f === "read") return { op: "read" };
  if (f === "write") return { op: "write", value: asInteger(value) };
  if (!Array.isArray(value) || value.length !== 2) throw new Error("cas needs [old new]");
  const from = value[0] === null ? null : asInteger(value[0]);
  return { op: "cas", from, to: asInteger(value[1]) };
}

function registerOutput(
  type: Completion,
  f: string,
  value: EdnValue,
): RegisterOutput | undefined | "drop" {
  if (f === "read") {
    if (type !== "ok") return "drop";
    return { ok: true, value: value === null ? null : asInteger(value) };
  }
  if (type === "info") return undefined;
  return { ok: type === "ok" };
}

function asInteger(v: EdnValue): number {
  if (typeof v !== "number" || !Number.isInteger(v)) {
    throw new Error(`expected an integer, got ${JSON.stringify(v)}`);
  }
  return v;
}

/** Parses an EDN-map key-value history (one map per line) into operations for a kv model. */
export function parseKvHistory(text: string): Operation<KvInput, KvOutput>[] {
  const pairing = new Pairing<KvInput, KvOutput>();
  const lines = text.split("\n");
  for (let t = 0; t < lines.length; t++) {
    if (lines[t].trim() === "") continue;
    const event = parseEdn(lines[t]);
    if (typeof event !== "object" || event === null || Array.isArray(event) || isKeyword(event)) {
      throw new Error(`line ${t + 1}: expected an EDN map`);
    }
    const process = event.process;
    if (typeof process !== "number") throw new Error(`line ${t + 1}: :process must be a number`);
    const type = keywordName(event.type, ":type");
    const f = keywordName(event.f, ":f");
    if (f !== "get" && f !== "put" && f !== "append") throw new Error(`unsupported :f ${f}`);
    const key = event.key;
    if (typeof key !== "string") throw new Error(`line ${t + 1}: :key must be a string`);
    const value = event.value;
    if (type === "invoke") {
      const input: KvInput = { op: f, key };
      if (f !== "get") input.value = asString(value);
      pairing.invoke(process, f, input, t);
      continue;
    }
    if (type !== "ok" && type !== "fail" && type !== "info") {
      throw new Error(`line ${t + 1}: unsupported :type ${type}`);
    }
    let output: KvOutput | undefined | "drop";
    if (f === "get") output = type === "ok" ? { ok: true, value: asString(value) } : "drop";
    else output = type === "info" ? undefined : { ok: type === "ok" };
    pairing.complete(process, f, t, output);
  }
  return pairing.finish();
}

function asString(v: EdnValue | undefined): string {
  if (typeof v !== "string") throw new Error(`expected a string, got ${JSON.stringify(v)}`);
  return v;
}

/** Parses VERDICTS.txt: `<file> linearizable` or `<file> NOT linearizable` per line. */
export function parseVerdicts(text: string): Map<string, boolean> {
  const verdicts = new Map<string, boolean>();
  for (const line of text.split("\n")) {
    const words = line.trim().split(/\s+/);
    if (words[0] === "") continue;
    const rest = words.slice(1).join(" ");
    if (rest === "linearizable") verdicts.set(words[0], true);
    else if (rest === "NOT linearizable") verdicts.set(words[0], false);
    else throw new Error(`unrecognised verdict line: ${line}`);
  }
  return verdicts;
}

/** The kv vectors carry their verdict in the name: `cNN-ok.txt` or `cNN-bad.txt`. */
export function kvVerdictFromName(name: string): boolean | undefined {
  if (/-ok\.txt$/.test(name)) return true;
  if (/-bad\.txt$/.test(name)) return false;
  return undefined;
}
