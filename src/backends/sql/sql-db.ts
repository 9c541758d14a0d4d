/**
 * One SQL instance's SQLite database (node:sqlite), as its engine uses it.
 *
 * Two connections to one file in WAL mode: the writer applies the Raft log's ops, one SQLite
 * transaction per log entry that also records the entry's index in `_herodb_meta`, so state and
 * applied index commit together (a restart neither loses nor re-applies an entry); the reader is
 * opened read-only and serves SQL.QUERY, so a statement that writes cannot run there at all.
 *
 * The same transaction records, in `_herodb_writes`, the index at which each table (and the
 * schema) was last written: interactive transactions (./sql-tx.ts) commit only if nothing they
 * depend on was written after they began, a decision every replica makes alike from this table.
 * Their statements run on the writer inside `scratch`, a transaction rolled back before the
 * call returns, so the applier never waits and nothing of it is ever visible.
 *
 * Determinism: the writer's date functions read 'now' as the Op's clock (./sql-clock.ts) and its `random()` and
 * `randomblob()` draw from a generator seeded from the log (./sql-random.ts). `last_insert_rowid()`
 * and `changes()` are the connection's, so each op and each scratch transaction starts with both
 * at 0 (`resetCounters`), as on a fresh connection; `total_changes()` counts since the
 * connection opened, which differs per replica, so it is refused. What statements may do is the
 * authorizer's (./sql-guard.ts). The authorizer runs when a statement is prepared, which is why
 * statements are prepared for each run: a cached one would not report what it touches.
 */
import { renameSync, rmSync } from "node:fs";
import { backup, DatabaseSync, type SQLInputValue, type StatementSync } from "node:sqlite";
import { ByProtocol, Double, MapReply, type Reply } from "../../engine/reply.ts";
import { HeroError } from "../../errors.ts";
import { EntryApplier, META, WRITES, WRITTEN_AT } from "./sql-apply.ts";
import { SqlClock } from "./sql-clock.ts";
import { sqlError, sqliteError } from "./sql-errors.ts";
import { SCHEMA, StatementGuard } from "./sql-guard.ts";
import { SeededRandom } from "./sql-random.ts";
import { Bounded, type Shape, shapeOf } from "./sql-shapes.ts";
import type { Binding, Column, RunResult } from "./sql-values.ts";

/** Always empty: an insert into it, rolled back, resets the connection's last_insert_rowid. */
const ROWID = "_herodb_rowid";

/** Bounds on what one command may send and get back (clear errors beyond). */
const MAX_STATEMENT_CHARS = 1024 * 1024;
const MAX_RESULT_BYTES = 64 * 1024 * 1024;
/** Statements longer than this are prepared for each run, not kept. */
const MAX_CACHED_CHARS = 4096;

/** Statements whose `changes` SQLite counts (WITH may lead into any of them). */
const ROW_CHANGING = new Set(["INSERT", "UPDATE", "DELETE", "REPLACE", "WITH"]);

/** A value SQLite returned, as a reply: integers as integers, reals as doubles, blobs as bytes. */
export function valueReply(v: unknown): Reply {
  if (v === null || v === undefined) return null;
  if (typeof v === "bigint") {
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)
      ? Number(v)
      : v;
  }
  if (typeof v === "number") return new Double(v);
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  return String(v);
}

export interface ExecResult {
  changes: number;
  lastInsertRowid: number | bigint;
}

export function execReply(r: ExecResult): Reply {
  const rowid = valueReply(
    typeof r.lastInsertRowid === "bigint" ? r.lastInsertRowid : BigInt(r.lastInsertRowid),
  );
  return new ByProtocol(new MapReply(["changes", r.changes, "last_insert_rowid", rowid]), [
    r.changes,
    rowid,
  ]);
}

