/**
 * What each request of a libSQL pipeline does on its stream: execute one statement, run a batch
 * (steps with conditions on earlier steps' outcomes), run a script (sequence), describe a
 * statement, store and drop SQL texts, report whether a transaction is open, close. Each
 * answers a result object in its place; a failing request answers an error there and the
 * requests after it still run, as the spec says.
 */
import { sqliteCodeOf } from "../backends/sql/sql-errors.ts";
import { splitStatements } from "../backends/sql/sql-scan.ts";
import type { Binding } from "../backends/sql/sql-values.ts";
import { HeroError } from "../errors.ts";
import {
  type BatchCond,
  type BatchStep,
  type HranaError,
  type Stmt,
  type StreamRequest,
  writeValue,
} from "./proto.ts";
import type { StatementResult } from "./sql-session.ts";
import type { HranaStream } from "./streams.ts";

/** Stored SQL texts one stream may hold, and their total size. */
const MAX_STORED = 1000;
const MAX_STORED_CHARS = 16 * 1024 * 1024;

type Json = Record<string, unknown>;

/** The protocol's error object for an engine error: SQLite's code where there is one. */
export function errorObject(e: HeroError): HranaError {
  const sqlite = sqliteCodeOf(e);
  if (sqlite !== null) return { message: e.message, code: sqlite };
  switch (e.code) {
    case "SERIALIZATION":
      // What SQLite answers when a transaction's snapshot is stale: retry the transaction.
      return { message: `SERIALIZATION: ${e.message}`, code: "SQLITE_BUSY" };
    case "NOPERM":
    case "NOAUTH":
      return { message: e.message, code: "SQLITE_AUTH" };
    case "ERR":
    case "SYNTAX":
      return { message: e.message, code: "SQLITE_ERROR" };
    case "LIMIT":
      return { message: e.message, code: "SQLITE_TOOBIG" };
    default:
      return { message: e.message, code: e.code };
  }
}

const failure = (message: string, code = "SQLITE_ERROR"): HeroError =>
  new HeroError("ERR", message, { sqlite: code });

function resultObject(r: StatementResult, wantRows: boolean): Json {
  return {
    cols: r.columns.map((c) => ({ name: c.name, decltype: c.decltype })),
    rows: wantRows ? r.rows.map((row) => row.map(writeValue)) : [],
    affected_row_count: r.changes,
    last_insert_rowid: r.lastInsertRowid === null ? null : String(r.lastInsertRowid),
  };
}

/** The text of a statement or script: given inline, or stored earlier by store_sql. */
function sqlOf(stream: HranaStream, sql: string | null, sqlId: number | null): string | HeroError {
  if (sql !== null) return sql;
  const stored = stream.sqls.get(sqlId as number);
  return stored ?? failure(`no SQL text is stored under id ${sqlId}`);
}

function bindingOf(stmt: Stmt): Binding {
  if (stmt.namedArgs.length === 0) return { positional: stmt.args, named: null };
  const named: Binding["named"] = Object.create(null);
  for (const [name, value] of stmt.namedArgs) (named as Record<string, unknown>)[name] = value;
  return { positional: stmt.args, named };
}

async function execute(stream: HranaStream, stmt: Stmt): Promise<Json | HeroError> {
  const sql = sqlOf(stream, stmt.sql, stmt.sqlId);
  if (sql instanceof HeroError) return sql;
  const r = await stream.session.execute(sql, bindingOf(stmt));
  return r instanceof HeroError ? r : resultObject(r, stmt.wantRows);
}

