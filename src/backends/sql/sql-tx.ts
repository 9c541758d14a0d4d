/**
 * Interactive SQL transactions (SQL.BEGIN … SQL.COMMIT or SQL.ROLLBACK), serializable by
 * optimistic concurrency over tables:
 *
 * - BEGIN (after the read index, like a linearizable read) remembers the applied index `start`
 *   and draws a seed for the transaction's random().
 * - Each statement inside runs on the receiving node's writer in a scratch transaction
 *   (./sql-scratch.ts): the transaction's earlier writes are replayed, the statement runs, and all
 *   is rolled back. So the client sees its own writes and nobody else sees any. The tables each
 *   statement reads or writes are recorded (./sql-guard.ts); when one of them, or the schema,
 *   was written after `start`, the answer might not be the state at `start`, so the transaction
 *   ends at once with a serialization failure. Every answer a client gets inside a transaction
 *   is therefore the state at `start` plus its own writes.
 * - COMMIT of a transaction that wrote is one Op carrying `start`, the seed, the tables it
 *   depends on and its write statements (their clocks already pinned). Apply, on every replica at
 *   the same log index, refuses it when any of those tables was written after `start`, and
 *   otherwise replays the statements: same state, same seeds, so the results the client saw.
 *   All of it or nothing, on every node.
 * - A transaction that only read commits without an Op: each read was checked when it ran.
 *
 * The cost is a replay of the earlier writes per statement, so a transaction holds at most
 * MAX_STATEMENTS writes.
 */
import { randomBytes } from "node:crypto";
import type { Op, OpCall, TransactionCapability, TransactionStep } from "../../engine/contract.ts";
import { OK, type Reply } from "../../engine/reply.ts";
import { HeroError } from "../../errors.ts";
import { execReply, type SqlDb } from "./sql-db.ts";
import { held, savepoint, scratch, tracking } from "./sql-scratch.ts";
import { parseRun, runReply } from "./sql-values.ts";

/** Writes one transaction may hold (each statement replays the ones before it). */
export const MAX_STATEMENTS = 1000;
/** How long one statement's replay of the transaction may take (the process waits meanwhile). */
const MAX_REPLAY_MS = 1000;
/** Bytes of statements and arguments one transaction may hold. */
const MAX_BYTES = 16 * 1024 * 1024;

interface Statement {
  sql: string;
  args: Buffer[];
  /** The clock when the statement arrived: what 'now' means in it, then and at commit. */
  now: number;
  /** SQL.RUN's typed arguments (./sql-values.ts), not SQL.EXEC's text ones. */
  typed: boolean;
}

class SqlTransaction {
  /** Tables read or written inside, and so depended on at commit. */
  readonly touched = new Set<string>();
  readonly writes: Statement[] = [];
  bytes = 0;
  readonly start: number;
  readonly seed: string;
  /** Begun with FOREIGN_KEYS OFF: its statements, inside and at commit, run without them. */
  readonly foreignKeysOff: boolean;
  constructor(start: number, seed: string, foreignKeysOff: boolean) {
    this.start = start;
    this.seed = seed;
    this.foreignKeysOff = foreignKeysOff;
  }
}

const text = (b: Buffer | undefined): string => (b === undefined ? "" : b.toString("utf8"));

function conflict(table: string, index: number): HeroError {
  const what = table === "sqlite_schema" ? "the schema" : `table ${table}`;
  return new HeroError(
    "SERIALIZATION",
    `the transaction was rolled back: ${what} changed at log index ${index} after it began; run it again`,
  );
}

/** Runs one of a transaction's writes on the writer; its reply. */
function write(db: SqlDb, w: Statement): Reply {
  if (!w.typed) return execReply(db.exec(w.sql, w.args));
  const { sql, binding } = parseRun([Buffer.from(w.sql), ...w.args]);
  return runReply(db.run(sql, binding, true));
}

/** Replays a transaction's writes on the writer (inside a scratch or an apply). */
function replay(db: SqlDb, tx: { seed: string }, writes: readonly Statement[]): void {
  writes.forEach((w, i) => {
    db.seed(`${tx.seed}:${i}`);
    db.clock.at(w.now);
    write(db, w);
  });
}

/**
 * The transactions capability of a SQL engine; `read` runs one of the family's read commands
 * (on the writer, as SqlDb.tracking arranges inside a transaction).
 */
