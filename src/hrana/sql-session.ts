/**
 * One libSQL stream's view of a SQL instance: where its statements go, under the same rules as
 * a RESP connection's. A statement that only reads runs on local state after the instance's
 * read index (linearizable, as SQL.QUERY is); any other is a SQL.RUN Op through the instance's
 * Raft group (forwarded to the leader by whichever node received it). The access the stream's
 * token gives is checked against the command table for every statement.
 *
 * Drivers open and end transactions with SQL text (BEGIN IMMEDIATE, COMMIT, ROLLBACK); those go
 * to the engine's transactions capability exactly as SQL.BEGIN, SQL.COMMIT and SQL.ROLLBACK
 * do on RESP, so a stream's transaction is serializable and commits all or nothing.
 */

import { sqliteError } from "../backends/sql/sql-errors.ts";
import {
  foreignKeysPragma,
  onlyReads,
  type TransactionControl,
  transactionControl,
} from "../backends/sql/sql-scan.ts";
import {
  type Binding,
  type Column,
  readRunReply,
  runArgs,
  type SqlValue,
} from "../backends/sql/sql-values.ts";
import type { Op, OpCall } from "../engine/contract.ts";
import type { Reply } from "../engine/reply.ts";
import { HeroError } from "../errors.ts";
import type { Instance } from "../instances/instance.ts";
import { find } from "../resp/table.ts";
import { type CompiledUser, denialMessage } from "../security/acl/check.ts";
import { type Access, authorizeCommand, type Principal } from "../security/authorization.ts";

export interface StatementResult {
  columns: Column[];
  rows: SqlValue[][];
  changes: number;
  lastInsertRowid: SqlValue;
}

const EMPTY: StatementResult = { columns: [], rows: [], changes: 0, lastInsertRowid: null };

export interface Description {
  params: (string | null)[];
  columns: Column[];
  readOnly: boolean;
  explain: boolean;
}

const readOnlyRefusal = (): HeroError =>
  sqliteError(
    "the transaction is read-only (BEGIN … READONLY): it cannot write",
    "SQLITE_READONLY",
  );

export class SqlSession {
  readonly instance: Instance;
  private readonly clock: () => number;
  /** Who the stream's requests come from, and what that gives on the instance (per request). */
  principal: Principal;
  access: Access;
  /** The ACL rules that apply to the stream's user (null: none, e.g. an access key). */
  rules: CompiledUser | null = null;
  /** The engine's transaction while one is open (the capability's opaque value). */
  private tx: object | null = null;
  /** Opened with BEGIN … READONLY: statements that write are refused. */
  private txReadOnly = false;
  /**
   * The engine ended the transaction (a conflict): the client's ROLLBACK, which drivers send
   * after any failure, then succeeds instead of hiding the error that ended it.
   */
  private txAborted = false;
  /**
   * After PRAGMA foreign_keys = OFF (outside a transaction, as SQLite takes it): the stream's
   * transactions run without foreign-key checks and actions, and so do its writes outside one.
   */
  private foreignKeysOff = false;

  constructor(instance: Instance, principal: Principal, access: Access, clock: () => number) {
    this.instance = instance;
    this.principal = principal;
    this.access = access;
    this.clock = clock;
  }

  get autocommit(): boolean {
    return this.tx === null;
  }

  /** Ends an open transaction without applying anything (the stream closed or expired). */
  close(): void {
    this.setTx(null);
  }

  private setTx(tx: object | null): void {
    this.tx = tx;
    if (tx === null) this.txReadOnly = false;
  }

  /** Runs one statement; its result or its error. */
  async execute(sql: string, binding: Binding): Promise<StatementResult | HeroError> {
    try {
      return await this.statement(sql, binding);
    } catch (e) {
      if (e instanceof HeroError) return e;
      throw e;
    }
  }

  private async statement(sql: string, binding: Binding): Promise<StatementResult | HeroError> {
    const control = transactionControl(sql);
    if (control !== null) return this.control(control);
    const pragma = foreignKeysPragma(sql);
    if (pragma !== null) return this.foreignKeys(pragma);
    const reads = onlyReads(sql);
    if (!reads && this.txReadOnly) return readOnlyRefusal();
    const call = { cmd: reads ? "SQL.RUN_RO" : "SQL.RUN", args: runArgs(sql, binding) };
    if (!reads && this.foreignKeysOff && this.tx === null) return this.withoutForeignKeys(call);
    const reply = await this.run(call);
    return reply instanceof HeroError ? reply : readRunReply(reply);
  }

