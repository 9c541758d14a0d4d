/**
 * FT.AGGREGATE: the documents a query matches, run through RediSearch's pipeline of steps in
 * the order given: LOAD (which fields rows show), GROUPBY with REDUCE (COUNT, COUNT_DISTINCT,
 * SUM, AVG, MIN, MAX, TOLIST), SORTBY (with MAX), APPLY (an expression into a new field),
 * FILTER (an expression rows must satisfy) and LIMIT. Rows are computed here from the
 * documents' fields; a query matching more than MAX_ROWS documents is refused with a clear
 * error rather than read whole.
 *
 * The reply is RediSearch's: RESP2 `[rows, [field, value, …], …]`; RESP3 a map with
 * `attributes`, `format`, `results` (a map per row: `extra_attributes`, `values`),
 * `total_results` and `warning`.
 */
import { ByProtocol, formatDouble, MapReply, type Reply } from "../../engine/reply.ts";
import { HeroError } from "../../errors.ts";
import { cell, newRow, parseExpression, type Row, truthy, type Value } from "./expression.ts";

/** Documents one aggregation may read. */
export const MAX_ROWS = 100_000;

const err = (m: string) => new HeroError("ERR", m);

/** One step: what it does to the rows, and what rows show afterwards (GROUPBY replaces the
 * shown fields with its keys and reducers; APPLY adds its field; the others change nothing). */
interface Step {
  run: (rows: Row[]) => Row[];
  shows?: { replace: boolean; fields: string[] };
}

const field = (arg: string | undefined, what: string): string => {
  if (arg === undefined || !arg.startsWith("@") || arg.length < 2) {
    throw err(`FT.AGGREGATE: ${what} must be a @field`);
  }
  return arg.slice(1);
};

const number = (v: Value): number =>
  typeof v === "number" ? v : Array.isArray(v) ? Number.NaN : Number(v);

const REDUCERS: Record<string, (values: Value[]) => Value | Value[]> = {
  COUNT: (vs) => vs.length,
  COUNT_DISTINCT: (vs) => new Set(vs.filter((v) => v !== null).map(String)).size,
  SUM: (vs) => vs.reduce<number>((s, v) => s + (v === null ? 0 : number(v)), 0),
  AVG: (vs) => {
    const xs = vs.filter((v) => v !== null).map(number);
    return xs.length === 0 ? 0 : xs.reduce((s, x) => s + x, 0) / xs.length;
  },
  MIN: (vs) => extreme(vs, (a, b) => a < b),
  MAX: (vs) => extreme(vs, (a, b) => a > b),
  TOLIST: (vs) => [...new Set(vs.filter((v) => v !== null).map(String))],
};

/** The smallest or largest number among the values (a loop: a spread of 100k would not fit). */
function extreme(vs: Value[], better: (a: number, b: number) => boolean): Value {
  let best: number | null = null;
  for (const v of vs) {
    if (v === null) continue;
    const x = number(v);
    if (best === null || better(x, best)) best = x;
  }
  return best;
}

export interface Aggregation {
  /** The fields rows show before any GROUPBY or APPLY (LOAD). */
  load: string[];
  steps: Step[];
}