export function sqlTransactions(
  db: SqlDb,
  read: (call: OpCall, now: number) => Reply,
): TransactionCapability {
  /**
   * Runs `fn` as the transaction's next statement: in a scratch transaction after its writes,
   * recording what it touches, and checking that none of that changed since `start`.
   */
  function inside<T>(tx: SqlTransaction, readOnly: boolean, now: number, fn: () => T): T {
    const touched = new Set<string>();
    const began = performance.now();
    // What the transaction depends on after this statement: the earlier statements' tables too,
    // since the replay reads them again.
    const check = () => {
      const changed = db.writtenAfter([...tx.touched, ...touched], tx.start);
      if (changed !== null) throw conflict(changed.table, changed.index);
    };
    const run = () => {
      db.seed(`${tx.seed}:${tx.writes.length}`);
      db.clock.at(now);
      return tracking(db, touched, readOnly, fn);
    };
    let result: T;
    try {
      result =
        holding === tx
          ? savepoint(db, run)
          : scratch(
              db,
              () => {
                replay(db, tx, tx.writes);
                return run();
              },
              tx.foreignKeysOff,
            );
    } catch (e) {
      // An error that a concurrent write may have caused (a constraint) is a conflict too.
      check();
      // A failed statement still showed the client something (a duplicate key says the row
      // exists): what it read is depended on as much as what a successful one read.
      for (const t of touched) tx.touched.add(t);
      throw e;
    }
    check();
    if (performance.now() - began > MAX_REPLAY_MS) {
      // The whole process waits while a statement replays: end it before that grows further.
      throw new HeroError(
        "LIMIT",
        `the transaction was rolled back: its statements take over ${MAX_REPLAY_MS} ms to replay; commit smaller transactions`,
      );
    }
    for (const t of touched) tx.touched.add(t);
    return result;
  }

  function exec(
    tx: SqlTransaction,
    sqls: string[],
    args: Buffer[],
    now: number,
    typed = false,
  ): Reply {
    const added = sqls.map((sql, i) => ({ sql, args: i === 0 ? args : [], now, typed }));
    const size = added.reduce(
      (n, s) => n + s.sql.length + s.args.reduce((m, a) => m + a.length, 0),
      0,
    );
    if (tx.writes.length + added.length > MAX_STATEMENTS || tx.bytes + size > MAX_BYTES) {
      throw new HeroError(
        "ERR",
        `a transaction holds at most ${MAX_STATEMENTS} writes and ${MAX_BYTES / 1048576} MiB: commit this one and go on in another`,
      );
    }
    const replies = inside(tx, false, now, () =>
      added.map((s, i) => {
        db.seed(`${tx.seed}:${tx.writes.length + i}`);
        try {
          return write(db, s);
        } catch (e) {
          if (sqls.length === 1 || !(e instanceof HeroError)) throw e;
          throw new HeroError("ERR", `statement ${i + 1} of the batch failed: ${e.message}`);
        }
      }),
    );
    tx.writes.push(...added);
    tx.bytes += size;
    return sqls.length === 1 ? replies[0] : replies;
  }

  /** The transaction whose scratch `hold` keeps open: its statements replay nothing. */
  let holding: SqlTransaction | null = null;

  /**
   * Runs `fn` (synchronous) with the transaction's writes replayed once into a scratch kept
   * open: each statement stepped inside costs a savepoint, not a replay of everything before
   * it, so a batch of n statements costs n runs instead of n²/2.
   */
  function hold<T>(open: object, fn: () => T): T {
    const tx = open as SqlTransaction;
    if (holding !== null) return fn();
    return held(
      db,
      () => {
        replay(db, tx, tx.writes);
        holding = tx;
        try {
          return fn();
        } finally {
          holding = null;
        }
      },
      tx.foreignKeysOff,
    );
  }

  function step(open: object | null, call: OpCall, now: number): TransactionStep {
    const tx = open as SqlTransaction | null;
    if (call.cmd === "SQL.BEGIN") {
      if (tx !== null) {
        return {
          tx,
          reply: new HeroError(
            "ERR",
            "a transaction is already open: SQL.COMMIT or SQL.ROLLBACK ends it",
          ),
        };
      }
      const words = call.args.map((a) => a.toString("latin1").toUpperCase()).join(" ");
      if (words !== "" && words !== "FOREIGN_KEYS OFF" && words !== "FOREIGN_KEYS ON") {
        return {
          tx: null,
          reply: new HeroError("SYNTAX", "SQL.BEGIN takes FOREIGN_KEYS OFF or nothing"),
        };
      }
      const seed = randomBytes(12).toString("hex");
      return {
        tx: new SqlTransaction(db.appliedIndex, seed, words === "FOREIGN_KEYS OFF"),
        reply: OK,
      };
    }
    if (tx === null) {
      return {
        tx: null,
        reply: new HeroError("ERR", `${call.cmd} without a transaction: SQL.BEGIN opens one`),
      };
    }
    if (call.cmd === "SQL.ROLLBACK") return { tx: null, reply: OK };
    if (call.cmd === "SQL.COMMIT") {
      if (tx.writes.length === 0) return { tx: null, reply: OK };
      return { tx: null, op: commitOp(tx, now) };
    }
    try {
      return { tx, reply: statement(tx, call, now) };
    } catch (e) {
      if (!(e instanceof HeroError)) throw e;
      // A conflict (or a replay grown too slow) ends the transaction; any other error is the
      // statement's alone, as in SQLite.
      const ends =
        e.code === "SERIALIZATION" ||
        e.code === "LIMIT" ||
        (e.data as { endsTransaction?: boolean } | undefined)?.endsTransaction === true;
      return { tx: ends ? null : tx, reply: e };
    }
  }

  function statement(tx: SqlTransaction, call: OpCall, now: number): Reply {
    const args = call.args;
    switch (call.cmd) {
      case "SQL.EXEC":
        return exec(tx, [text(args[0])], args.slice(1), now);
      case "SQL.BATCH":
        return exec(tx, args.map(text), [], now);
      case "SQL.RUN":
        return exec(tx, [text(args[0])], args.slice(1), now, true);
      case "SQL.DESCRIBE":
        // Only prepared, never run: a write may be described too.
        return inside(tx, false, now, () => read(call, now));
      default: {
        // Reads: the family's read commands, run on the writer inside the transaction.
        return inside(tx, true, now, () => read(call, now));
      }
    }
  }

  return { step, hold };
}

