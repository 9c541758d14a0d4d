/**
 * libSQL's "Hrana over HTTP" messages (JSON encoding, versions 2 and 3), checked on the way in
 * and built on the way out. Only shapes live here: what a request means is ./stream-requests.ts.
 *
 * A request body that does not have the protocol's shape is a ProtocolError, which the route
 * answers with HTTP 400 (the spec's "the stream is no longer valid"); a well-formed request that
 * fails answers an error result in its place and the stream goes on.
 */
import type { SqlValue } from "../backends/sql/sql-values.ts";

export class ProtocolError extends Error {}

export interface HranaError {
  message: string;
  code?: string | null;
}

export interface Stmt {
  sql: string | null;
  sqlId: number | null;
  args: SqlValue[];
  namedArgs: [string, SqlValue][];
  wantRows: boolean;
}

export type BatchCond =
  | { type: "ok" | "error"; step: number }
  | { type: "not"; cond: BatchCond }
  | { type: "and" | "or"; conds: BatchCond[] }
  | { type: "is_autocommit" };

export interface BatchStep {
  condition: BatchCond | null;
  stmt: Stmt;
}

export type StreamRequest =
  | { type: "close" }
  | { type: "execute"; stmt: Stmt }
  | { type: "batch"; steps: BatchStep[] }
  | { type: "sequence"; sql: string | null; sqlId: number | null }
  | { type: "describe"; sql: string | null; sqlId: number | null }
  | { type: "store_sql"; sqlId: number; sql: string }
  | { type: "close_sql"; sqlId: number }
  | { type: "get_autocommit" };

export interface PipelineRequest {
  baton: string | null;
  requests: StreamRequest[];
}

/** Bounds on one request (a clear error beyond). */
const MAX_STEPS = 10_000;
const MAX_COND_DEPTH = 64;

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json =>
  typeof v === "object" && v !== null && !Array.isArray(v);

function fail(what: string): never {
  throw new ProtocolError(what);
}

function obj(v: unknown, what: string): Json {
  return isObject(v) ? v : fail(`${what} must be an object`);
}

function optString(o: Json, key: string, what: string): string | null {
  const v = o[key];
  if (v === undefined || v === null) return null;
  return typeof v === "string" ? v : fail(`${what}.${key} must be a string`);
}

function optInt32(o: Json, key: string, what: string): number | null {
  const v = o[key];
  if (v === undefined || v === null) return null;
  return Number.isInteger(v) && Math.abs(v as number) < 2 ** 31
    ? (v as number)
    : fail(`${what}.${key} must be a 32-bit integer`);
}

const INTEGER = /^-?\d{1,19}$/;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** A Value: {type: null|integer|float|text|blob, value | base64}. */
export function readValue(v: unknown, what: string): SqlValue {
  const o = obj(v, what);
  switch (o.type) {
    case "null":
      return null;
    case "integer": {
      const raw = o.value;
      const text = typeof raw === "number" && Number.isSafeInteger(raw) ? String(raw) : raw;
      if (typeof text !== "string" || !INTEGER.test(text)) {
        fail(`${what}.value must be an integer in a string`);
      }
      const n = BigInt(text);
      if (n < INT64_MIN || n > INT64_MAX) fail(`${what}.value is out of the 64-bit range`);
      return n;
    }
    case "float":
      return typeof o.value === "number" ? o.value : fail(`${what}.value must be a number`);
    case "text":
      return typeof o.value === "string" ? o.value : fail(`${what}.value must be a string`);
    case "blob": {
      const b = o.base64;
      if (typeof b !== "string" || !/^[A-Za-z0-9+/\-_]*={0,2}$/.test(b)) {
        fail(`${what}.base64 must be base64`);
      }
      return Buffer.from(b, "base64");
    }
    default:
      return fail(`${what}.type must be null, integer, float, text or blob`);
  }
}

/** A value as the protocol writes it. */
export function writeValue(v: SqlValue): Json {
  if (v === null) return { type: "null" };
  if (typeof v === "bigint") return { type: "integer", value: v.toString() };
  if (typeof v === "number") return { type: "float", value: v };
  if (typeof v === "string") return { type: "text", value: v };
  return {
    type: "blob",
    base64: Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("base64"),
  };
}