/** A batch's steps run in order: each step's result or error (both null when skipped). */
export async function runBatch(
  stream: HranaStream,
  steps: BatchStep[],
): Promise<{ step_results: (Json | null)[]; step_errors: (HranaError | null)[] }> {
  const results: (Json | null)[] = [];
  const errors: (HranaError | null)[] = [];
  const holds = (c: BatchCond): boolean => {
    switch (c.type) {
      case "ok":
        return c.step < results.length && results[c.step] !== null;
      case "error":
        return c.step < errors.length && errors[c.step] !== null;
      case "not":
        return !holds(c.cond);
      case "and":
        return c.conds.every(holds);
      case "or":
        return c.conds.some(holds);
      case "is_autocommit":
        return stream.session.autocommit;
    }
  };
  const record = (r: Json | HeroError | null) => {
    results.push(r === null || r instanceof HeroError ? null : r);
    errors.push(r instanceof HeroError ? errorObject(r) : null);
  };
  /** Whether a step runs: a skipped one is recorded (both null) and answers false. */
  const runs = (step: BatchStep): boolean => {
    if (step.condition === null || holds(step.condition)) return true;
    record(null);
    return false;
  };
  const session = stream.session;
  let i = 0;
  while (i < steps.length) {
    // Inside a transaction, the statements that follow run at once in one held view of it
    // (no replay of its earlier writes for each); the others take the asynchronous path.
    session.holding(() => {
      for (; i < steps.length; i++) {
        const step = steps[i];
        if (!runs(step)) continue;
        const sql = sqlOf(stream, step.stmt.sql, step.stmt.sqlId);
        const r = sql instanceof HeroError ? sql : session.now(sql, bindingOf(step.stmt));
        if (r === undefined) return;
        record(r instanceof HeroError ? r : resultObject(r, step.stmt.wantRows));
      }
    });
    if (i >= steps.length) break;
    const step = steps[i++];
    if (runs(step)) record(await execute(stream, step.stmt));
  }
  return { step_results: results, step_errors: errors };
}

async function sequence(stream: HranaStream, sql: string): Promise<HeroError | null> {
  for (const statement of splitStatements(sql)) {
    const r = await stream.session.execute(statement, { positional: [], named: null });
    if (r instanceof HeroError) return r;
  }
  return null;
}

async function describe(stream: HranaStream, sql: string): Promise<Json | HeroError> {
  const d = await stream.session.describe(sql);
  if (d instanceof HeroError) return d;
  return {
    params: d.params.map((name) => ({ name })),
    cols: d.columns.map((c) => ({ name: c.name, decltype: c.decltype })),
    is_explain: d.explain,
    is_readonly: d.readOnly,
  };
}

function store(stream: HranaStream, id: number, sql: string): HeroError | null {
  let chars = sql.length;
  for (const [k, v] of stream.sqls) if (k !== id) chars += v.length;
  if ((!stream.sqls.has(id) && stream.sqls.size >= MAX_STORED) || chars > MAX_STORED_CHARS) {
    return failure(
      `a stream stores at most ${MAX_STORED} SQL texts of ${MAX_STORED_CHARS / 1048576} MiB together: close_sql some`,
      "SQLITE_TOOBIG",
    );
  }
  stream.sqls.set(id, sql);
  return null;
}

/** Runs one request on the stream; its StreamResult. */
export async function runRequest(stream: HranaStream, req: StreamRequest): Promise<Json> {
  const ok = (response: Json): Json => ({ type: "ok", response });
  const error = (e: HeroError): Json => ({ type: "error", error: errorObject(e) });
  if (stream.closed) return error(failure("the stream is closed", "STREAM_CLOSED"));
  switch (req.type) {
    case "close":
      stream.closed = true;
      stream.session.close();
      return ok({ type: "close" });
    case "execute": {
      const r = await execute(stream, req.stmt);
      return r instanceof HeroError ? error(r) : ok({ type: "execute", result: r });
    }
    case "batch":
      return ok({ type: "batch", result: await runBatch(stream, req.steps) });
    case "sequence": {
      const sql = sqlOf(stream, req.sql, req.sqlId);
      const r = sql instanceof HeroError ? sql : await sequence(stream, sql);
      return r instanceof HeroError ? error(r) : ok({ type: "sequence" });
    }
    case "describe": {
      const sql = sqlOf(stream, req.sql, req.sqlId);
      const r = sql instanceof HeroError ? sql : await describe(stream, sql);
      return r instanceof HeroError ? error(r) : ok({ type: "describe", result: r });
    }
    case "store_sql": {
      const r = store(stream, req.sqlId, req.sql);
      return r instanceof HeroError ? error(r) : ok({ type: "store_sql" });
    }
    case "close_sql":
      stream.sqls.delete(req.sqlId);
      return ok({ type: "close_sql" });
    case "get_autocommit":
      return ok({ type: "get_autocommit", is_autocommit: stream.session.autocommit });
  }
}
