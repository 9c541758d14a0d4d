/**
 * A vector instance's state: its vector sets (Redis keys), each element's name, vector and JSON
 * attributes, in one SQLite file (a SqlDb, so writes commit with their log index and snapshots
 * are copies of the file), and beside each set its HNSW graph in memory (./hnsw.ts).
 *
 * The file is the truth; a graph is derived from it, and must come out the same on every
 * replica. usearch's graph depends on the exact sequence of inserts and removals (and on when it
 * grew its storage), and a graph it loads from a file continues differently from one that was
 * never saved (it then draws node levels from one generator per CPU, rotated by searches too),
 * so graphs are never loaded: the file keeps each set's changes in order, inserts with their
 * vectors (`vchanges`), and opening replays them into a fresh graph, on one thread, exactly as
 * every replica applied them. LANCE.CREATEINDEX, which builds a graph again, starts that history
 * afresh. Writes change the graph only after their SQLite statements succeeded; a graph that
 * fails to change fails the node (a replica must not go on with a graph the others lack).
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { SqlDb } from "../sql/sql-db.ts";
import { EMBEDDING_SCHEMA } from "./embeddings.ts";
import { Graph, type GraphConfig, type Metric, type Quantization } from "./hnsw.ts";
import { project, projection } from "./reduce.ts";

const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS vsets(
    key BLOB PRIMARY KEY, dim INTEGER NOT NULL, input_dim INTEGER NOT NULL, quant TEXT NOT NULL,
    m INTEGER NOT NULL, ef INTEGER NOT NULL, seed TEXT, next_id INTEGER NOT NULL,
    count INTEGER NOT NULL, changes INTEGER NOT NULL, metric TEXT NOT NULL DEFAULT 'cos',
    dataset INTEGER NOT NULL DEFAULT 0)`,
  `CREATE TABLE IF NOT EXISTS velems(
    key BLOB NOT NULL, name BLOB NOT NULL, id INTEGER NOT NULL, vec BLOB NOT NULL, attrs BLOB,
    text TEXT, PRIMARY KEY(key, name))`,
  "CREATE UNIQUE INDEX IF NOT EXISTS velems_id ON velems(key, id)",
  `CREATE TABLE IF NOT EXISTS vchanges(
    key BLOB NOT NULL, seq INTEGER NOT NULL, id INTEGER NOT NULL, vec BLOB,
    PRIMARY KEY(key, seq))`,
  EMBEDDING_SCHEMA,
];

export interface SetConfig extends GraphConfig {
  /** Made by LANCE.CREATE: it stays when its last element goes (a vector set does not). */
  dataset: boolean;
  /** The dimension clients send: larger than `dim` when REDUCE projects vectors down. */
  inputDim: number;
  /** The projection's seed (REDUCE), drawn from the log when the set was created. */
  seed: string | null;
}

interface SetRow {
  metric: Metric;
  dataset: number;
  dim: number;
  input_dim: number;
  quant: Quantization;
  m: number;
  ef: number;
  seed: string | null;
  next_id: number;
  count: number;
  changes: number;
}

/** A set as reads and writes use it: its configuration, graph and projection. */
export interface LiveSet {
  readonly key: string;
  readonly config: SetConfig;
  readonly graph: Graph;
  /** REDUCE's projection matrix (inputDim × dim), or null. */
  readonly projection: Float32Array | null;
  /** A number for the set's life in this process (VINFO's vset-uid, as Redis counts them). */
  readonly uid: number;
}

let uids = 0;

export interface Element {
  id: number;
  vector: Float32Array;
  /** The attributes as given (JSON text, or bytes Redis would keep as they are). */
  attrs: Buffer | null;
  /** LANCE.STORE's TEXT. */
  text: string | null;
}

const blob = (s: string): Buffer => Buffer.from(s, "latin1");
const text = (b: Uint8Array): string => Buffer.from(b).toString("latin1");
export const vectorOf = (b: Uint8Array): Float32Array => {
  const copy = Buffer.from(b);
  return new Float32Array(copy.buffer, copy.byteOffset, copy.byteLength / 4);
};
const bytesOf = (v: Float32Array): Buffer => Buffer.from(v.buffer, v.byteOffset, v.byteLength);
const bytesOrNull = (b: Uint8Array | string | null): Buffer | null =>
  b === null ? null : typeof b === "string" ? Buffer.from(b, "utf8") : Buffer.from(b);