  /** PRAGMA foreign_keys: the stream's setting (see `foreignKeysOff`). */
  private foreignKeys(pragma: "read" | "on" | "off"): StatementResult {
    if (pragma === "read") {
      const on = BigInt(this.foreignKeysOff ? 0 : 1);
      return { ...EMPTY, columns: [{ name: "foreign_keys", decltype: null }], rows: [[on]] };
    }
    // As in SQLite, the setting does not change inside a transaction.
    if (this.tx === null) this.foreignKeysOff = pragma === "off";
    return EMPTY;
  }

  /** A write outside a transaction while foreign keys are off: a transaction of its own. */
  private async withoutForeignKeys(call: OpCall): Promise<StatementResult | HeroError> {
    const begun = await this.control("begin");
    if (begun instanceof HeroError) return begun;
    const reply = await this.run(call);
    if (reply instanceof HeroError) {
      if (this.tx !== null) await this.control("rollback");
      this.txAborted = false;
      return reply;
    }
    const committed = await this.control("commit");
    return committed instanceof HeroError ? committed : readRunReply(reply);
  }

  /** What a statement binds and returns, without running it. */
  async describe(sql: string): Promise<Description | HeroError> {
    let reply: Reply;
    try {
      reply = await this.run({ cmd: "SQL.DESCRIBE", args: [Buffer.from(sql, "utf8")] });
    } catch (e) {
      if (e instanceof HeroError) return e;
      throw e;
    }
    if (reply instanceof HeroError) return reply;
    const flat = (reply as { flat: Reply[] }).flat;
    const names = flat[3] as string[];
    const decltypes = flat[5] as (string | null)[];
    return {
      params: flat[1] as (string | null)[],
      columns: names.map((name, i) => ({ name, decltype: decltypes[i] })),
      readOnly: (flat[7] as { value: boolean }).value,
      explain: (flat[9] as { value: boolean }).value,
    };
  }

  /** What the user's ACL rules say of a command (SQL names no keys or channels). */
  private aclDenial(cmd: string): HeroError | null {
    const rules = this.rules;
    if (rules === null || rules.unrestricted) return null;
    const d = rules.checkCommand(cmd, [], []);
    return d === null ? null : new HeroError("NOPERM", denialMessage(rules.name, d, false));
  }

  /** A command of the SQL family, checked and run as RESP would run it on this instance. */
  private async run(call: OpCall): Promise<Reply> {
    return this.checked(call, (writes) => this.dispatch(call, writes));
  }

  /** Counts and authorizes a command of the SQL family, then runs it with `go`. */
  private checked<R extends Reply | Promise<Reply>>(
    call: OpCall,
    go: (writes: boolean) => R,
  ): R | HeroError | Promise<Reply> {
    const inst = this.instance;
    const found = find(call.cmd);
    if (found === undefined) throw new HeroError("INTERNAL", `${call.cmd} is not in the table`);
    const t = found.traits;
    inst.stats.called(t.id);
    const denied =
      authorizeCommand(this.principal, call.cmd, t, inst.index, this.access) ??
      this.aclDenial(call.cmd);
    if (denied !== null) {
      inst.stats.rejected[t.id]++;
      return denied;
    }
    const counted = (reply: Reply): Reply => {
      if (reply instanceof HeroError) inst.stats.failed[t.id]++;
      return reply;
    };
    const failed = (e: unknown): Reply => {
      if (!(e instanceof HeroError)) throw e;
      return counted(e);
    };
    try {
      const reply = go(t.writes);
      return reply instanceof Promise ? reply.then(counted, failed) : (counted(reply) as R);
    } catch (e) {
      return failed(e) as HeroError;
    }
  }

  private async dispatch(call: OpCall, writes: boolean): Promise<Reply> {
    const inst = this.instance;
    if (this.tx !== null) return this.step(call);
    if (writes) return (await inst.write({ ...call, now: this.clock() })) as Reply;
    await inst.replicator?.readBarrier();
    return await inst.read(call, this.clock());
  }