/**
 * The Op that commits: [start, seed, tables (JSON), statement count], then for each statement
 * [sql, its clock, argument count, arguments…]; the count of a SQL.RUN statement's typed
 * arguments is written with a `t` before it, and the statement count of a transaction begun
 * with FOREIGN_KEYS OFF with an `F`.
 */
function commitOp(tx: SqlTransaction, now: number): Op {
  const args: Buffer[] = [
    Buffer.from(String(tx.start)),
    Buffer.from(tx.seed),
    Buffer.from(JSON.stringify([...tx.touched])),
    Buffer.from(`${tx.foreignKeysOff ? "F" : ""}${tx.writes.length}`),
  ];
  for (const w of tx.writes) {
    const count = `${w.typed ? "t" : ""}${w.args.length}`;
    args.push(Buffer.from(w.sql), Buffer.from(String(w.now)), Buffer.from(count));
    args.push(...w.args);
  }
  return { cmd: "SQL.COMMIT", args, now };
}

/**
 * Whether a commit Op runs with foreign keys off (its count carries an `F`): the engine applies
 * its log entry one op at a time, switching them off around this one (SqlDb.applyEntry).
 */
export function commitTurnsForeignKeysOff(args: readonly Buffer[]): boolean {
  return args[3]?.[0] === 0x46; // "F"
}

/** Applies a commit Op (see the module comment): OK, or the serialization failure. */
export function applyCommit(db: SqlDb, args: Buffer[]): Reply {
  const malformed = () => new HeroError("ERR", "malformed transaction commit");
  if (args.length < 4) throw malformed();
  const start = Number(text(args[0]));
  const seed = text(args[1]);
  const tables = JSON.parse(text(args[2])) as string[];
  const count = Number(text(args[3]).replace(/^F/, ""));
  const writes: Statement[] = [];
  let at = 4;
  for (let i = 0; i < count; i++) {
    const sql = text(args[at]);
    const now = Number(text(args[at + 1]));
    const count = text(args[at + 2]);
    const typed = count.startsWith("t");
    const n = Number(typed ? count.slice(1) : count);
    if (!(n >= 0) || at + 3 + n > args.length) throw malformed();
    writes.push({ sql, now, args: args.slice(at + 3, at + 3 + n), typed });
    at += 3 + n;
  }
  const changed = db.writtenAfter(tables, start);
  if (changed !== null) throw conflict(changed.table, changed.index);
  try {
    replay(db, { seed }, writes);
  } catch (e) {
    // The same statements on the same state succeeded inside: only a bug gets here.
    const why = e instanceof HeroError ? e.message : String(e);
    throw new HeroError("ERR", `the transaction could not be applied and was rolled back: ${why}`);
  }
  return OK;
}