export class VectorStore {
  readonly db: SqlDb;
  private readonly scratchDir: string;
  private sets = new Map<string, LiveSet>();

  constructor(db: SqlDb, scratchDir: string) {
    this.db = db;
    this.scratchDir = scratchDir;
    mkdirSync(scratchDir, { recursive: true, mode: 0o700 });
    db.internal(() => {
      for (const sql of SCHEMA) db.ownStatement(sql).run();
    });
    this.load();
  }

  /** Opens every set's graph by replaying its changes (at start, after a restore). */
  load(): void {
    const db = this.db;
    this.sets = new Map();
    db.internal(() => {
      const rows = db.ownStatement("SELECT * FROM vsets").all() as unknown as (SetRow & {
        key: Uint8Array;
      })[];
      const changes = db.ownStatement("SELECT id, vec FROM vchanges WHERE key = ? ORDER BY seq");
      for (const row of rows) {
        const live = this.live(text(row.key), row);
        for (const c of changes.iterate(row.key) as Iterable<{
          id: number;
          vec: Uint8Array | null;
        }>) {
          if (c.vec === null) live.graph.remove(c.id);
          else live.graph.add(c.id, vectorOf(c.vec));
        }
        this.sets.set(live.key, live);
      }
    });
  }

  private live(key: string, row: SetRow): LiveSet {
    const config: SetConfig = {
      dataset: row.dataset === 1,
      metric: row.metric,
      dim: row.dim,
      inputDim: row.input_dim,
      quant: row.quant,
      m: row.m,
      ef: row.ef,
      seed: row.seed,
    };
    const file = join(
      this.scratchDir,
      `graph-${Buffer.from(key, "latin1").toString("hex").slice(0, 64)}.usearch`,
    );
    return {
      key,
      config,
      uid: uids++,
      graph: new Graph(config, file),
      projection: row.seed === null ? null : projection(row.seed, row.input_dim, row.dim),
    };
  }

  set(key: string): LiveSet | undefined {
    return this.sets.get(key);
  }

  keys(): string[] {
    return [...this.sets.keys()];
  }

  /** The vector as the set stores it (projected by REDUCE). */
  stored(set: LiveSet, input: Float32Array): Float32Array {
    return set.projection === null ? input : project(set.projection, input, set.config.dim);
  }

  element(key: string, name: string): Element | undefined {
    const row = this.db
      .readStatement("SELECT id, vec, attrs, text FROM velems WHERE key = ? AND name = ?")
      .get(blob(key), blob(name)) as
      | { id: number; vec: Uint8Array; attrs: Uint8Array | null; text: string | null }
      | undefined;
    return row === undefined
      ? undefined
      : { id: row.id, vector: vectorOf(row.vec), attrs: bytesOrNull(row.attrs), text: row.text };
  }

  /** Names and attributes of elements by id (search results). */
  byId(
    key: string,
    id: number,
  ): { name: string; attrs: Buffer | null; vector: Float32Array } | undefined {
    const row = this.db
      .readStatement("SELECT name, attrs, vec FROM velems WHERE key = ? AND id = ?")
      .get(blob(key), id) as
      | { name: Uint8Array; attrs: Uint8Array | null; vec: Uint8Array }
      | undefined;
    if (row === undefined) return undefined;
    return { name: text(row.name), attrs: bytesOrNull(row.attrs), vector: vectorOf(row.vec) };
  }

  /** Every element of a set, in id order (exact searches, random members). */
  *all(
    key: string,
  ): Generator<{ id: number; name: string; attrs: Buffer | null; vector: Float32Array }> {
    const rows = this.db
      .readStatement("SELECT id, name, attrs, vec FROM velems WHERE key = ? ORDER BY id")
      .iterate(blob(key)) as Iterable<{
      id: number;
      name: Uint8Array;
      attrs: Uint8Array | null;
      vec: Uint8Array;
    }>;
    for (const r of rows)
      yield { id: r.id, name: text(r.name), attrs: bytesOrNull(r.attrs), vector: vectorOf(r.vec) };
  }

  count(key: string): number {
    const row = this.db.readStatement("SELECT count FROM vsets WHERE key = ?").get(blob(key)) as
      | { count: number }
      | undefined;
    return row?.count ?? 0;
  }

  // ---- Writes (inside the log entry's transaction) ----