export class SqlDb {
  readonly path: string;
  /** The writer connection (./sql-apply.ts applies entries on it). */
  private writer: DatabaseSync;
  private reader: DatabaseSync;
  private readonly random = new SeededRandom();
  /** The writer's guard (./sql-apply.ts records what each op wrote through it). */
  readonly guard = new StatementGuard();
  /** The reader's guard: always read-only (the temp schema and ATTACH stay writable on a
   * read-only connection, so the connection alone does not keep a Read key to reads). */
  private readonly readerGuard = new StatementGuard();
  /** What 'now' means on the writer: set to the Op's clock before its statements run. */
  readonly clock = new SqlClock();
  appliedIndex = 0;

  constructor(path: string) {
    this.path = path;
    this.writer = this.openWriter();
    this.reader = this.openReader();
    this.applier = new EntryApplier(this);
  }

  /** The writer connection, for ./sql-apply.ts (which applies log entries on it). */
  get writerConnection(): DatabaseSync {
    return this.writer;
  }

  private openReader(): DatabaseSync {
    const db = new DatabaseSync(this.path, { readOnly: true });
    this.readerGuard.readOnly = true;
    db.setAuthorizer(this.readerGuard.authorize);
    return db;
  }

  private openWriter(): DatabaseSync {
    const db = new DatabaseSync(this.path);
    db.exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=5000");
    // No statement may corrupt the file on purpose (writable_schema, raw page writes).
    db.enableDefensive(true);
    db.exec(`CREATE TABLE IF NOT EXISTS ${META} (k TEXT PRIMARY KEY, v INTEGER NOT NULL)`);
    db.exec(`CREATE TABLE IF NOT EXISTS ${WRITES} (name TEXT PRIMARY KEY, idx INTEGER NOT NULL)`);
    db.exec(`CREATE TABLE IF NOT EXISTS ${ROWID} (id INTEGER PRIMARY KEY)`);
    const reset = [
      "SAVEPOINT herodb_reset",
      `INSERT INTO ${ROWID} (id) VALUES (0)`,
      "ROLLBACK TO herodb_reset",
      "RELEASE herodb_reset",
      `UPDATE ${ROWID} SET id = id WHERE 0`,
    ].map((sql) => db.prepare(sql));
    this.resetCounters = () =>
      this.asEngine(() => {
        for (const st of reset) st.run();
      });
    const row = db.prepare(`SELECT v FROM ${META} WHERE k = 'applied'`).get() as
      | { v: number }
      | undefined;
    this.appliedIndex = row?.v ?? 0;
    db.function("random", { deterministic: false }, () => this.random.int64());
    db.function("randomblob", { deterministic: false }, (n: unknown) =>
      this.random.bytes(Math.max(1, Math.min(Number(n) || 1, 1 << 20))),
    );
    this.clock.install(db);
    db.function("total_changes", () => {
      throw new Error(
        "total_changes() is not available: it counts per connection, and replicas differ",
      );
    });
    db.setAuthorizer(this.guard.authorize);
    return db;
  }

  /** Sets the writer's last_insert_rowid() and changes() to 0 (see the module comment). */
  resetCounters: () => void = () => {};

  /** Runs the engine's own statements (unchecked by the guard). */
  private asEngine<T>(fn: () => T): T {
    const was = this.guard.internal;
    this.guard.internal = true;
    this.readerGuard.internal = true;
    try {
      return fn();
    } finally {
      this.guard.internal = was;
      this.readerGuard.internal = was;
    }
  }

  /**
   * Applies one log entry's ops in one transaction recording `index` (./sql-apply.ts); with
   * `foreignKeysOff`, ops so marked run with foreign keys off.
   */
  applyEntry(
    index: number,
    runs: ((seed: string) => Reply)[],
    foreignKeysOff?: readonly boolean[],
  ): Reply[] {
    return this.applier.applyEntry(index, runs, foreignKeysOff);
  }

  /** How log entries are applied (created once the writer is open). */
  private applier!: EntryApplier;

