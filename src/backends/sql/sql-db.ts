/**
 * One SQL instance's SQLite database (node:sqlite), as its engine uses it.
 *
 * Two connections to one file in WAL mode: the writer applies the Raft log's ops, one SQLite
 * transaction per log entry that also records the entry's index in `_herodb_meta`, so state and
 * applied index commit together (a restart neither loses nor re-applies an entry); the reader is
 * opened read-only and serves SQL.QUERY, so a statement that writes cannot run there at all.
 *
 * Determinism: statements run at the Op's clock (./sql-clock.ts) and the writer's `random()` and
 * `randomblob()` are replaced by functions drawing from a generator seeded with the log index and
 * the op's place in the entry, so every replica draws the same numbers. `last_insert_rowid()` and
 * `changes()` follow from identical state and statements. The writer's authorizer refuses what
 * would let a statement escape the instance or its transaction handling: ATTACH/DETACH, BEGIN/
 * COMMIT/SAVEPOINT (SQL.BATCH is the atomic unit), PRAGMAs that change settings, and any write to
 * `_herodb_meta`.
 */
import { createHash } from "node:crypto";
import { renameSync, rmSync } from "node:fs";
import {
  backup,
  constants,
  DatabaseSync,
  type SQLInputValue,
  type StatementSync,
} from "node:sqlite";
import { ByProtocol, Double, MapReply, type Reply } from "../../engine/reply.ts";
import { HeroError } from "../../errors.ts";
import { firstWord, hasSecondStatement, parameters } from "./sql-scan.ts";

const META = "_herodb_meta";

/** Bounds on what one command may send and get back (clear errors beyond). */
const MAX_STATEMENT_CHARS = 1024 * 1024;
const MAX_RESULT_BYTES = 64 * 1024 * 1024;

/** Statements whose `changes` SQLite counts (WITH may lead into any of them). */
const ROW_CHANGING = new Set(["INSERT", "UPDATE", "DELETE", "REPLACE", "WITH"]);

/** PRAGMAs a statement may read (all others are refused on the writer). */
const READABLE_PRAGMAS = new Set([
  "table_info",
  "table_xinfo",
  "index_list",
  "index_info",
  "index_xinfo",
  "foreign_key_list",
  "table_list",
]);

/** xorshift128+ over a SHA-256 seed: fast, and the same on every replica for the same seed. */
class SeededRandom {
  private s0 = 1n;
  private s1 = 2n;
  seed(text: string): void {
    const h = createHash("sha256").update(text).digest();
    this.s0 = h.readBigUInt64LE(0) | 1n;
    this.s1 = h.readBigUInt64LE(8) | 1n;
  }
  next(): bigint {
    const mask = (1n << 64n) - 1n;
    let x = this.s0;
    const y = this.s1;
    this.s0 = y;
    x ^= (x << 23n) & mask;
    this.s1 = x ^ y ^ (x >> 17n) ^ (y >> 26n);
    return (this.s1 + y) & mask;
  }
  int64(): bigint {
    return BigInt.asIntN(64, this.next());
  }
  bytes(n: number): Buffer {
    const out = Buffer.alloc(n);
    for (let i = 0; i < n; i += 8) {
      const v = this.next();
      for (let k = 0; k < 8 && i + k < n; k++) out[i + k] = Number((v >> BigInt(8 * k)) & 0xffn);
    }
    return out;
  }
}

function sqlError(e: unknown): HeroError {
  if (e instanceof HeroError) return e;
  const message = (e as Error).message ?? String(e);
  return new HeroError("ERR", message.replace(/^SqliteError: /, ""));
}