  /** Creates a set (VADD on a missing key). */
  create(key: string, config: SetConfig): LiveSet {
    const db = this.db;
    db.internal(() =>
      db
        .ownStatement(
          "INSERT INTO vsets(key, dim, input_dim, quant, m, ef, seed, next_id, count, changes, metric, dataset) VALUES (?, ?, ?, ?, ?, ?, ?, 1, 0, 0, ?, ?)",
        )
        .run(
          blob(key),
          config.dim,
          config.inputDim,
          config.quant,
          config.m,
          config.ef,
          config.seed,
          config.metric,
          config.dataset ? 1 : 0,
        ),
    );
    const live = this.live(key, {
      dataset: config.dataset ? 1 : 0,
      metric: config.metric,
      dim: config.dim,
      input_dim: config.inputDim,
      quant: config.quant,
      m: config.m,
      ef: config.ef,
      seed: config.seed,
      next_id: 1,
      count: 0,
      changes: 0,
    });
    this.sets.set(key, live);
    return live;
  }

  /** An element as the writer sees it (earlier writes of the same log entry included). */
  private current(
    key: Buffer,
    name: Buffer,
  ): { id: number; attrs: Uint8Array | null; text: string | null } | undefined {
    return this.db.internal(() =>
      this.db
        .ownStatement("SELECT id, attrs, text FROM velems WHERE key = ? AND name = ?")
        .get(key, name),
    ) as { id: number; attrs: Uint8Array | null; text: string | null } | undefined;
  }

  /** Adds an element, or replaces its vector (a removal and an insert in the graph). */
  put(
    set: LiveSet,
    name: string,
    vector: Float32Array,
    attrs: Buffer | null | undefined,
    text?: string | null,
  ): boolean {
    const db = this.db;
    const key = blob(set.key);
    const n = blob(name);
    const old = this.current(key, n);
    const id = db.internal(() => {
      const row = db.ownStatement("SELECT next_id FROM vsets WHERE key = ?").get(key) as {
        next_id: number;
      };
      if (old !== undefined) {
        db.ownStatement("DELETE FROM velems WHERE key = ? AND name = ?").run(key, n);
        this.record(key, old.id, null);
      }
      db.ownStatement(
        "INSERT INTO velems(key, name, id, vec, attrs, text) VALUES (?, ?, ?, ?, ?, ?)",
      ).run(
        key,
        n,
        row.next_id,
        bytesOf(vector),
        attrs === undefined ? (old?.attrs ?? null) : attrs,
        text === undefined ? (old?.text ?? null) : text,
      );
      db.ownStatement(
        `UPDATE vsets SET next_id = next_id + 1, count = count + ${old === undefined ? 1 : 0} WHERE key = ?`,
      ).run(key);
      this.record(key, row.next_id, vector);
      return row.next_id;
    });
    // The graph last, once everything that may fail has succeeded.
    if (old !== undefined) set.graph.remove(old.id);
    set.graph.add(id, vector);
    return old === undefined;
  }

  /** Removes an element; a vector set goes with its last element (a dataset stays). */
  remove(set: LiveSet, name: string): boolean {
    const db = this.db;
    const key = blob(set.key);
    const old = this.current(key, blob(name));
    if (old === undefined) return false;
    const left = db.internal(() => {
      db.ownStatement("DELETE FROM velems WHERE key = ? AND name = ?").run(key, blob(name));
      db.ownStatement("UPDATE vsets SET count = count - 1 WHERE key = ?").run(key);
      const row = db.ownStatement("SELECT count FROM vsets WHERE key = ?").get(key) as {
        count: number;
      };
      if (row.count > 0 || set.config.dataset) this.record(key, old.id, null);
      return row.count;
    });
    if (left === 0 && !set.config.dataset) this.drop(set.key);
    else set.graph.remove(old.id);
    return true;
  }

  /** Sets (or with null removes) an element's attributes. */
  setAttrs(set: LiveSet, name: string, attrs: Buffer | null): boolean {
    const db = this.db;
    return db.internal(() => {
      const r = db
        .ownStatement("UPDATE velems SET attrs = ? WHERE key = ? AND name = ?")
        .run(attrs, blob(set.key), blob(name));
      return Number(r.changes) > 0;
    });
  }

  /** Removes a whole set. */
  drop(key: string): void {
    const db = this.db;
    const k = blob(key);
    db.internal(() => {
      for (const table of ["vsets", "velems", "vchanges", "vembeddings"]) {
        db.ownStatement(`DELETE FROM ${table} WHERE key = ?`).run(k);
      }
    });
    this.sets.delete(key);
  }

