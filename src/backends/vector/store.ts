/**
 * A vector instance's state: its vector sets (Redis keys), each element's name, vector and JSON
 * attributes, in one SQLite file (a SqlDb, so writes commit with their log index and snapshots
 * are copies of the file), and beside each set its HNSW graph in memory (./hnsw.ts).
 *
 * The file is the truth; a graph is derived from it and kept reproducible: the file holds each
 * set's last checkpoint (the graph's bytes) and, in order, the inserts and removals since, with
 * the vectors they inserted. Opening loads the checkpoint and re-applies those changes, which
 * gives the graph every other replica holds, without rebuilding from scratch. A checkpoint is
 * taken when the changes since the last one reach an eighth of the set (at least CHECKPOINT_MIN),
 * a rule of replicated state alone, so every replica takes it at the same log position.
 *
 * Writes run inside the log entry's SQLite transaction and change the graph only after every
 * check passed, so a refused write leaves both untouched.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { SqlDb } from "../sql/sql-db.ts";
import { EMBEDDING_SCHEMA } from "./embeddings.ts";
import { Graph, type GraphConfig, type Metric, type Quantization } from "./hnsw.ts";
import { project, projection } from "./reduce.ts";

/** Changes after which a checkpoint is due, at least (see the module comment). */
const CHECKPOINT_MIN = 1024;
/** Checkpoints are stored in pieces of this size (SQLite blobs stay small). */
const CHUNK = 8 * 1024 * 1024;

