/**
 * The three targets of the full-text benchmark (./fulltext.ts), behind one shape: empty the
 * index, count its documents, and open one connection per client that adds a document or
 * returns a query's top-10 ids (each call throws on a reply out of shape, so a broken target
 * fails instead of posting figures).
 *
 * - HeroDB: one server (test/helpers/server.ts) with a FullText instance, ioredis, `FT.ADD idx
 *   <id> 1 title … body …` (in the Raft log, synced, before its reply) and `FT.SEARCH idx <q>
 *   LIMIT 0 10 NOCONTENT`; a fresh index is `FT.DROP` then `FT.CREATE idx SCHEMA title TEXT
 *   body TEXT`.
 * - Sphinx: ./sphinx.ts's searchd, mysql2, `INSERT INTO idx (id, title, body) VALUES (…)` and
 *   `SELECT id FROM idx WHERE MATCH('…') LIMIT 10`; a fresh index is `TRUNCATE RTINDEX idx`.
 * - FTS5: node:sqlite in this process, one FTS5 table with HeroDB's tokenizer (`porter
 *   unicode61`), WAL, `synchronous=FULL`, ordered by `rank` (BM25); run one operation at a time
 *   (it is synchronous), which is what `sequential` says. Its documents go in one transaction
 *   per `clients` documents (`addMany`): one synced commit for as many writes as the clients
 *   have in flight, the sharing HeroDB's log does, so it stays the engine's ceiling.
 */
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { startServer } from "../../test/helpers/server.ts";
import type { Doc } from "./corpus.ts";
import type { Query } from "./ft-queries.ts";
import { connectInstance } from "./resp-connect.ts";
import {
  type Mysql2,
  type MysqlConnection,
  type Sphinx,
  sqlString,
  startSphinx,
} from "./sphinx.ts";

export type Name = "herodb" | "sphinx" | "fts5";
export type Track = (cleanup: () => Promise<unknown>) => void;

export interface Session {
  add(client: number, doc: Doc): Promise<void>;
  /** FTS5 only: the documents in one transaction (one synced commit). */
  addMany?(docs: Doc[]): Promise<void>;
  /** The query's top-10 document ids, best first. */
  search(client: number, q: Query): Promise<number[]>;
  close(): Promise<void>;
}

export interface Target {
  name: Name;
  /** In this process and synchronous: run one operation at a time, not `clients` at once. */
  sequential: boolean;
  /** Leaves an empty index (the previous round's dropped). */
  reset(): Promise<void>;
  /** Documents in the index. */
  count(): Promise<number>;
  /** One connection per client. */
  open(clients: number): Promise<Session>;
}

const log = (line: string) => process.stderr.write(`${line}\n`);

/** Long: a search that takes seconds behind 49 others is slow, not failed. */
const SEARCH_TIMEOUT_MS = 600_000;

/**
 * FT.SEARCH's reply with NOCONTENT: RESP3 (what ioredis speaks) a flattened map whose `results`
 * are flattened maps with an `id`; RESP2 `[total, id, id, …]`.
 */
export function searchReply(reply: unknown): { total: number; ids: string[] } {
  if (!Array.isArray(reply)) throw new Error(`FT.SEARCH replied ${JSON.stringify(reply)}`);
  const at = reply.findIndex((x, i) => i % 2 === 0 && x === "results");
  if (at >= 0) {
    const results = reply[at + 1] as unknown[][];
    const total = reply[reply.findIndex((x, i) => i % 2 === 0 && x === "total_results") + 1];
    const ids = results.map((r) => String(r[r.indexOf("id") + 1]));
    return { total: Number(total), ids };
  }
  return { total: Number(reply[0]), ids: reply.slice(1).map(String) };
}

const SCHEMA = ["SCHEMA", "title", "TEXT", "body", "TEXT"];

export async function herodbTarget(track: Track): Promise<{ target: Target; version: string }> {
  const srv = await startServer({ secret: "bench-secret", startTimeoutMs: 60_000 });
  track(() => srv.cleanup());
  log(`herodb: pid ${srv.proc.pid}, port ${srv.port}, data ${srv.dataDir}`);
  const index = await srv.call<number>("db_createInstance", {
    name: "bench",
    backend_type: "FullText",
  });
  if (!Number.isInteger(index)) throw new Error(`db_createInstance returned ${index}`);
  const admin = await connectInstance(srv.port, index, SEARCH_TIMEOUT_MS);
  track(async () => admin.disconnect());
  const info = String(await admin.call("INFO", "server"));
  const version = /herodb_version:(\S+)/.exec(info)?.[1] ?? "";
  log(`herodb: FullText instance ${index}`);
  const target: Target = {
    name: "herodb",
    sequential: false,
    async reset() {
      const list = (await admin.call("FT._LIST")) as string[];
      if (list.includes("idx")) await admin.call("FT.DROP", "idx");
      const created = await admin.call("FT.CREATE", "idx", ...SCHEMA);
      if (created !== "OK") throw new Error(`FT.CREATE replied ${JSON.stringify(created)}`);
    },
    async count() {
      return searchReply(await admin.call("FT.SEARCH", "idx", "*", "LIMIT", "0", "0")).total;
    },
    async open(clients) {
      const conns = await Promise.all(
        Array.from({ length: clients }, () => connectInstance(srv.port, index, SEARCH_TIMEOUT_MS)),
      );
      return {
        async add(c, doc) {
          const r = await conns[c].call(
            "FT.ADD",
            "idx",
            String(doc.id),
            "1",
            "title",
            doc.title,
            "body",
            doc.body,
          );
          if (r !== "OK") throw new Error(`FT.ADD ${doc.id} replied ${JSON.stringify(r)}`);
        },
        async search(c, q) {
          const r = await conns[c].call(
            "FT.SEARCH",
            "idx",
            q.herodb,
            "LIMIT",
            "0",
            "10",
            "NOCONTENT",
          );
          return searchReply(r).ids.map(Number);
        },
        async close() {
          for (const conn of conns) conn.disconnect();
        },
      };
    },
  };
  return { target, version };
}