  /**
   * Runs `fn` (synchronous) with the open transaction held, so the statements `now` runs inside
   * it cost no replay of the transaction's earlier writes (see TransactionCapability.hold).
   */
  holding<T>(fn: () => T): T {
    const capability = this.instance.engine.transactions;
    if (this.tx === null || capability?.hold === undefined) return fn();
    return capability.hold(this.tx, fn);
  }

  /**
   * A statement inside the open transaction, run at once (synchronously); undefined when it
   * needs the asynchronous path (no transaction open, BEGIN, COMMIT, ROLLBACK, a PRAGMA the
   * stream answers).
   */
  now(sql: string, binding: Binding): StatementResult | HeroError | undefined {
    if (this.tx === null) return undefined;
    if (transactionControl(sql) !== null || foreignKeysPragma(sql) !== null) return undefined;
    const reads = onlyReads(sql);
    if (!reads && this.txReadOnly) return readOnlyRefusal();
    const call = { cmd: reads ? "SQL.RUN_RO" : "SQL.RUN", args: runArgs(sql, binding) };
    const reply = this.checked(call, () => this.stepNow(call));
    if (reply instanceof Promise) throw new HeroError("INTERNAL", "a statement went asynchronous");
    return reply instanceof HeroError ? reply : readRunReply(reply);
  }

  /**
   * The capability's step, synchronous: the reply, or the Op that commits. The session follows
   * the transaction it leaves open (and notes one the engine ended on its own).
   */
  private advance(call: OpCall): { reply: Reply } | { op: Op } {
    const inst = this.instance;
    const capability = inst.engine.transactions;
    if (capability === undefined) {
      return { reply: new HeroError("ERR", `instance ${inst.index} has no transactions`) };
    }
    const open = this.tx !== null;
    const next = capability.step(this.tx, call, this.clock());
    this.setTx(next.tx);
    // Ended by the engine, not by the client's COMMIT or ROLLBACK.
    if (open && next.tx === null && next.reply instanceof HeroError) this.txAborted = true;
    return next.op === undefined ? { reply: next.reply ?? null } : { op: next.op };
  }

  /** A statement inside the open transaction that cannot commit (it never returns an Op). */
  private stepNow(call: OpCall): Reply {
    const next = this.advance(call);
    if ("op" in next) throw new HeroError("INTERNAL", `${call.cmd} tried to commit`);
    return next.reply;
  }

  /** A command inside the open transaction (or one that opens or ends it). */
  private async step(call: OpCall): Promise<Reply> {
    const next = this.advance(call);
    if ("reply" in next) return next.reply;
    // The transaction's writes apply now: that needs write access now.
    if (this.access !== "readwrite") {
      return new HeroError(
        "NOPERM",
        "this token may no longer write to the instance: the transaction was rolled back",
      );
    }
    const applied = (await this.instance.write(next.op)) as Reply;
    if (applied instanceof HeroError) this.txAborted = true;
    return applied;
  }

  private async control(control: TransactionControl): Promise<StatementResult | HeroError> {
    if (control === "begin" || control === "begin-readonly") {
      if (this.tx !== null) {
        return sqliteError("cannot start a transaction within a transaction", "SQLITE_ERROR");
      }
      // A transaction starts from every write acknowledged before it, as a read does.
      await this.instance.replicator?.readBarrier();
      this.txAborted = false;
      const args = this.foreignKeysOff ? [Buffer.from("FOREIGN_KEYS"), Buffer.from("OFF")] : [];
      const reply = await this.step({ cmd: "SQL.BEGIN", args });
      if (reply instanceof HeroError) return reply;
      this.txReadOnly = control === "begin-readonly";
      return EMPTY;
    }
    if (this.tx === null && control === "rollback" && this.txAborted) {
      this.txAborted = false;
      return EMPTY;
    }
    this.txAborted = false;
    if (this.tx === null) {
      const what = control === "commit" ? "commit" : "rollback";
      return sqliteError(`cannot ${what} - no transaction is active`, "SQLITE_ERROR");
    }
    const reply = await this.step({
      cmd: control === "commit" ? "SQL.COMMIT" : "SQL.ROLLBACK",
      args: [],
    });
    return reply instanceof HeroError ? reply : EMPTY;
  }
}