  /**
   * Runs `fn` as the engine itself: its statements pass the guard unchecked (engines built on
   * this file, such as full-text, run only their own statements).
   */
  internal<T>(fn: () => T): T {
    return this.asEngine(fn);
  }

  /**
   * A read statement of the engine's own on the reader, prepared once (run it inside
   * `internal` when it may be prepared again after a schema change).
   */
  readStatement(sql: string): StatementSync {
    let st = this.ownReaderStatements.get(sql);
    if (st === undefined) {
      st = this.asEngine(() => this.reader.prepare(sql));
      this.ownReaderStatements.set(sql, st);
    }
    return st;
  }

  /** The engine's own statements on the reader (kept apart from clients' statements, whose
   * read settings differ). */
  private readonly ownReaderStatements = new Bounded<StatementSync>(256);

  /** The engine's own statements on the writer, prepared once per writer connection (the
   * most recent 512: a full-text engine's statements name its indexes' tables). */
  private own = new Bounded<StatementSync>(512);
  ownStatement(sql: string): StatementSync {
    let st = this.own.get(sql);
    if (st === undefined) {
      st = this.asEngine(() => this.writer.prepare(sql));
      this.own.set(sql, st);
    }
    return st;
  }
  /**
   * Of `tables` (and the schema, which everything depends on), the one written last after
   * `since`, with its index; null when none was.
   */
  writtenAfter(tables: Iterable<string>, since: number): { table: string; index: number } | null {
    return this.asEngine(() => {
      const get = this.ownStatement(WRITTEN_AT);
      let last: { table: string; index: number } | null = null;
      for (const table of new Set([SCHEMA, ...tables])) {
        const row = get.get(table) as { idx: number } | undefined;
        if (row !== undefined && row.idx > since && (last === null || row.idx > last.index)) {
          last = { table, index: row.idx };
        }
      }
      return last;
    });
  }

  /**
   * Set while a transaction's reads run on the writer (./sql-scratch.ts `tracking`): client
   * reads then see the transaction's own writes.
   */
  readsOnWriter = false;

  /** Seeds random()/randomblob() for the op about to run. */
  seed(seed: string): void {
    this.random.seed(seed);
  }

  /**
   * A client's statement prepared on `db`, after the checks every client statement passes (size,
   * one statement, no VACUUM). Statements on the reader are kept and reused (SQLite prepares them
   * again itself if the schema changed); those on the writer are prepared for each run, since
   * the authorizer, which says what a write touches, is consulted only while a statement is
   * prepared.
   */
  private prepared(db: DatabaseSync, text: string): { st: StatementSync; shape: Shape } {
    if (text.length > MAX_STATEMENT_CHARS) {
      throw new HeroError(
        "ERR",
        `the statement is longer than ${MAX_STATEMENT_CHARS / 1048576} MiB: bind large values as arguments`,
      );
    }
    const shape = shapeOf(text);
    if (shape.verb === "VACUUM") {
      throw new HeroError("ERR", "VACUUM is not available: the engine manages the database file");
    }
    if (shape.second) {
      throw new HeroError("ERR", "one statement per command (SQL.BATCH runs several)");
    }
    try {
      // Long texts are not kept: the cache would hold them (and a statement each) alive.
      const keep = db === this.reader && shape.sql.length <= MAX_CACHED_CHARS;
      let st = keep ? this.readerStatements.get(shape.sql) : undefined;
      if (st === undefined) {
        st = db.prepare(shape.sql);
        st.setReadBigInts(true);
        st.setReturnArrays(true);
        if (keep) this.readerStatements.set(shape.sql, st);
      }
      return { st, shape };
    } catch (e) {
      throw sqlError(e, this.guardOf(db).refusal);
    }
  }