function readStmt(v: unknown, what: string): Stmt {
  const o = obj(v, what);
  const sql = optString(o, "sql", what);
  const sqlId = optInt32(o, "sql_id", what);
  if ((sql === null) === (sqlId === null)) fail(`${what} needs exactly one of sql and sql_id`);
  const args = o.args ?? [];
  if (!Array.isArray(args)) fail(`${what}.args must be an array`);
  const named = o.named_args ?? [];
  if (!Array.isArray(named)) fail(`${what}.named_args must be an array`);
  const wantRows = o.want_rows ?? true;
  if (typeof wantRows !== "boolean") fail(`${what}.want_rows must be a boolean`);
  return {
    sql,
    sqlId,
    args: args.map((a, i) => readValue(a, `${what}.args[${i}]`)),
    namedArgs: named.map((a, i) => {
      const n = obj(a, `${what}.named_args[${i}]`);
      if (typeof n.name !== "string") fail(`${what}.named_args[${i}].name must be a string`);
      return [n.name, readValue(n.value, `${what}.named_args[${i}].value`)];
    }),
    wantRows,
  };
}

function readCond(v: unknown, what: string, depth: number): BatchCond {
  if (depth > MAX_COND_DEPTH) fail(`${what} is nested deeper than ${MAX_COND_DEPTH}`);
  const o = obj(v, what);
  switch (o.type) {
    case "ok":
    case "error": {
      const step = o.step;
      if (!Number.isInteger(step) || (step as number) < 0)
        fail(`${what}.step must be a step index`);
      return { type: o.type, step: step as number };
    }
    case "not":
      return { type: "not", cond: readCond(o.cond, `${what}.cond`, depth + 1) };
    case "and":
    case "or": {
      if (!Array.isArray(o.conds)) fail(`${what}.conds must be an array`);
      const conds = o.conds.map((c, i) => readCond(c, `${what}.conds[${i}]`, depth + 1));
      return { type: o.type, conds };
    }
    case "is_autocommit":
      return { type: "is_autocommit" };
    default:
      return fail(`${what}.type must be ok, error, not, and, or or is_autocommit`);
  }
}

function readRequest(v: unknown, what: string): StreamRequest {
  const o = obj(v, what);
  switch (o.type) {
    case "close":
    case "get_autocommit":
      return { type: o.type };
    case "execute":
      return { type: "execute", stmt: readStmt(o.stmt, `${what}.stmt`) };
    case "batch": {
      const batch = obj(o.batch, `${what}.batch`);
      if (!Array.isArray(batch.steps)) fail(`${what}.batch.steps must be an array`);
      if (batch.steps.length > MAX_STEPS) fail(`a batch holds at most ${MAX_STEPS} steps`);
      const steps = batch.steps.map((s, i) => {
        const step = obj(s, `${what}.batch.steps[${i}]`);
        const w = `${what}.batch.steps[${i}]`;
        const condition =
          step.condition === undefined || step.condition === null
            ? null
            : readCond(step.condition, `${w}.condition`, 0);
        return { condition, stmt: readStmt(step.stmt, `${w}.stmt`) };
      });
      return { type: "batch", steps };
    }
    case "sequence":
    case "describe": {
      const sql = optString(o, "sql", what);
      const sqlId = optInt32(o, "sql_id", what);
      if ((sql === null) === (sqlId === null)) fail(`${what} needs exactly one of sql and sql_id`);
      return { type: o.type, sql, sqlId };
    }
    case "store_sql": {
      const sqlId = optInt32(o, "sql_id", what);
      const sql = optString(o, "sql", what);
      if (sqlId === null || sql === null) fail(`${what} needs sql_id and sql`);
      return { type: "store_sql", sqlId, sql };
    }
    case "close_sql": {
      const sqlId = optInt32(o, "sql_id", what);
      if (sqlId === null) fail(`${what} needs sql_id`);
      return { type: "close_sql", sqlId };
    }
    default:
      return fail(`${what}.type '${String(o.type).slice(0, 32)}' is not a stream request`);
  }
}

/** The body of POST …/v3/cursor: a baton and one batch. */
export function readCursor(text: string): { baton: string | null; steps: BatchStep[] } {
  const body = parseBody(text);
  const baton = body.baton ?? null;
  if (baton !== null && typeof baton !== "string") fail("baton must be a string or null");
  const req = readRequest({ type: "batch", batch: body.batch }, "the cursor");
  return { baton, steps: (req as { steps: BatchStep[] }).steps };
}

function parseBody(text: string): Json {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    fail("the body is not JSON");
  }
  return obj(body, "the body");
}

/** The body of POST …/pipeline. */
export function readPipeline(text: string): PipelineRequest {
  const o = parseBody(text);
  const baton = o.baton ?? null;
  if (baton !== null && typeof baton !== "string") fail("baton must be a string or null");
  if (!Array.isArray(o.requests)) fail("requests must be an array");
  return {
    baton,
    requests: o.requests.map((r, i) => readRequest(r, `requests[${i}]`)),
  };
}