  /** Records a change in the set's history: an insert with its vector, a removal without. */
  private record(key: Buffer, id: number, vector: Float32Array | null): void {
    const db = this.db;
    const row = db.ownStatement("SELECT changes FROM vsets WHERE key = ?").get(key) as {
      changes: number;
    };
    db.ownStatement("INSERT INTO vchanges(key, seq, id, vec) VALUES (?, ?, ?, ?)").run(
      key,
      row.changes + 1,
      id,
      vector === null ? null : bytesOf(vector),
    );
    db.ownStatement("UPDATE vsets SET changes = changes + 1 WHERE key = ?").run(key);
  }

  /**
   * Builds a set's graph again with new parameters (LANCE.CREATEINDEX): every element in id
   * order into a fresh graph, its history starting afresh with those inserts.
   */
  rebuild(set: LiveSet, m: number, ef: number): LiveSet {
    const db = this.db;
    const key = blob(set.key);
    const live = db.internal(() => {
      db.ownStatement("UPDATE vsets SET m = ?, ef = ?, changes = 0 WHERE key = ?").run(m, ef, key);
      db.ownStatement("DELETE FROM vchanges WHERE key = ?").run(key);
      const rows = db.ownStatement("SELECT id, vec FROM velems WHERE key = ? ORDER BY id");
      for (const r of rows.iterate(key) as Iterable<{ id: number; vec: Uint8Array }>) {
        this.record(key, r.id, vectorOf(r.vec));
      }
      const row = db
        .ownStatement("SELECT * FROM vsets WHERE key = ?")
        .get(key) as unknown as SetRow;
      return this.live(set.key, row);
    });
    const changes = db.internal(() =>
      db.ownStatement("SELECT id, vec FROM vchanges WHERE key = ? ORDER BY seq").iterate(key),
    ) as Iterable<{ id: number; vec: Uint8Array }>;
    for (const c of changes) live.graph.add(c.id, vectorOf(c.vec));
    this.sets.set(set.key, live);
    return live;
  }

  /** How many elements of a set carry attributes (VINFO). */
  attributesCount(key: string): number {
    const row = this.db
      .readStatement("SELECT count(*) AS n FROM velems WHERE key = ? AND attrs IS NOT NULL")
      .get(blob(key)) as { n: number };
    return row.n;
  }

  /**
   * Random element names, as SRANDMEMBER picks them: distinct ones (at most the set's size),
   * or with `repeats` exactly `n`, the same one possibly several times.
   */
  randomMembers(key: string, n: number, repeats: boolean): Buffer[] {
    // The names once (not the vectors), then picks among them: linear in the set's size.
    const names = (
      this.db.readStatement("SELECT name FROM velems WHERE key = ? ORDER BY id").all(blob(key)) as {
        name: Uint8Array;
      }[]
    ).map((r) => Buffer.from(r.name));
    const size = names.length;
    if (size === 0) return [];
    if (repeats) return Array.from({ length: n }, () => names[Math.floor(Math.random() * size)]);
    // A partial Fisher–Yates shuffle: the first min(n, size) are a random sample.
    const take = Math.min(n, size);
    for (let i = 0; i < take; i++) {
      const j = i + Math.floor(Math.random() * (size - i));
      [names[i], names[j]] = [names[j], names[i]];
    }
    return names.slice(0, take);
  }

  /** The largest element id given out in a set (VINFO's hnsw-max-node-uid). */
  maxId(key: string): number {
    const row = this.db.readStatement("SELECT next_id FROM vsets WHERE key = ?").get(blob(key)) as
      | { next_id: number }
      | undefined;
    return (row?.next_id ?? 1) - 1;
  }

  /**
   * The memory a set's graph takes per vector, estimated from its configuration (usearch does
   * not report it): the quantized components (4 bytes each without quantization, 1 with Q8, a
   * bit with BIN), the layer-0 links (2·M of 4 bytes) and the node's header.
   */
  static bytesPerVector(set: LiveSet): number {
    const c = set.config;
    const components =
      c.quant === "f32" ? c.dim * 4 : c.quant === "q8" ? c.dim : Math.ceil(c.dim / 8);
    return components + 2 * c.m * 4 + 16;
  }

  /** Vectors held in graphs, and their estimated bytes (INFO). */
  memory(): { items: number; bytes: number } {
    let items = 0;
    let bytes = 0;
    for (const set of this.sets.values()) {
      const n = set.graph.size;
      items += n;
      bytes += n * VectorStore.bytesPerVector(set);
    }
    return { items, bytes };
  }
}