  /** The statement, prepared, and its text arguments in the form node:sqlite binds them. */
  private prepare(
    db: DatabaseSync,
    text: string,
    args: readonly Buffer[],
  ): { st: StatementSync; values: SQLInputValue[] | [Record<string, SQLInputValue>] } {
    const p = shapeOf(text).params;
    const wanted = p.count;
    if (p.names.length > 0 && p.positional) {
      throw new HeroError("ERR", "use either ? parameters or named ones (:name), not both");
    }
    if (wanted !== args.length) {
      throw new HeroError(
        "ERR",
        `the statement has ${wanted} parameter${wanted === 1 ? "" : "s"} and ${args.length} value${args.length === 1 ? " was" : "s were"} given`,
      );
    }
    const { st } = this.prepared(db, text);
    const strings = args.map((a) => a.toString("utf8"));
    if (p.names.length === 0) return { st, values: strings };
    // Named parameters bind by name, in the order they first appear.
    const named: Record<string, SQLInputValue> = {};
    p.names.forEach((n, i) => {
      named[n] = strings[i];
    });
    return { st, values: [named] };
  }

  /** The reader's prepared statements, by text (see `prepared`). */
  private readonly readerStatements = new Bounded<StatementSync>(256);

  private guardOf(db: DatabaseSync): StatementGuard {
    return db === this.reader ? this.readerGuard : this.guard;
  }

  /** Runs a statement on the writer (inside applyEntry); its changes and last rowid. */
  exec(sql: string, args: readonly Buffer[]): ExecResult {
    const { st, values } = this.prepare(this.writer, sql, args);
    try {
      const r = st.run(...(values as SQLInputValue[]));
      // SQLite's count is the last INSERT/UPDATE/DELETE's, even after a CREATE: say 0 there.
      const dml = ROW_CHANGING.has(shapeOf(sql).verb);
      return { changes: dml ? Number(r.changes) : 0, lastInsertRowid: r.lastInsertRowid };
    } catch (e) {
      throw sqlError(e, this.guard.refusal);
    }
  }

  /**
   * Runs a read: column names and rows of replies. On the reader (read-only, so nothing that
   * writes can run), or, for a transaction's reads, on the writer inside `scratch` and
   * `tracking`, where the guard refuses writes.
   */
  query(sql: string, args: readonly Buffer[]): { columns: string[]; rows: Reply[][] } {
    const db = this.readsOnWriter ? this.writer : this.reader;
    const { st, values } = this.prepare(db, sql, args);
    try {
      const rows = this.collect(st, values).map((row) => row.map(valueReply));
      return { columns: st.columns().map((c) => c.name), rows };
    } catch (e) {
      throw this.readError(e, db);
    }
  }

  /** A read's failure: a statement that would write says where writes go. */
  private readError(e: unknown, db: DatabaseSync): HeroError {
    const message = (e as Error).message ?? "";
    if (/readonly database/i.test(message)) {
      return sqliteError(
        "SQL.QUERY runs reads only: use SQL.EXEC to change data",
        "SQLITE_READONLY",
      );
    }
    return sqlError(e, this.guardOf(db).refusal);
  }

  /** Runs `st` and returns its rows as SQLite gives them, refusing results over the limit. */
  private collect(
    st: StatementSync,
    values: readonly SQLInputValue[] | readonly unknown[],
  ): unknown[][] {
    const rows: unknown[][] = [];
    let bytes = 0;
    for (const row of st.iterate(...(values as SQLInputValue[])) as Iterable<unknown[]>) {
      for (const v of row) bytes += typeof v === "string" || v instanceof Uint8Array ? v.length : 8;
      if (bytes > MAX_RESULT_BYTES) {
        throw new HeroError(
          "ERR",
          `the result is larger than ${MAX_RESULT_BYTES / 1048576} MiB: narrow it (LIMIT, fewer columns)`,
        );
      }
      rows.push(row);
    }
    return rows;
  }