/** The pipeline FT.AGGREGATE's arguments after the query describe. */
export function parseAggregate(args: string[]): Aggregation {
  const agg: Aggregation = { load: [], steps: [] };
  let i = 0;
  const next = (what: string) => {
    if (i >= args.length) throw err(`FT.AGGREGATE: ${what} expected`);
    return args[i++];
  };
  const count = (what: string, max = 1024) => {
    const n = Number(next(what));
    if (!Number.isInteger(n) || n < 0 || n > max) throw err(`FT.AGGREGATE: bad ${what}`);
    return n;
  };
  while (i < args.length) {
    const w = args[i++].toUpperCase();
    if (w === "VERBATIM") continue;
    if (w === "DIALECT" || w === "TIMEOUT") {
      next(`a ${w} value`);
    } else if (w === "LOAD") {
      const first = next("LOAD count");
      if (first === "*") agg.load.push("*");
      else {
        const n = Number(first);
        if (!Number.isInteger(n) || n < 0 || n > 1024) throw err("FT.AGGREGATE: bad LOAD count");
        for (let k = 0; k < n; k++) agg.load.push(next("a field").replace(/^@/, ""));
      }
    } else if (w === "GROUPBY") {
      const n = count("GROUPBY count");
      const keys: string[] = [];
      for (let k = 0; k < n; k++) keys.push(field(next("a field"), "a GROUPBY key"));
      const reducers: { name: string; fn: (vs: Value[]) => Value | Value[]; arg: string | null }[] =
        [];
      while (args[i]?.toUpperCase() === "REDUCE") {
        i++;
        const fname = next("a reducer").toUpperCase();
        const fn = REDUCERS[fname];
        if (fn === undefined) throw err(`FT.AGGREGATE: unknown reducer '${fname.slice(0, 32)}'`);
        const nargs = count("reducer argument count", 16);
        const rargs: string[] = [];
        for (let k = 0; k < nargs; k++) rargs.push(next("a reducer argument"));
        if (fname !== "COUNT" && nargs !== 1) throw err(`FT.AGGREGATE: ${fname} takes one @field`);
        const arg = fname === "COUNT" ? null : field(rargs[0], `${fname}'s argument`);
        let name = `__generated_alias${fname.toLowerCase()}${arg ?? ""}`;
        if (args[i]?.toUpperCase() === "AS") {
          i++;
          name = next("a name");
        }
        reducers.push({ name, fn, arg });
      }
      agg.steps.push({
        shows: { replace: true, fields: [...keys, ...reducers.map((r) => r.name)] },
        run: (rows) => {
          const groups = new Map<string, Row[]>();
          for (const r of rows) {
            const k = JSON.stringify(keys.map((f) => cell(r, f)));
            let g = groups.get(k);
            if (g === undefined) groups.set(k, (g = []));
            g.push(r);
          }
          const out: Row[] = [];
          for (const g of groups.values()) {
            const row: Row = {};
            for (const f of keys) row[f] = g[0][f] ?? null;
            for (const red of reducers) {
              const v = red.fn(g.map((r) => (red.arg === null ? 1 : (r[red.arg] ?? null))));
              row[red.name] = (Array.isArray(v) ? JSON.stringify(v) : v) as Value;
            }
            out.push(row);
          }
          return out;
        },
      });
    } else if (w === "SORTBY") {
      const n = count("SORTBY count");
      const keys: { f: string; desc: boolean }[] = [];
      for (let k = 0; k < n; k++) {
        const a = next("a SORTBY argument");
        const dir = a.toUpperCase();
        if ((dir === "ASC" || dir === "DESC") && keys.length > 0) {
          keys[keys.length - 1].desc = dir === "DESC";
        } else keys.push({ f: field(a, "a SORTBY key"), desc: false });
      }
      let max = Number.POSITIVE_INFINITY;
      if (args[i]?.toUpperCase() === "MAX") {
        i++;
        max = count("MAX", MAX_ROWS);
      }
      agg.steps.push({
        run: (rows) => {
          const sorted = [...rows].sort((a, b) => {
            for (const k of keys) {
              const x = a[k.f] ?? null;
              const y = b[k.f] ?? null;
              if (x === y) continue;
              if (x === null) return 1;
              if (y === null) return -1;
              const nx = Number(x);
              const ny = Number(y);
              const c =
                !Number.isNaN(nx) && !Number.isNaN(ny) ? nx - ny : String(x) < String(y) ? -1 : 1;
              if (c !== 0) return k.desc ? -c : c;
            }
            return 0;
          });
          return sorted.slice(0, max);
        },
      });
    } else if (w === "APPLY") {
      const e = parseExpression(next("an APPLY expression"));
      if (next("AS").toUpperCase() !== "AS") throw err("FT.AGGREGATE: APPLY needs AS name");
      const name = next("a name");
      agg.steps.push({
        shows: { replace: false, fields: [name] },
        run: (rows) =>
          rows.map((r) => {
            const out = Object.assign(newRow(), r);
            out[name] = e(r);
            return out;
          }),
      });
    } else if (w === "FILTER") {
      const e = parseExpression(next("a FILTER expression"));
      agg.steps.push({ run: (rows) => rows.filter((r) => truthy(e(r))) });
    } else if (w === "LIMIT") {
      const off = count("LIMIT offset", MAX_ROWS);
      const n = count("LIMIT count", MAX_ROWS);
      agg.steps.push({ run: (rows) => rows.slice(off, off + n) });
    } else {
      throw err(`FT.AGGREGATE: unknown argument '${w.slice(0, 32)}'`);
    }
  }
  return agg;
}

/**
 * Runs the pipeline over the documents' fields. Rows carry every field for the steps to use,
 * but show only what LOAD, GROUPBY and APPLY put in them.
 */
export function runAggregate(agg: Aggregation, docs: Map<string, string>[]): Reply {
  let loadAll = agg.load.includes("*");
  let shown = new Set(agg.load.filter((f) => f !== "*"));
  let rows: Row[] = docs.map((d) => {
    const r = newRow();
    for (const [k, v] of d) r[k] = v;
    return r;
  });
  for (const step of agg.steps) {
    rows = step.run(rows);
    if (step.shows?.replace) {
      shown = new Set(step.shows.fields);
      loadAll = false;
    } else if (step.shows !== undefined) for (const f of step.shows.fields) shown.add(f);
  }
  const visible = (r: Row): [string, Value][] =>
    Object.entries(r).filter(([k]) => loadAll || shown.has(k));
  const text = (v: Value): Reply =>
    typeof v === "number" ? formatDouble(v) : Array.isArray(v) ? [...v] : v;
  const resp2: Reply[] = [rows.length];
  const results: Reply[] = [];
  for (const r of rows) {
    const flat = visible(r).flatMap(([k, v]) => [k, text(v)]);
    resp2.push(flat);
    results.push(new MapReply(["extra_attributes", new MapReply(flat), "values", []]));
  }
  const resp3 = new MapReply([
    "attributes",
    [],
    "format",
    "STRING",
    "results",
    results,
    "total_results",
    rows.length,
    "warning",
    [],
  ]);
  return new ByProtocol(resp3, resp2);
}
