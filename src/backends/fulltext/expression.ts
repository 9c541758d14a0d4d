/**
 * The expressions of FT.AGGREGATE's APPLY and FILTER steps, as RediSearch writes them:
 * `@price * 1.2`, `@year >= 2000 && @genre == "drama"`, `upper(@name)`, `!exists(@x)`.
 * Numbers, "strings" or 'strings', @field references (a missing field is null), + - * / % ^,
 * comparisons (== != < <= > >=), && || !, parentheses, and the functions upper, lower,
 * strlen, substr(s, offset, count), concat, floor, ceil, abs, sqrt, log, log2, exp and exists.
 * Parsed once into a closure over a row.
 */
import { HeroError } from "../../errors.ts";

export type Value = string | number | null | string[];
/** A row: a null-prototype object, so no field name reaches Object.prototype. */
export type Row = Record<string, Value>;

/** A new empty row. */
export const newRow = (): Row => Object.create(null) as Row;

/** A row's field, null when it has none (never an inherited property). */
export const cell = (row: Row, name: string): Value =>
  Object.hasOwn(row, name) ? row[name] : null;

/** How many operators and operands one expression may hold (evaluation recurses through them). */
const MAX_NODES = 1000;
export type Expr = (row: Row) => Value;

const err = (m: string) => new HeroError("ERR", m);

const num = (v: Value): number =>
  typeof v === "number" ? v : v === null || Array.isArray(v) ? Number.NaN : Number(v);
const truthy = (v: Value): boolean =>
  v !== null && v !== "" && !(typeof v === "number" && (v === 0 || Number.isNaN(v)));

const FUNCTIONS: Record<string, (args: Value[]) => Value> = {
  upper: ([s]) => (s === null ? null : String(s).toUpperCase()),
  lower: ([s]) => (s === null ? null : String(s).toLowerCase()),
  strlen: ([s]) => (s === null ? 0 : String(s).length),
  substr: ([s, o, n]) => (s === null ? null : String(s).substr(num(o), num(n))),
  concat: (args) => args.map((a) => (a === null ? "" : String(a))).join(""),
  floor: ([x]) => Math.floor(num(x)),
  ceil: ([x]) => Math.ceil(num(x)),
  abs: ([x]) => Math.abs(num(x)),
  sqrt: ([x]) => Math.sqrt(num(x)),
  log: ([x]) => Math.log(num(x)),
  log2: ([x]) => Math.log2(num(x)),
  exp: ([x]) => Math.exp(num(x)),
  exists: ([x]) => (x === null ? 0 : 1),
};

/** Binary operators by precedence, lowest first. */
const LEVELS: string[][] = [
  ["||"],
  ["&&"],
  ["==", "!="],
  ["<", "<=", ">", ">="],
  ["+", "-"],
  ["*", "/", "%"],
  ["^"],
];

function compare(op: string, a: Value, b: Value): boolean {
  const bothNumbers = !Number.isNaN(num(a)) && !Number.isNaN(num(b)) && a !== null && b !== null;
  const x = bothNumbers ? num(a) : String(a ?? "");
  const y = bothNumbers ? num(b) : String(b ?? "");
  switch (op) {
    case "==":
      return x === y;
    case "!=":
      return x !== y;
    case "<":
      return x < y;
    case "<=":
      return x <= y;
    case ">":
      return x > y;
    default:
      return x >= y;
  }
}

function binary(op: string, l: Expr, r: Expr): Expr {
  switch (op) {
    case "||":
      return (row) => (truthy(l(row)) || truthy(r(row)) ? 1 : 0);
    case "&&":
      return (row) => (truthy(l(row)) && truthy(r(row)) ? 1 : 0);
    case "+":
      return (row) => num(l(row)) + num(r(row));
    case "-":
      return (row) => num(l(row)) - num(r(row));
    case "*":
      return (row) => num(l(row)) * num(r(row));
    case "/":
      return (row) => num(l(row)) / num(r(row));
    case "%":
      return (row) => num(l(row)) % num(r(row));
    case "^":
      return (row) => num(l(row)) ** num(r(row));
    default:
      return (row) => (compare(op, l(row), r(row)) ? 1 : 0);
  }
}

export function parseExpression(text: string): Expr {
  let at = 0;
  let nodes = 0;
  const node = () => {
    if (++nodes > MAX_NODES) fail(`the expression holds more than ${MAX_NODES} parts`);
  };
  const fail = (why: string): never => {
    throw err(`expression error at offset ${at} of '${text.slice(0, 80)}': ${why}`);
  };
  const space = () => {
    while (at < text.length && /\s/.test(text[at])) at++;
  };
  const takeOp = (ops: string[]): string | null => {
    space();
    // Longest first, so "<=" is not read as "<".
    for (const op of [...ops].sort((a, b) => b.length - a.length)) {
      if (text.startsWith(op, at)) {
        at += op.length;
        return op;
      }
    }
    return null;
  };
  const level = (i: number): Expr => {
    node();
    if (i === LEVELS.length) return unary();
    let left = level(i + 1);
    for (;;) {
      const op = takeOp(LEVELS[i]);
      if (op === null) return left;
      left = binary(op, left, level(i + 1));
    }
  };
  const unary = (): Expr => {
    node();
    space();
    if (text[at] === "!") {
      at++;
      const e = unary();
      return (row) => (truthy(e(row)) ? 0 : 1);
    }
    if (text[at] === "-") {
      at++;
      const e = unary();
      return (row) => -num(e(row));
    }
    return primary();
  };
  const primary = (): Expr => {
    space();
    const c = text[at];
    if (c === "(") {
      at++;
      const e = level(0);
      space();
      if (text[at] !== ")") fail("')' expected");
      at++;
      return e;
    }
    if (c === "@") {
      at++;
      const m = /^[\p{L}\p{N}_.:-]+/u.exec(text.slice(at));
      if (m === null) fail("a field name expected after '@'");
      at += (m as RegExpExecArray)[0].length;
      const name = (m as RegExpExecArray)[0];
      return (row) => cell(row, name);
    }
    if (c === '"' || c === "'") {
      const end = text.indexOf(c, at + 1);
      if (end < 0) fail("unterminated string");
      const s = text.slice(at + 1, end);
      at = end + 1;
      return () => s;
    }
    const n = /^(\d+(\.\d*)?([eE][+-]?\d+)?|\.\d+)/.exec(text.slice(at));
    if (n !== null) {
      at += n[0].length;
      const v = Number(n[0]);
      return () => v;
    }
    const f = /^[a-z_][a-z0-9_]*/i.exec(text.slice(at));
    if (f !== null) {
      const name = f[0].toLowerCase();
      const fn = Object.hasOwn(FUNCTIONS, name) ? FUNCTIONS[name] : undefined;
      if (fn === undefined) fail(`unknown function '${f[0]}'`);
      at += f[0].length;
      space();
      if (text[at] !== "(") fail("'(' expected after the function name");
      at++;
      const args: Expr[] = [];
      space();
      if (text[at] === ")") at++;
      else {
        for (;;) {
          args.push(level(0));
          space();
          if (text[at] === ",") {
            at++;
            continue;
          }
          if (text[at] !== ")") fail("')' or ',' expected");
          at++;
          break;
        }
      }
      return (row) => (fn as (args: Value[]) => Value)(args.map((a) => a(row)));
    }
    return fail(c === undefined ? "the expression ends too soon" : `unexpected '${c}'`);
  };
  const e = level(0);
  space();
  if (at < text.length) fail(`unexpected '${text[at]}'`);
  return e;
}

export { truthy };