  /**
   * Runs one statement with typed values (SQL.RUN and SQL.RUN_RO): on the writer when `write`
   * (inside applyEntry or a transaction's scratch), otherwise where reads run. Returns its
   * columns with their declared types, its rows as SQLite gives them, and, for a write, the
   * rows it changed and the last rowid.
   */
  run(sql: string, binding: Binding, write: boolean): RunResult {
    const db = write || this.readsOnWriter ? this.writer : this.reader;
    const { st, shape } = this.prepared(db, sql);
    for (const name of shape.params.names) {
      const given = binding.named;
      if (given === null || !(name in given || name.slice(1) in given)) {
        throw sqliteError(`no value was given for the parameter ${name}`, "SQLITE_RANGE");
      }
    }
    try {
      const columns = st.columns().map((c) => ({ name: c.name, decltype: c.type }));
      const values =
        binding.named === null ? binding.positional : [binding.named, ...binding.positional];
      if (!write) {
        return { columns, rows: this.collect(st, values), changes: 0, lastInsertRowid: null };
      }
      const dml = ROW_CHANGING.has(shape.verb);
      if (columns.length === 0) {
        const r = st.run(...(values as SQLInputValue[]));
        return {
          columns,
          rows: [],
          changes: dml ? Number(r.changes) : 0,
          lastInsertRowid: BigInt(r.lastInsertRowid),
        };
      }
      // RETURNING: the rows, then the counters the statement left.
      const rows = this.collect(st, values);
      const counters = this.ownStatement("SELECT changes() AS n, last_insert_rowid() AS id");
      counters.setReadBigInts(true);
      const { n, id } = this.asEngine(() => counters.get()) as { n: bigint; id: bigint };
      return { columns, rows, changes: dml ? Number(n) : 0, lastInsertRowid: id };
    } catch (e) {
      throw write ? sqlError(e, this.guard.refusal) : this.readError(e, db);
    }
  }

  /** A statement's columns with their declared types, without running it (SQL.DESCRIBE). */
  describe(sql: string): Column[] {
    // Prepared on the writer, where any statement may be (a write too), and never run.
    const { st } = this.prepared(this.writer, sql);
    return st.columns().map((c) => ({ name: c.name, decltype: c.type }));
  }

  /**
   * Copies the database into `file` with SQLite's online backup, a few hundred pages per
   * event-loop turn, so writes go on meanwhile and memory stays flat. Writes applied while it
   * runs may be in the copy, so the copy's own record of its applied index (written in the same
   * transactions as the data) says which index it holds; that is returned.
   */
  async copyTo(file: string): Promise<number> {
    await backup(this.writer, file, { rate: 256 });
    const copy = new DatabaseSync(file, { readOnly: true });
    try {
      const row = copy.prepare(`SELECT v FROM ${META} WHERE k = 'applied'`).get() as
        | { v: number }
        | undefined;
      return row?.v ?? 0;
    } finally {
      copy.close();
    }
  }

  /**
   * Replaces the database with `file` (a SQLite file already on disk), recording `index`. A
   * `rebased` file (a backup restored through the log, on every replica at the same index)
   * also counts as a write of everything at `index`, so no transaction begun before it commits;
   * a snapshot installed to catch up is left exactly as the leader had it.
   */
  replaceWith(file: string, index: number, rebased: boolean): void {
    this.writer.close();
    this.reader.close();
    // The old database's journal must not be applied to the new file.
    for (const suffix of ["-wal", "-shm"]) rmSync(`${this.path}${suffix}`, { force: true });
    renameSync(file, this.path);
    this.writer = this.openWriter();
    this.own.clear();
    this.readerStatements.clear();
    this.ownReaderStatements.clear();
    this.applier = new EntryApplier(this);
    this.asEngine(() => this.applier.replaced(index, rebased));
    this.appliedIndex = index;
    this.reader = this.openReader();
  }

  /** Makes everything applied durable (a full checkpoint syncs the database file). */
  checkpoint(): number {
    this.asEngine(() => this.writer.exec("PRAGMA wal_checkpoint(FULL)"));
    return this.appliedIndex;
  }

  close(): void {
    this.reader.close();
    this.writer.close();
    this.clock.close();
  }
}
