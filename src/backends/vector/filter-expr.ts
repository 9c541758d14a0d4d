/**
 * FILTER expressions for vector sets. Redis 8's `VSIM key ... FILTER expr` keeps only the
 * elements whose JSON attributes pass a small test such as `.year >= 1980 and .genre in ["a"]`.
 * This file is that language (Redis's modules/vector-sets/expr.c and fastjson.c), kept apart
 * from the index so a query compiles its filter once and runs it on every candidate it visits.
 *
 * It works the way Redis's does. One left-to-right pass reads tokens and, with a shunting-yard
 * operator stack, emits a postfix program; `matchesFilter` runs that program on a small value
 * stack. Only the reading of nested JSON arrays recurses (64 levels at most), so the bounds are
 * the text's length and the operator stack's height, which also caps the value stack.
 *
 * The language: numbers (`12`, `-1.5`, `1e3`), strings in '…' or "…" (`\n`, `\r`, `\t`, and a
 * backslash before anything else keeps that character), `null`, arrays of numbers and strings
 * (`[1, "a"]`), and selectors `.name` (a top-level field of the element's JSON object; letters,
 * digits, `_` and `-`). There are no `true`/`false` literals: JSON booleans read as 1 and 0.
 * Operators, tightest first: `!`/`not` (prefix); `**` (right-associative); `* / %`; `+ -`;
 * `> >= < <= == != in`; `and`/`&&`; `or`/`||`; all binary ones but `**` associate left, and
 * parentheses group. A `-` directly before a digit where a value is expected is a sign.
 * Arithmetic and ordering turn both sides into numbers (a string that is not wholly a C number
 * is 0, so `"10" > 9` but `"b" > "a"` is false); `==` compares two strings as strings, two
 * numbers as numbers, `null` equal only to `null`, and anything else as numbers (`"1" == 1`);
 * `x in [..]` is membership by `==`, and `"ab" in .title` a substring test. 0, "" and null are
 * false, anything else (NaN and arrays too) is true. An element without attributes never
 * matches, and a selector naming a missing field or a nested object, or reading attributes that
 * are not a JSON object, makes the whole expression false whatever the rest says (`.missing or
 * 1` is false); an expression without selectors never reads the attributes at all.
 *
 * Where this is stricter than Redis: it checks the value/operator grammar, so the postfix forms
 * Redis's arity counting lets through (`1 2 +`) are syntax errors, and it reads attributes with
 * JSON.parse (Redis's scanner stops at the field it wants and takes the first of duplicate keys).
 * It accepts `null)` where Redis wants a space before the parenthesis.
 */
import { HeroError } from "../../errors.ts";

type Value =
  | { t: "num"; n: number }
  | { t: "str"; s: string }
  | { t: "null" }
  | { t: "arr"; items: Value[] };
type Arith = "**" | "*" | "/" | "%" | "+" | "-";
type Compare = ">" | ">=" | "<" | "<=" | "==" | "!=" | "in";
type Op = Arith | Compare | "and" | "or" | "not";
type Instr = { k: "val"; v: Value } | { k: "sel"; name: string } | { k: "op"; op: Op };

/** A compiled FILTER expression: a postfix program for `matchesFilter`. */
export interface FilterProgram {
  readonly code: readonly Instr[];
}

const MAX_LENGTH = 4096;
const MAX_DEPTH = 64;

/** Redis's operator table by precedence, loosest first; `||`, `&&` and `!` are aliases. */
const LEVELS = ["or ||", "and &&", "> >= < <= == != in", "+ -", "* / %", "**", "not !", "( )"];
const ALIASES: Record<string, Op> = { "||": "or", "&&": "and", "!": "not" };
/** Spelling → operator and precedence (higher binds tighter). */
const OPS = new Map(
  LEVELS.flatMap((names, prec) =>
    names
      .split(" ")
      .map((s): [string, [Op | "(" | ")", number]] => [s, [ALIASES[s] ?? (s as Op), prec]]),
  ),
);
const PREC = new Map(OPS.values());