const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS vsets(
    key BLOB PRIMARY KEY, dim INTEGER NOT NULL, input_dim INTEGER NOT NULL, quant TEXT NOT NULL,
    m INTEGER NOT NULL, ef INTEGER NOT NULL, seed TEXT, next_id INTEGER NOT NULL,
    count INTEGER NOT NULL, changes INTEGER NOT NULL, metric TEXT NOT NULL DEFAULT 'cos',
    dataset INTEGER NOT NULL DEFAULT 0)`,
  `CREATE TABLE IF NOT EXISTS velems(
    key BLOB NOT NULL, name BLOB NOT NULL, id INTEGER NOT NULL, vec BLOB NOT NULL, attrs TEXT,
    text TEXT, PRIMARY KEY(key, name))`,
  "CREATE UNIQUE INDEX IF NOT EXISTS velems_id ON velems(key, id)",
  `CREATE TABLE IF NOT EXISTS vchanges(
    key BLOB NOT NULL, seq INTEGER NOT NULL, id INTEGER NOT NULL, vec BLOB,
    PRIMARY KEY(key, seq))`,
  `CREATE TABLE IF NOT EXISTS vcheckpoints(
    key BLOB NOT NULL, part INTEGER NOT NULL, bytes BLOB NOT NULL, PRIMARY KEY(key, part))`,
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
  attrs: string | null;
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

  /** Opens every set's graph from its checkpoint and the changes since (at start, after a restore). */
  load(): void {
    const db = this.db;
    this.sets = new Map();
    db.internal(() => {
      const rows = db.ownStatement("SELECT * FROM vsets").all() as unknown as (SetRow & {
        key: Uint8Array;
      })[];
      for (const row of rows) {
        const live = this.live(text(row.key), row);
        const parts = db
          .ownStatement("SELECT bytes FROM vcheckpoints WHERE key = ? ORDER BY part")
          .all(row.key) as { bytes: Uint8Array }[];
        if (parts.length > 0) live.graph.load(Buffer.concat(parts.map((p) => p.bytes)));
        const changes = db
          .ownStatement("SELECT id, vec FROM vchanges WHERE key = ? ORDER BY seq")
          .all(row.key) as { id: number; vec: Uint8Array | null }[];
        for (const c of changes) {
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
      | { id: number; vec: Uint8Array; attrs: string | null; text: string | null }
      | undefined;
    return row === undefined
      ? undefined
      : { id: row.id, vector: vectorOf(row.vec), attrs: row.attrs, text: row.text };
  }

  /** Names and attributes of elements by id (search results). */
  byId(key: string, id: number): { name: string; attrs: string | null; vector: Float32Array } {
    const row = this.db
      .readStatement("SELECT name, attrs, vec FROM velems WHERE key = ? AND id = ?")
      .get(blob(key), id) as { name: Uint8Array; attrs: string | null; vec: Uint8Array };
    return { name: text(row.name), attrs: row.attrs, vector: vectorOf(row.vec) };
  }

  /** Every element of a set, in id order (exact searches, random members). */
  *all(
    key: string,
  ): Generator<{ id: number; name: string; attrs: string | null; vector: Float32Array }> {
    const rows = this.db
      .readStatement("SELECT id, name, attrs, vec FROM velems WHERE key = ? ORDER BY id")
      .iterate(blob(key)) as Iterable<{
      id: number;
      name: Uint8Array;
      attrs: string | null;
      vec: Uint8Array;
    }>;
    for (const r of rows)
      yield { id: r.id, name: text(r.name), attrs: r.attrs, vector: vectorOf(r.vec) };
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

  /** Adds an element, or replaces its vector (a removal and an insert in the graph). */
  put(
    set: LiveSet,
    name: string,
    vector: Float32Array,
    attrs: string | null | undefined,
    text?: string | null,
  ): boolean {
    const db = this.db;
    const key = blob(set.key);
    const old = this.element(set.key, name);
    return db.internal(() => {
      const row = db.ownStatement("SELECT next_id FROM vsets WHERE key = ?").get(key) as {
        next_id: number;
      };
      const id = row.next_id;
      if (old !== undefined) {
        db.ownStatement("DELETE FROM velems WHERE key = ? AND name = ?").run(key, blob(name));
        this.change(set, old.id, null);
      }
      db.ownStatement(
        "INSERT INTO velems(key, name, id, vec, attrs, text) VALUES (?, ?, ?, ?, ?, ?)",
      ).run(
        key,
        blob(name),
        id,
        bytesOf(vector),
        attrs === undefined ? (old?.attrs ?? null) : attrs,
        text === undefined ? (old?.text ?? null) : text,
      );
      db.ownStatement(
        `UPDATE vsets SET next_id = next_id + 1, count = count + ${old === undefined ? 1 : 0} WHERE key = ?`,
      ).run(key);
      this.change(set, id, vector);
      this.maybeCheckpoint(set);
      return old === undefined;
    });
  }

  /** Removes an element; the set goes with its last element. */
  remove(set: LiveSet, name: string): boolean {
    const db = this.db;
    const key = blob(set.key);
    const old = this.element(set.key, name);
    if (old === undefined) return false;
    db.internal(() => {
      db.ownStatement("DELETE FROM velems WHERE key = ? AND name = ?").run(key, blob(name));
      db.ownStatement("UPDATE vsets SET count = count - 1 WHERE key = ?").run(key);
      const left = db.ownStatement("SELECT count FROM vsets WHERE key = ?").get(key) as {
        count: number;
      };
      if (left.count === 0 && !set.config.dataset) this.drop(set.key);
      else {
        this.change(set, old.id, null);
        this.maybeCheckpoint(set);
      }
    });
    return true;
  }

  /** Sets (or with null removes) an element's attributes. */
  setAttrs(set: LiveSet, name: string, attrs: string | null): boolean {
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
      for (const table of ["vsets", "velems", "vchanges", "vcheckpoints", "vembeddings"]) {
        db.ownStatement(`DELETE FROM ${table} WHERE key = ?`).run(k);
      }
    });
    this.sets.delete(key);
  }

  /** Records a change (insert with its vector, removal without) and applies it to the graph. */
  private change(set: LiveSet, id: number, vector: Float32Array | null): void {
    const db = this.db;
    const key = blob(set.key);
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
    if (vector === null) set.graph.remove(id);
    else set.graph.add(id, vector);
  }

  /**
   * Builds a set's graph again with new parameters (LANCE.CREATEINDEX): every element in id
   * order into a fresh graph, checkpointed at once, the same on every replica.
   */
  rebuild(set: LiveSet, m: number, ef: number): LiveSet {
    const db = this.db;
    const key = blob(set.key);
    db.internal(() =>
      db.ownStatement("UPDATE vsets SET m = ?, ef = ? WHERE key = ?").run(m, ef, key),
    );
    const row = db.internal(() =>
      db.ownStatement("SELECT * FROM vsets WHERE key = ?").get(key),
    ) as unknown as SetRow;
    const live = this.live(set.key, row);
    const rows = db.internal(() =>
      db.ownStatement("SELECT id, vec FROM velems WHERE key = ? ORDER BY id").all(key),
    ) as { id: number; vec: Uint8Array }[];
    for (const r of rows) live.graph.add(r.id, vectorOf(r.vec));
    this.sets.set(set.key, live);
    db.internal(() => this.checkpoint(live));
    return live;
  }

  private maybeCheckpoint(set: LiveSet): void {
    const db = this.db;
    const key = blob(set.key);
    const row = db.ownStatement("SELECT changes, count FROM vsets WHERE key = ?").get(key) as {
      changes: number;
      count: number;
    };
    if (row.changes < Math.max(CHECKPOINT_MIN, Math.floor(row.count / 8))) return;
    this.checkpoint(set);
  }

  /** Saves the set's graph (and loads it back, as every replica does at this point). */
  private checkpoint(set: LiveSet): void {
    const db = this.db;
    const key = blob(set.key);
    const bytes = set.graph.checkpoint();
    db.ownStatement("DELETE FROM vcheckpoints WHERE key = ?").run(key);
    for (let part = 0; part * CHUNK < bytes.length; part++) {
      db.ownStatement("INSERT INTO vcheckpoints(key, part, bytes) VALUES (?, ?, ?)").run(
        key,
        part,
        bytes.subarray(part * CHUNK, (part + 1) * CHUNK),
      );
    }
    db.ownStatement("DELETE FROM vchanges WHERE key = ?").run(key);
    db.ownStatement("UPDATE vsets SET changes = 0 WHERE key = ?").run(key);
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
  randomMembers(key: string, n: number, repeats: boolean): string[] {
    const size = this.count(key);
    if (size === 0) return [];
    const pick = this.db.readStatement(
      "SELECT name FROM velems WHERE key = ? ORDER BY id LIMIT 1 OFFSET ?",
    );
    const at = (i: number): string => text((pick.get(blob(key), i) as { name: Uint8Array }).name);
    if (repeats) return Array.from({ length: n }, () => at(Math.floor(Math.random() * size)));
    if (n >= size) {
      const all = [...this.all(key)].map((e) => e.name);
      for (let i = all.length - 1; i > 0; i--) {
        const j = Math.floor(Math.random() * (i + 1));
        [all[i], all[j]] = [all[j], all[i]];
      }
      return all;
    }
    const chosen = new Set<number>();
    while (chosen.size < n) chosen.add(Math.floor(Math.random() * size));
    return [...chosen].map(at);
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