/** A value SQLite returned, as a reply: integers as integers, reals as doubles, blobs as bytes. */
function valueReply(v: unknown): Reply {
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
  private writer: DatabaseSync;
  private reader: DatabaseSync;
  private readonly random = new SeededRandom();
  /** Set while the engine itself writes (the meta table is off limits to statements). */
  private internal = false;
  appliedIndex = 0;

  constructor(path: string) {
    this.path = path;
    this.writer = this.openWriter();
    this.reader = new DatabaseSync(path, { readOnly: true });
  }

  private openWriter(): DatabaseSync {
    const db = new DatabaseSync(this.path);
    db.exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=5000");
    // No statement may corrupt the file on purpose (writable_schema, raw page writes).
    db.enableDefensive(true);
    db.exec(`CREATE TABLE IF NOT EXISTS ${META} (k TEXT PRIMARY KEY, v INTEGER NOT NULL)`);
    const row = db.prepare(`SELECT v FROM ${META} WHERE k = 'applied'`).get() as
      | { v: number }
      | undefined;
    this.appliedIndex = row?.v ?? 0;
    db.function("random", { deterministic: false }, () => this.random.int64());
    db.function("randomblob", { deterministic: false }, (n: unknown) =>
      this.random.bytes(Math.max(1, Math.min(Number(n) || 1, 1 << 20))),
    );
    db.setAuthorizer((action, a1) => {
      if (this.internal) return constants.SQLITE_OK;
      switch (action) {
        case constants.SQLITE_ATTACH:
        case constants.SQLITE_DETACH:
        case constants.SQLITE_TRANSACTION:
        case constants.SQLITE_SAVEPOINT:
          return constants.SQLITE_DENY;
        case constants.SQLITE_PRAGMA:
          return READABLE_PRAGMAS.has(String(a1).toLowerCase())
            ? constants.SQLITE_OK
            : constants.SQLITE_DENY;
        case constants.SQLITE_INSERT:
        case constants.SQLITE_UPDATE:
        case constants.SQLITE_DELETE:
        case constants.SQLITE_DROP_TABLE:
        case constants.SQLITE_ALTER_TABLE:
          return String(a1) === META ? constants.SQLITE_DENY : constants.SQLITE_OK;
        default:
          return constants.SQLITE_OK;
      }
    });
    return db;
  }

  /**
   * Applies one log entry's ops in one transaction recording `index`; each op runs in a
   * savepoint of its own, so a failing statement answers its error and leaves the others.
   */
  applyEntry(index: number, runs: ((seed: string) => Reply)[]): Reply[] {
    const w = this.writer;
    this.internal = true;
    w.exec("BEGIN IMMEDIATE");
    this.internal = false;
    const replies: Reply[] = [];
    try {
      runs.forEach((run, k) => {
        this.internal = true;
        w.exec("SAVEPOINT op");
        this.internal = false;
        let reply: Reply;
        try {
          reply = run(`${index}:${k}`);
        } catch (e) {
          reply = sqlError(e);
        }
        this.internal = true;
        if (reply instanceof HeroError) w.exec("ROLLBACK TO op");
        w.exec("RELEASE op");
        this.internal = false;
        replies.push(reply);
      });
      this.internal = true;
      w.prepare(
        `INSERT INTO ${META} (k, v) VALUES ('applied', ?) ON CONFLICT(k) DO UPDATE SET v = excluded.v`,
      ).run(index);
      w.exec("COMMIT");
      this.appliedIndex = index;
    } catch (e) {
      if (w.isTransaction) w.exec("ROLLBACK");
      throw e;
    } finally {
      this.internal = false;
    }
    return replies;
  }

  /** Seeds random()/randomblob() for the op about to run. */
  seed(seed: string): void {
    this.random.seed(seed);
  }

  /** The statement, prepared, and its arguments in the form node:sqlite binds them. */
  private prepare(
    db: DatabaseSync,
    sql: string,
    args: readonly Buffer[],
  ): { st: StatementSync; values: SQLInputValue[] | [Record<string, SQLInputValue>] } {
    if (sql.length > MAX_STATEMENT_CHARS) {
      throw new HeroError(
        "ERR",
        `the statement is longer than ${MAX_STATEMENT_CHARS / 1048576} MiB: bind large values as arguments`,
      );
    }
    if (hasSecondStatement(sql)) {
      throw new HeroError("ERR", "one statement per command (SQL.BATCH runs several)");
    }
    const p = parameters(sql);
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
    const strings = args.map((a) => a.toString("utf8"));
    try {
      const st = db.prepare(sql);
      st.setReadBigInts(true);
      if (p.names.length === 0) return { st, values: strings };
      // Named parameters bind by name, in the order they first appear.
      const named: Record<string, SQLInputValue> = {};
      p.names.forEach((n, i) => {
        named[n] = strings[i];
      });
      return { st, values: [named] };
    } catch (e) {
      throw sqlError(e);
    }
  }

  /** Runs a statement on the writer (inside applyEntry); its changes and last rowid. */
  exec(sql: string, args: readonly Buffer[]): ExecResult {
    const { st, values } = this.prepare(this.writer, sql, args);
    try {
      const r = st.run(...(values as SQLInputValue[]));
      // SQLite's count is the last INSERT/UPDATE/DELETE's, even after a CREATE: say 0 there.
      const dml = ROW_CHANGING.has(firstWord(sql));
      return { changes: dml ? Number(r.changes) : 0, lastInsertRowid: r.lastInsertRowid };
    } catch (e) {
      throw sqlError(e);
    }
  }

  /** Runs a read on the reader: column names and rows of replies. */
  query(sql: string, args: readonly Buffer[]): { columns: string[]; rows: Reply[][] } {
    const { st, values } = this.prepare(this.reader, sql, args);
    try {
      st.setReturnArrays(true);
      const rows: Reply[][] = [];
      let bytes = 0;
      for (const row of st.iterate(...(values as SQLInputValue[])) as Iterable<unknown[]>) {
        for (const v of row)
          bytes += typeof v === "string" || v instanceof Uint8Array ? v.length : 8;
        if (bytes > MAX_RESULT_BYTES) {
          throw new HeroError(
            "ERR",
            `the result is larger than ${MAX_RESULT_BYTES / 1048576} MiB: narrow it (LIMIT, fewer columns)`,
          );
        }
        rows.push(row.map(valueReply));
      }
      const columns = st.columns().map((c) => c.name);
      return { columns, rows };
    } catch (e) {
      const message = (e as Error).message ?? "";
      if (/readonly database/i.test(message)) {
        throw new HeroError("ERR", "SQL.QUERY runs reads only: use SQL.EXEC to change data");
      }
      throw sqlError(e);
    }
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

  /** Replaces the database with `file` (a SQLite file already on disk), recording `index`. */
  replaceWith(file: string, index: number): void {
    this.writer.close();
    this.reader.close();
    // The old database's journal must not be applied to the new file.
    for (const suffix of ["-wal", "-shm"]) rmSync(`${this.path}${suffix}`, { force: true });
    renameSync(file, this.path);
    this.writer = this.openWriter();
    this.internal = true;
    try {
      this.writer
        .prepare(
          `INSERT INTO ${META} (k, v) VALUES ('applied', ?) ON CONFLICT(k) DO UPDATE SET v = excluded.v`,
        )
        .run(index);
    } finally {
      this.internal = false;
    }
    this.appliedIndex = index;
    this.reader = new DatabaseSync(this.path, { readOnly: true });
  }

  /** Makes everything applied durable (a full checkpoint syncs the database file). */
  checkpoint(): number {
    this.internal = true;
    try {
      this.writer.exec("PRAGMA wal_checkpoint(FULL)");
    } finally {
      this.internal = false;
    }
    return this.appliedIndex;
  }

  close(): void {
    this.reader.close();
    this.writer.close();
  }
}