const SPACE = /[ \t\n\v\f\r]/;
const DIGIT = /[0-9]/;
const ALPHA = /[A-Za-z]/;
const SELECTOR = /[A-Za-z0-9_-]/;
const OP_CHARS = "+-*%/!()<>=|&";
/** What C's strtod consumes whole from the digits, dots and e's a number token collects. */
const NUMBER = /^-?(?:\d+\.?\d*|\.\d+)(?:[eE]\d+)?$/;
/** What strtod accepts as a whole string (C locale): decimal, hex, inf and nan. */
const STRTOD =
  /^[ \t\n\v\f\r]*([+-]?)(?:((?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?)|0x([0-9a-f]*)(?:\.([0-9a-f]*))?(?:p([+-]?\d+))?|(inf(?:inity)?)|(nan(?:\(\w*\))?))$/i;

const num = (n: number): Value => ({ t: "num", n });

function skipSpace(text: string, i: number): number {
  while (i < text.length && SPACE.test(text[i])) i++;
  return i;
}

/** A number token at `i` (digits, dots, e's, a leading '-'), or null when strtod would balk. */
function readNumber(text: string, i: number): [number, number] | null {
  let j = text[i] === "-" ? i + 1 : i;
  while (j < text.length && /[0-9.eE]/.test(text[j])) j++;
  const lit = text.slice(i, j);
  return lit.length < 256 && NUMBER.test(lit) ? [Number(lit), j] : null;
}

/** A quoted string at `i` with its escapes applied, or null when it never closes. */
function readString(text: string, i: number): [string, number] | null {
  const quote = text[i];
  let s = "";
  for (let j = i + 1; j < text.length; j++) {
    const c = text[j];
    if (c === "\\" && j + 1 < text.length) {
      const e = text[++j];
      s += e === "n" ? "\n" : e === "r" ? "\r" : e === "t" ? "\t" : e;
    } else if (c === quote) return [s, j + 1];
    else s += c;
  }
  return null;
}

/** An array literal at `i`: numbers and strings only, no nesting, a trailing comma allowed. */
function readArray(text: string, i: number, fail: (at: number, why: string) => never) {
  const items: Value[] = [];
  let j = i + 1;
  for (;;) {
    j = skipSpace(text, j);
    if (text[j] === "]") return { v: { t: "arr", items } as Value, end: j + 1 };
    const c = text[j] ?? "";
    if (DIGIT.test(c) || c === "-") {
      const n = readNumber(text, j) ?? fail(j, "invalid number");
      items.push(num(n[0]));
      j = n[1];
    } else if (c === '"' || c === "'") {
      const s = readString(text, j) ?? fail(j, "unterminated string");
      items.push({ t: "str", s: s[0] });
      j = s[1];
    } else fail(j, c === "" ? "unterminated array" : "an array holds only numbers and strings");
    j = skipSpace(text, j);
    if (text[j] === "]") return { v: { t: "arr", items } as Value, end: j + 1 };
    if (text[j] !== ",") fail(j, j >= text.length ? "unterminated array" : "expected ',' or ']'");
    j++;
  }
}

/** Parses a FILTER expression; throws an ERR HeroError naming the offset of a syntax error. */
export function compileFilter(text: string): FilterProgram {
  if (text.length > MAX_LENGTH) {
    throw new HeroError("ERR", `FILTER expression is longer than ${MAX_LENGTH} characters`);
  }
  const fail = (at: number, why: string): never => {
    const rest = text.slice(at);
    const near = rest === "" ? "<end>" : rest.length > 32 ? `${rest.slice(0, 32)}...` : rest;
    throw new HeroError(
      "ERR",
      `syntax error in FILTER expression near: ${near} (offset ${at}: ${why})`,
    );
  };
  const code: Instr[] = [];
  const ops: { op: Op | "("; at: number }[] = [];
  let wantValue = true; // a value, a prefix `not` or a '(' comes next; otherwise an operator
  const push = (op: Op | "(", at: number) => {
    ops.push({ op, at });
    if (ops.length > MAX_DEPTH) {
      throw new HeroError("ERR", `FILTER expression nests more than ${MAX_DEPTH} levels deep`);
    }
  };
  const value = (ins: Instr, at: number) => {
    if (!wantValue) fail(at, "expected an operator");
    code.push(ins);
    wantValue = false;
  };
  for (let i = skipSpace(text, 0); i < text.length; i = skipSpace(text, i)) {
    const at = i;
    const c = text[i];
    if (DIGIT.test(c) || (wantValue && c === "-" && DIGIT.test(text[i + 1] ?? ""))) {
      const n = readNumber(text, i) ?? fail(at, "invalid number");
      value({ k: "val", v: num(n[0]) }, at);
      i = n[1];
    } else if (c === '"' || c === "'") {
      const s = readString(text, i) ?? fail(at, "unterminated string");
      value({ k: "val", v: { t: "str", s: s[0] } }, at);
      i = s[1];
    } else if (c === "." && SELECTOR.test(text[i + 1] ?? "")) {
      let j = i + 1;
      while (j < text.length && SELECTOR.test(text[j])) j++;
      value({ k: "sel", name: text.slice(i + 1, j) }, at);
      i = j;
    } else if (c === "[") {
      const a = readArray(text, i, fail);
      value({ k: "val", v: a.v }, at);
      i = a.end;
    } else if (ALPHA.test(c) || OP_CHARS.includes(c)) {
      // Like Redis: take the whole run of letters and operator characters, then its longest
      // prefix that names an operator (so `!!` is two nots and `>=-1` is `>=` then `-1`).
      let j = i;
      while (j < text.length && (ALPHA.test(text[j]) || OP_CHARS.includes(text[j]))) j++;
      const run = text.slice(i, j);
      if (run.startsWith("null") && !ALPHA.test(run[4] ?? "")) {
        value({ k: "val", v: { t: "null" } }, at);
        i += 4;
        continue;
      }
      const len = [3, 2, 1].find((l) => l <= run.length && OPS.has(run.slice(0, l)));
      if (len === undefined) {
        const word = /^[A-Za-z]+|^[^A-Za-z]+/.exec(run)?.[0] ?? run;
        const hint = word === "true" || word === "false" ? "; booleans are written 1 and 0" : "";
        return fail(at, `unknown operator '${word}'${hint}`);
      }
      i += len;
      const [op, prec] = OPS.get(run.slice(0, len))!;
      if (op === "(" || op === "not") {
        if (!wantValue) fail(at, "expected an operator");
        push(op, at); // prefix operators wait for their operand: `not not x` nests
      } else if (op === ")") {
        if (wantValue) fail(at, "expected a value");
        for (let top = ops.pop(); top?.op !== "("; top = ops.pop()) {
          if (!top) fail(at, "unbalanced ')'");
          else code.push({ k: "op", op: top.op as Op });
        }
      } else {
        if (wantValue) fail(at, "expected a value");
        while (ops.length > 0 && ops[ops.length - 1].op !== "(") {
          const top = PREC.get(ops[ops.length - 1].op)!;
          if (top < prec || (op === "**" && top <= prec)) break;
          code.push({ k: "op", op: ops.pop()!.op as Op });
        }
        push(op, at);
        wantValue = true;
      }
    } else fail(at, `unexpected character '${c}'`);
  }
  if (wantValue) fail(text.length, code.length === 0 ? "empty expression" : "expected a value");
  for (let top = ops.pop(); top; top = ops.pop()) {
    if (top.op === "(") fail(top.at, "unbalanced '('");
    code.push({ k: "op", op: top.op as Op });
  }
  return { code };
}

/** strtod over a whole string, 0 when it does not consume all of it (Redis's exprTokenToNum). */
function strToNum(s: string): number {
  const m = s.length < 256 ? STRTOD.exec(s) : null;
  if (!m) return 0;
  const sign = m[1] === "-" ? -1 : 1;
  if (m[2] !== undefined) return sign * Number(m[2]);
  if (m[6] !== undefined) return sign * Number.POSITIVE_INFINITY;
  if (m[7] !== undefined) return Number.NaN;
  const int = m[3] ?? "";
  const frac = m[4] ?? "";
  if (int === "" && frac === "") return 0; // "0x" alone: strtod stops after the 0
  const mantissa =
    Number.parseInt(int || "0", 16) + (frac ? Number.parseInt(frac, 16) / 16 ** frac.length : 0);
  return sign * mantissa * 2 ** Number(m[5] ?? 0);
}

const toNum = (v: Value): number => (v.t === "num" ? v.n : v.t === "str" ? strToNum(v.s) : 0);
const truthy = (v: Value): boolean =>
  v.t === "num" ? v.n !== 0 : v.t === "str" ? v.s !== "" : v.t === "arr";

function equal(a: Value, b: Value): boolean {
  if (a.t === "str" && b.t === "str") return a.s === b.s;
  if (a.t === "num" && b.t === "num") return a.n === b.n;
  if (a.t === "null" || b.t === "null") return a.t === b.t;
  return toNum(a) === toNum(b);
}

/** C's pow: 1 ** NaN and (-1) ** ±Infinity are 1 there, NaN in JavaScript. */
function pow(x: number, y: number): number {
  return x === 1 || (x === -1 && Math.abs(y) === Number.POSITIVE_INFINITY) ? 1 : x ** y;
}

function apply(op: Op, a: Value, b: Value): number {
  switch (op) {
    case "**":
      return pow(toNum(a), toNum(b));
    case "*":
      return toNum(a) * toNum(b);
    case "/":
      return toNum(a) / toNum(b);
    case "%":
      return toNum(a) % toNum(b); // fmod: the sign follows the dividend
    case "+":
      return toNum(a) + toNum(b);
    case "-":
      return toNum(a) - toNum(b);
    case ">":
      return +(toNum(a) > toNum(b));
    case ">=":
      return +(toNum(a) >= toNum(b));
    case "<":
      return +(toNum(a) < toNum(b));
    case "<=":
      return +(toNum(a) <= toNum(b));
    case "==":
      return +equal(a, b);
    case "!=":
      return +!equal(a, b);
    case "in":
      if (b.t === "arr") return +b.items.some((e) => equal(a, e));
      return +(a.t === "str" && b.t === "str" && b.s.includes(a.s));
    case "and":
      return +(truthy(a) && truthy(b));
    case "or":
      return +(truthy(a) || truthy(b));
    default:
      return +!truthy(b); // not
  }
}

/** A JSON value as the language sees it; undefined for objects (and absurdly deep arrays). */
function fromJson(v: unknown, depth: number): Value | undefined {
  if (typeof v === "number") return num(v);
  if (typeof v === "string") return { t: "str", s: v };
  if (typeof v === "boolean") return num(v ? 1 : 0);
  if (v === null) return { t: "null" };
  if (!Array.isArray(v) || depth >= MAX_DEPTH) return undefined;
  const items: Value[] = [];
  for (const e of v) {
    const x = fromJson(e, depth + 1);
    if (x === undefined) return undefined;
    items.push(x);
  }
  return { t: "arr", items };
}

function parseObject(json: string): Record<string, unknown> | null {
  try {
    const v: unknown = JSON.parse(json);
    return typeof v === "object" && v !== null && !Array.isArray(v)
      ? (v as Record<string, unknown>)
      : null;
  } catch {
    return null;
  }
}

/** True when the attributes (a JSON text, or null when there are none) satisfy the program. */
export function matchesFilter(program: FilterProgram, attributes: string | null): boolean {
  if (attributes === null) return false;
  let fields: Record<string, unknown> | null | undefined; // parsed on the first selector only
  const stack: Value[] = [];
  for (const ins of program.code) {
    if (ins.k === "val") stack.push(ins.v);
    else if (ins.k === "sel") {
      if (fields === undefined) fields = parseObject(attributes);
      const v =
        fields && Object.hasOwn(fields, ins.name) ? fromJson(fields[ins.name], 0) : undefined;
      if (v === undefined) return false; // a missing field never matches
      stack.push(v);
    } else if (ins.op === "not") stack.push(num(apply("not", num(0), stack.pop()!)));
    else {
      const b = stack.pop()!;
      stack.push(num(apply(ins.op, stack.pop()!, b)));
    }
  }
  return truthy(stack.pop()!);
}