/** The rows of a SELECT through mysql2. */
const rowsOf = (r: [unknown, unknown]) => r[0] as Record<string, unknown>[];

export async function sphinxTarget(
  mysql: Mysql2,
  dir: string,
  binlogFlush: number,
  track: Track,
): Promise<{ target: Target; sphinx: Sphinx }> {
  const sphinx = await startSphinx(mysql, dir, binlogFlush);
  track(() => sphinx.stop());
  const admin = await sphinx.connect();
  track(() => admin.end().catch(() => undefined));
  const target: Target = {
    name: "sphinx",
    sequential: false,
    async reset() {
      await admin.query("TRUNCATE RTINDEX idx");
    },
    async count() {
      const rows = rowsOf(await admin.query("SHOW INDEX idx STATUS"));
      return Number(rows.find((r) => r.Variable_name === "indexed_documents")?.Value);
    },
    async open(clients) {
      const conns: MysqlConnection[] = [];
      try {
        // One at a time: searchd's listen backlog is short, and 50 connects at once time out.
        for (let c = 0; c < clients; c++) conns.push(await sphinx.connect());
      } catch (e) {
        await Promise.allSettled(conns.map((c) => c.end()));
        throw e;
      }
      return {
        async add(c, doc) {
          const [r] = await conns[c].query(
            `INSERT INTO idx (id, title, body) VALUES (${doc.id}, ${sqlString(doc.title)}, ` +
              `${sqlString(doc.body)})`,
          );
          const n = (r as { affectedRows?: number }).affectedRows;
          if (n !== 1) throw new Error(`INSERT ${doc.id}: affectedRows ${n}`);
        },
        async search(c, q) {
          const sql = `SELECT id FROM idx WHERE MATCH(${sqlString(q.sphinx)}) LIMIT 10`;
          return rowsOf(await conns[c].query(sql)).map((r) => Number(r.id));
        },
        close: () => Promise.allSettled(conns.map((c) => c.end())).then(() => undefined),
      };
    },
  };
  return { target, sphinx };
}

export function fts5Target(dir: string, track: Track): { target: Target; sqlite: string } {
  const db = new DatabaseSync(join(dir, "fts5.sqlite"));
  track(async () => db.close());
  db.exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL");
  const sqlite = String((db.prepare("SELECT sqlite_version() AS v").get() as { v: unknown }).v);
  let insert: ReturnType<DatabaseSync["prepare"]> | undefined;
  let select: ReturnType<DatabaseSync["prepare"]> | undefined;
  const target: Target = {
    name: "fts5",
    sequential: true,
    async reset() {
      insert = undefined;
      select = undefined;
      db.exec("DROP TABLE IF EXISTS docs");
      db.exec("CREATE VIRTUAL TABLE docs USING fts5(title, body, tokenize = 'porter unicode61')");
      insert = db.prepare("INSERT INTO docs(rowid, title, body) VALUES (?, ?, ?)");
      select = db.prepare("SELECT rowid AS id FROM docs WHERE docs MATCH ? ORDER BY rank LIMIT 10");
    },
    async count() {
      return Number((db.prepare("SELECT count(*) AS n FROM docs").get() as { n: unknown }).n);
    },
    async open() {
      if (insert === undefined || select === undefined) throw new Error("fts5: no table yet");
      const ins = insert;
      const sel = select;
      return {
        async add(_c, doc) {
          const r = ins.run(doc.id, doc.title, doc.body);
          if (r.changes !== 1) throw new Error(`fts5 INSERT ${doc.id}: changes ${r.changes}`);
        },
        async addMany(docs) {
          db.exec("BEGIN");
          try {
            for (const doc of docs) {
              const r = ins.run(doc.id, doc.title, doc.body);
              if (r.changes !== 1) throw new Error(`fts5 INSERT ${doc.id}: changes ${r.changes}`);
            }
            db.exec("COMMIT");
          } catch (e) {
            db.exec("ROLLBACK");
            throw e;
          }
        },
        async search(_c, q) {
          return (sel.all(q.fts5) as { id: unknown }[]).map((r) => Number(r.id));
        },
        async close() {},
      };
    },
  };
  log(`fts5: ${join(dir, "fts5.sqlite")}, SQLite ${sqlite}`);
  return { target, sqlite };
}
