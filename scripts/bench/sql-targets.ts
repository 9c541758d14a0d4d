/**
 * What every target of the SQL benchmark (./sql.ts, ./libsql-load.ts) shares: the statements, the
 * rows a run works on, a target's and a session's shape, and the closed-loop target over
 * load.ts that drives one session's connections.
 */
import { type LoadResult, runLoad } from "./load.ts";
import type { Name, Test } from "./sql-report.ts";

export const CREATE_SQLITE =
  "CREATE TABLE bench(id INTEGER PRIMARY KEY, k TEXT NOT NULL, v TEXT NOT NULL)";
/** Loads ids 1..rows in one statement; the count is inlined (a bound one would be text). */
export const loadSqlite = (rows: number) =>
  `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${rows}) ` +
  "INSERT INTO bench(k, v) SELECT 'key:' || i, ? FROM n";
export const INSERT = "INSERT INTO bench(k, v) VALUES (?, ?)";
export const SELECT = "SELECT k, v FROM bench WHERE id = ?";

export const log = (line: string) => process.stderr.write(`${line}\n`);

export type Track = (cleanup: () => Promise<unknown>) => void;

/** What a run needs to know of the rows: the value loaded with them and their count. */
export interface Fixture {
  rows: number;
  /** The `--size`-character value of every loaded row. */
  fill: string;
  /** Values for the inserts: a pool, so no insert repeats the one before it. */
  values: string[];
}

export interface Target {
  name: Name;
  /** One run of `requests` operations of `test`. */
  run(test: Test, requests: number, progress: (line: string) => void): Promise<LoadResult>;
}

/** One connection per benchmark client, for one run; each call throws on a reply out of shape. */
export interface Session {
  insert(client: number, k: string, v: string): Promise<void>;
  select(client: number, id: number): Promise<void>;
  close(): Promise<void>;
}

/** A random id among the loaded rows. */
export const randomId = (rows: number) => 1 + Math.floor(Math.random() * rows);

/** A target driven by `clients` concurrent connections through load.ts. */
export function clientTarget(
  name: Name,
  clients: number,
  fx: Fixture,
  open: () => Promise<Session>,
): Target {
  return {
    name,
    async run(test, requests, progress) {
      const s = await open();
      try {
        return await runLoad({
          clients,
          requests,
          op:
            test === "insert"
              ? (c, i) => s.insert(c, `k${i}`, fx.values[i % fx.values.length])
              : (c) => s.select(c, randomId(fx.rows)),
          onProgress: progress,
        });
      } finally {
        await s.close();
      }
    },
  };
}

/** Checks a probe's rows: exactly `row`, or throws saying what came instead. */
export function expectRow(who: string, got: unknown, row: { k: string; v: string }): void {
  const { k, v } = (got ?? {}) as { k?: unknown; v?: unknown };
  if (k !== row.k || v !== row.v) {
    const want = `k ${row.k} and a ${row.v.length}-character v`;
    throw new Error(`${who}: the probe read ${JSON.stringify(got)}, not ${want}`);
  }
}
