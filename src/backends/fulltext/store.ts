/**
 * Full-text indexes in one SQLite file (a SqlDb, which gives the file its applied index, one
 * transaction per log entry, snapshots and restores). Each index `fti_<id>` has:
 *
 * - `_docs`: every document (its id, its score, all its fields as JSON), keyed by a row id;
 * - `_text`: an FTS5 table over the TEXT fields (porter stemming, Unicode word breaking), with
 *   the document's row id as its rowid, and `_vocab` over it (terms, for fuzzy queries);
 * - `_num`, `_tag`, `_geo`: NUMERIC values, TAG values (split at the separator, lower-cased
 *   unless CASESENSITIVE) and GEO points, each indexed by field.
 *
 * Writes run in apply (FT.CREATE, FT.ADD, FT.DEL, FT.DROP) with the engine's own statements on
 * the writer; searches run on the read-only connection. Every replica applies the same writes
 * in the same order and SQLite is deterministic, so every replica ranks the same way.
 */
import type { StatementSync } from "node:sqlite";
import { HeroError } from "../../errors.ts";
import type { SqlDb } from "../sql/sql-db.ts";
import { type Compiled, compile, editDistance, type Tables } from "./compile.ts";
import { Dictionaries } from "./dictionaries.ts";
import type { Node } from "./query.ts";
import type { FieldDef, IndexDef } from "./schema.ts";

const INDEXES = "fti_indexes";
/** Fuzzy terms one query may hold. */
const MAX_FUZZY = 16;

export interface Hit {
  doc: string;
  score: number;
  fields: Fields;
}

/** HIGHLIGHT / SUMMARIZE of one TEXT field (FTS5's highlight() and snippet()). */
export interface Decoration {
  field: string;
  highlight: { open: string; close: string } | null;
  summarize: { len: number; separator: string } | null;
}

export interface SearchOptions {
  offset: number;
  limit: number;
  /** Refuse (before reading any document) when more than this many match. */
  maxTotal?: number;
  decorate: Decoration[];
  sortBy: { field: FieldDef; desc: boolean } | null;
  inKeys: string[] | null;
}

const err = (m: string) => new HeroError("ERR", m);

/** A stored document's fields: own properties only ("__proto__" or "constructor" may be field
 * names), as string pairs. */
export function ownEntries(o: unknown): [string, string][] {
  return Object.entries(o as Record<string, string>).filter(([k]) => Object.hasOwn(o as object, k));
}

/** Fields as a map (never an object whose prototype a field name could reach). */
export type Fields = Map<string, string>;

function tablesOf(id: number, def: IndexDef): Tables {
  const base = `fti_${id}`;
  const hasText = def.fields.some((f) => f.type === "TEXT");
  return {
    docs: `${base}_docs`,
    text: hasText ? `${base}_text` : null,
    vocab: hasText ? `${base}_vocab` : null,
    instances: hasText ? `${base}_inst` : null,
    raw: hasText ? `${base}_raw` : null,
    rawVocab: hasText ? `${base}_rawvocab` : null,
    rawInstances: hasText ? `${base}_rawinst` : null,
    num: `${base}_num`,
    tag: `${base}_tag`,
    geo: `${base}_geo`,
  };
}

/** A GEO value as FT.ADD and HSET give it: "lon,lat". */
function geoOf(field: string, value: string): { lon: number; lat: number } {
  const m = /^\s*(-?[\d.]+)\s*,\s*(-?[\d.]+)\s*$/.exec(value);
  const lon = Number(m?.[1]);
  const lat = Number(m?.[2]);
  if (m === null || !(Math.abs(lon) <= 180 && Math.abs(lat) <= 90)) {
    throw err(`field '${field}': '${value.slice(0, 64)}' is not a "lon,lat" point`);
  }
  return { lon, lat };
}

export function tagsOf(f: FieldDef, value: string): string[] {
  const out = new Set<string>();
  for (const raw of value.split(f.separator)) {
    const t = raw.trim();
    if (t !== "") out.add(f.caseSensitive ? t : t.toLowerCase());
  }
  return [...out];
}

export class FtStore {
  private readonly db: SqlDb;
  /** Suggestion dictionaries and synonym groups. */
  readonly dicts: Dictionaries;

  constructor(db: SqlDb) {
    this.db = db;
    db.internal(() =>
      db
        .ownStatement(
          `CREATE TABLE IF NOT EXISTS ${INDEXES} (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, def TEXT NOT NULL)`,
        )
        .run(),
    );
    this.dicts = new Dictionaries(db);
  }

  private w(sql: string): StatementSync {
    return this.db.ownStatement(sql);
  }

  /** An index by name, as the writer (in apply) or the reader sees it. */
  lookup(name: string, on: "writer" | "reader"): { id: number; def: IndexDef } | null {
    const sql = `SELECT id, def FROM ${INDEXES} WHERE name = ?`;
    const row = this.db.internal(() =>
      (on === "writer" ? this.w(sql) : this.db.readStatement(sql)).get(name),
    ) as { id: number; def: string } | undefined;
    return row === undefined ? null : { id: row.id, def: JSON.parse(row.def) as IndexDef };
  }

  private need(name: string, on: "writer" | "reader"): { id: number; def: IndexDef } {
    const found = this.lookup(name, on);
    if (found === null) throw err(`${name}: no such index`);
    return found;
  }

  names(): string[] {
    return this.db.internal(() =>
      (
        this.db.readStatement(`SELECT name FROM ${INDEXES} ORDER BY name`).all() as {
          name: string;
        }[]
      ).map((r) => r.name),
    );
  }

  create(def: IndexDef): void {
    this.db.internal(() => {
      if (this.lookup(def.name, "writer") !== null) throw err("Index already exists");
      const r = this.w(`INSERT INTO ${INDEXES} (name, def) VALUES (?, ?)`).run(
        def.name,
        JSON.stringify(def),
      );
      const t = tablesOf(Number(r.lastInsertRowid), def);
      const ddl = [
        `CREATE TABLE ${t.docs} (rid INTEGER PRIMARY KEY, doc TEXT NOT NULL UNIQUE, score REAL NOT NULL, fields TEXT NOT NULL)`,
        `CREATE INDEX ${t.docs}_score ON ${t.docs} (score)`,
        `CREATE TABLE ${t.num} (rid INTEGER NOT NULL, f TEXT NOT NULL, v REAL NOT NULL)`,
        `CREATE INDEX ${t.num}_fv ON ${t.num} (f, v)`,
        `CREATE INDEX ${t.num}_rid ON ${t.num} (rid)`,
        `CREATE TABLE ${t.tag} (rid INTEGER NOT NULL, f TEXT NOT NULL, tag TEXT NOT NULL)`,
        `CREATE INDEX ${t.tag}_ft ON ${t.tag} (f, tag)`,
        `CREATE INDEX ${t.tag}_rid ON ${t.tag} (rid)`,
        `CREATE TABLE ${t.geo} (rid INTEGER NOT NULL, f TEXT NOT NULL, lon REAL NOT NULL, lat REAL NOT NULL)`,
        `CREATE INDEX ${t.geo}_fl ON ${t.geo} (f, lat)`,
        `CREATE INDEX ${t.geo}_rid ON ${t.geo} (rid)`,
      ];
      for (const sql of ddl) this.db.ownStatement(sql).run();
      this.createText(t, def);
    });
  }

  /** The FTS5 table over the TEXT fields (c0, c1… in schema order) and its two vocabularies. */
  private createText(t: Tables, def: IndexDef): void {
    if (t.text === null) return;
    const cols = def.fields.filter((f) => f.type === "TEXT").map((_, i) => `c${i}`);
    for (const sql of [
      `CREATE VIRTUAL TABLE ${t.text} USING fts5(${cols.join(", ")}, tokenize = 'porter unicode61')`,
      `CREATE VIRTUAL TABLE ${t.vocab} USING fts5vocab(${t.text}, row)`,
      `CREATE VIRTUAL TABLE ${t.instances} USING fts5vocab(${t.text}, instance)`,
      `CREATE VIRTUAL TABLE ${t.raw} USING fts5(${cols.join(", ")}, content = '', contentless_delete = 1, tokenize = 'unicode61')`,
      `CREATE VIRTUAL TABLE ${t.rawVocab} USING fts5vocab(${t.raw}, row)`,
      `CREATE VIRTUAL TABLE ${t.rawInstances} USING fts5vocab(${t.raw}, instance)`,
    ]) {
      this.db.ownStatement(sql).run();
    }
  }

  private indexText(t: Tables, def: IndexDef, rid: number, values: Map<string, string>): void {
    const textFields = def.fields.filter((f) => f.type === "TEXT");
    if (t.text === null || !textFields.some((f) => values.has(f.name) && !f.noindex)) return;
    const cols = textFields.map((_, i) => `c${i}`);
    const row = textFields.map((f) => (f.noindex ? "" : (values.get(f.name) ?? "")));
    for (const table of [t.text, t.raw]) {
      this.w(
        `INSERT INTO ${table} (rowid, ${cols.join(", ")}) VALUES (?, ${cols.map(() => "?").join(", ")})`,
      ).run(rid, ...row);
    }
  }

  /** NUMERIC, TAG and GEO values; `lenient` skips values that do not fit (documents added
   * before the field existed were not checked against it). */
  private indexOthers(
    t: Tables,
    fields: FieldDef[],
    rid: number,
    values: Map<string, string>,
    lenient: boolean,
  ): void {
    for (const f of fields) {
      const v = values.get(f.name);
      if (v === undefined || f.noindex) continue;
      if (f.type === "NUMERIC") {
        const n = v.trim() === "" ? Number.NaN : Number(v);
        if (Number.isFinite(n)) this.w(`INSERT INTO ${t.num} VALUES (?, ?, ?)`).run(rid, f.name, n);
        else if (!lenient) throw err(`field '${f.name}': '${v.slice(0, 64)}' is not a number`);
      } else if (f.type === "TAG") {
        const ins = this.w(`INSERT INTO ${t.tag} VALUES (?, ?, ?)`);
        for (const tag of tagsOf(f, v)) ins.run(rid, f.name, tag);
      } else if (f.type === "GEO") {
        let p: { lon: number; lat: number };
        try {
          p = geoOf(f.name, v);
        } catch (e) {
          if (lenient) continue;
          throw e;
        }
        this.w(`INSERT INTO ${t.geo} VALUES (?, ?, ?, ?)`).run(rid, f.name, p.lon, p.lat);
      }
    }
  }

  drop(name: string): boolean {
    return this.db.internal(() => {
      const found = this.lookup(name, "writer");
      if (found === null) return false;
      const t = tablesOf(found.id, found.def);
      const drops = [t.docs, t.num, t.tag, t.geo];
      if (t.text !== null) {
        drops.unshift(
          ...[t.vocab, t.instances, t.text, t.rawVocab, t.rawInstances, t.raw].map(String),
        );
      }
      for (const table of drops) this.db.ownStatement(`DROP TABLE IF EXISTS ${table}`).run();
      this.w(`DELETE FROM ${INDEXES} WHERE id = ?`).run(found.id);
      this.dicts.dropIndex(name);
      return true;
    });
  }

  /** Adds (or replaces) a document; fields not in the schema are kept but not indexed. */
  add(name: string, doc: string, score: number, fields: [string, string][], partial = false): void {
    this.db.internal(() => {
      const { id, def } = this.need(name, "writer");
      const t = tablesOf(id, def);
      const values = new Map<string, string>();
      if (partial) {
        // REPLACE PARTIAL: the fields given replace theirs; the others stay.
        const old = this.w(`SELECT fields FROM ${t.docs} WHERE doc = ?`).get(doc) as
          | { fields: string }
          | undefined;
        if (old !== undefined)
          for (const [k, v] of ownEntries(JSON.parse(old.fields))) values.set(k, v);
      }
      for (const [k, v] of fields) values.set(k, v);
      // Check every value before anything is written.
      for (const f of def.fields) {
        const v = values.get(f.name);
        if (v === undefined || f.noindex) continue;
        if (f.type === "NUMERIC" && (v.trim() === "" || !Number.isFinite(Number(v)))) {
          throw err(`field '${f.name}': '${v.slice(0, 64)}' is not a number`);
        }
        if (f.type === "GEO") geoOf(f.name, v);
      }
      this.removeDoc(t, doc);
      const r = this.w(`INSERT INTO ${t.docs} (doc, score, fields) VALUES (?, ?, ?)`).run(
        doc,
        score,
        JSON.stringify(Object.fromEntries(values)),
      );
      const rid = Number(r.lastInsertRowid);
      this.indexText(t, def, rid, values);
      this.indexOthers(t, def.fields, rid, values, false);
    });
  }

  private removeDoc(t: Tables, doc: string): boolean {
    const row = this.w(`SELECT rid FROM ${t.docs} WHERE doc = ?`).get(doc) as
      | { rid: number }
      | undefined;
    if (row === undefined) return false;
    if (t.text !== null && t.raw !== null) {
      this.w(`DELETE FROM ${t.text} WHERE rowid = ?`).run(row.rid);
      this.w(`DELETE FROM ${t.raw} WHERE rowid = ?`).run(row.rid);
    }
    for (const table of [t.num, t.tag, t.geo]) {
      this.w(`DELETE FROM ${table} WHERE rid = ?`).run(row.rid);
    }
    this.w(`DELETE FROM ${t.docs} WHERE rid = ?`).run(row.rid);
    return true;
  }

  del(name: string, doc: string): boolean {
    return this.db.internal(() => {
      const { id, def } = this.need(name, "writer");
      return this.removeDoc(tablesOf(id, def), doc);
    });
  }

  /** The indexes that follow the instance's hashes (ON HASH), as the writer sees them. */
  hashIndexes(): { name: string; prefixes: string[] }[] {
    return this.db.internal(() =>
      (this.w(`SELECT def FROM ${INDEXES} ORDER BY id`).all() as { def: string }[])
        .map((r) => JSON.parse(r.def) as IndexDef)
        .filter((d) => d.onHash)
        .map((d) => ({ name: d.name, prefixes: d.prefixes })),
    );
  }

  /** Removes every document of an index (before it is filled again from the hashes). */
  clearDocs(name: string): void {
    this.db.internal(() => {
      const { id, def } = this.need(name, "writer");
      const t = tablesOf(id, def);
      for (const table of [t.text, t.raw, t.num, t.tag, t.geo, t.docs]) {
        if (table !== null) this.w(`DELETE FROM ${table}`).run();
      }
    });
  }

  /** Hashes left out of an index because a value did not fit (since this process started). */
  private readonly hashFailures = new Map<string, number>();
  noteHashFailure(name: string): void {
    this.hashFailures.set(name, (this.hashFailures.get(name) ?? 0) + 1);
  }
  hashFailuresOf(name: string): number {
    return this.hashFailures.get(name) ?? 0;
  }

  definition(name: string, on: "writer" | "reader" = "reader"): IndexDef {
    return this.need(name, on).def;
  }

  /**
   * FT.ALTER … SCHEMA ADD: the new fields join the definition and the documents already there
   * are indexed for them (a new TEXT field rebuilds the FTS5 table, which cannot gain columns).
   */
  alter(name: string, added: FieldDef[]): void {
    this.db.internal(() => {
      const { id, def } = this.need(name, "writer");
      for (const f of added) {
        if (def.fields.some((x) => x.name === f.name || x.alias === f.alias)) {
          throw err(`field '${f.alias}' already exists in index '${name}'`);
        }
      }
      const before = tablesOf(id, def);
      const next: IndexDef = { ...def, fields: [...def.fields, ...added] };
      this.w(`UPDATE ${INDEXES} SET def = ? WHERE id = ?`).run(JSON.stringify(next), id);
      const docs = this.w(`SELECT rid, fields FROM ${before.docs} ORDER BY rid`).all() as {
        rid: number;
        fields: string;
      }[];
      const t = tablesOf(id, next);
      if (added.some((f) => f.type === "TEXT")) {
        if (before.text !== null) {
          for (const table of [
            before.vocab,
            before.instances,
            before.text,
            before.rawVocab,
            before.rawInstances,
            before.raw,
          ]) {
            this.db.ownStatement(`DROP TABLE IF EXISTS ${table}`).run();
          }
        }
        this.createText(t, next);
      }
      for (const d of docs) {
        const values = new Map(ownEntries(JSON.parse(d.fields)));
        if (added.some((f) => f.type === "TEXT")) this.indexText(t, next, d.rid, values);
        this.indexOthers(t, added, d.rid, values, true);
      }
    });
  }

  /** Proposals for words the index does not hold: its terms within `distance`, commonest first. */
  spellcheck(
    name: string,
    words: string[],
    distance: number,
  ): { term: string; suggestions: { term: string; score: number }[] }[] {
    return this.db.internal(() => {
      const { id, def } = this.need(name, "reader");
      const t = tablesOf(id, def);
      if (t.raw === null || t.rawVocab === null) return [];
      const total = (
        this.db.readStatement(`SELECT count(*) AS n FROM ${t.docs}`).get() as { n: number }
      ).n;
      const near = this.db.readStatement(
        `SELECT term, doc FROM ${t.rawVocab} WHERE length(term) BETWEEN ? AND ?`,
      );
      const out: { term: string; suggestions: { term: string; score: number }[] }[] = [];
      for (const w of words.slice(0, MAX_FUZZY)) {
        const len = [...w].length;
        const vocab = near.all(len - distance, len + distance) as { term: string; doc: number }[];
        const known = this.db
          .readStatement(`SELECT count(*) AS n FROM ${t.raw} WHERE ${t.raw} MATCH ?`)
          .get(`"${w.replace(/"/g, '""')}"`) as { n: number };
        if (known.n > 0) continue;
        const suggestions = vocab
          .filter((v) => editDistance(w, v.term, distance) <= distance)
          .sort((a, b) => b.doc - a.doc || (a.term < b.term ? -1 : 1))
          .slice(0, 5)
          .map((v) => ({ term: v.term, score: total === 0 ? 0 : v.doc / total }));
        out.push({ term: w, suggestions });
      }
      return out;
    });
  }

  /** Matching documents, ranked (score, then id), and how many match in all. */
  search(name: string, query: Node, o: SearchOptions): { total: number; hits: Hit[] } {
    return this.db.internal(() => {
      const { id, def } = this.need(name, "reader");
      const t = tablesOf(id, def);
      // Fuzzy terms: the vocabulary's terms of a fitting length only, at most MAX_FUZZY per
      // query (each is an edit-distance scan in JavaScript).
      let fuzzy = 0;
      const vocab = (word: string, distance: number): string[] => {
        if (t.rawVocab === null) return [];
        if (++fuzzy > MAX_FUZZY) throw err(`a query may hold at most ${MAX_FUZZY} fuzzy terms`);
        const len = [...word].length;
        const rows = this.db
          .readStatement(`SELECT term FROM ${t.rawVocab} WHERE length(term) BETWEEN ? AND ?`)
          .all(len - distance, len + distance) as { term: string }[];
        return rows
          .map((r) => r.term)
          .filter((term) => editDistance(word, term, distance) <= distance)
          .slice(0, 256);
      };
      const c: Compiled = compile(def, t, query, vocab, this.dicts.synonymsOf(name));
      let where = c.where;
      const params = [...c.params];
      if (o.inKeys !== null) {
        // One JSON parameter, however many keys (SQLite allows 32,766 variables).
        where = `(${where}) AND d.doc IN (SELECT value FROM json_each(?))`;
        params.push(JSON.stringify(o.inKeys));
      }
      // A query that is one text expression counts and filters by its MATCH alone.
      const pure = c.pure && o.inKeys === null;
      const prefix =
        c.prefixOnly !== null && o.inKeys === null && t.raw !== null ? c.prefixOnly : null;
      const total =
        prefix !== null
          ? (
              this.db
                .readStatement(`SELECT count(*) AS n FROM ${t.raw} WHERE ${t.raw} MATCH ?`)
                .get(prefix) as { n: number }
            ).n
          : pure
            ? (
                this.db
                  .readStatement(`SELECT count(*) AS n FROM ${t.text} WHERE ${t.text} MATCH ?`)
                  .get(c.scoring) as { n: number }
              ).n
            : (
                this.db
                  .readStatement(`SELECT count(*) AS n FROM ${t.docs} d WHERE ${where}`)
                  .get(...params) as { n: number }
              ).n;
      if (o.maxTotal !== undefined && total > o.maxTotal) {
        throw err(`the query matches ${total} documents, more than ${o.maxTotal}: narrow it`);
      }
      const textFields = def.fields.filter((f) => f.type === "TEXT");
      const weights = textFields.map((f) => f.weight);
      // The scores come from one run of the scoring MATCH (a materialized CTE: a join that
      // SQLite may push into the FTS5 table would run the MATCH once per document).
      const cte =
        c.scoring === null
          ? ""
          : `WITH sc AS MATERIALIZED (SELECT rowid AS rid, bm25(${t.text}, ${weights.join(", ")}) AS s FROM ${t.text} WHERE ${t.text} MATCH ?) `;
      const scoreJoin = c.scoring === null ? "" : "LEFT JOIN sc ON sc.rid = d.rid";
      const score = c.scoring === null ? "d.score" : "coalesce(-sc.s, 0) * d.score";
      // Ties go in the order documents were added (RediSearch's too).
      let order = "score DESC, d.rid";
      if (o.sortBy !== null) {
        const key = `json_extract(d.fields, '$."${o.sortBy.field.name.replace(/"/g, "")}"')`;
        const expr = o.sortBy.field.type === "NUMERIC" ? `CAST(${key} AS REAL)` : `lower(${key})`;
        // Documents without the field come last either way, as RediSearch sorts them.
        order = `(${key} IS NULL), ${expr} ${o.sortBy.desc ? "DESC" : "ASC"}, d.rid`;
      }
      // When every document's own score is 1, the rank is BM25's alone: FTS5 finds the page's
      // documents itself (ORDER BY … LIMIT inside the MATCH), without ranking every match.
      const uniform =
        (pure || prefix !== null) &&
        o.sortBy === null &&
        this.db.readStatement(`SELECT 1 FROM ${t.docs} WHERE score <> 1 LIMIT 1`).get() ===
          undefined;
      let sql: string;
      let all: (string | number)[];
      if (uniform && prefix !== null) {
        // One prefix, every score 1: ranked by BM25 over the unstemmed words it starts.
        sql =
          `SELECT d.rid, d.doc, d.fields, -x.s AS score FROM (SELECT rowid AS rid, bm25(${t.raw}, ${weights.join(", ")}) AS s ` +
          `FROM ${t.raw} WHERE ${t.raw} MATCH ? ORDER BY s, rowid LIMIT ? OFFSET ?) x JOIN ${t.docs} d ON d.rid = x.rid ORDER BY x.s, d.rid`;
        all = [prefix];
      } else if (uniform) {
        sql =
          `SELECT d.rid, d.doc, d.fields, -x.s AS score FROM (SELECT rowid AS rid, bm25(${t.text}, ${weights.join(", ")}) AS s ` +
          `FROM ${t.text} WHERE ${t.text} MATCH ? ORDER BY s, rowid LIMIT ? OFFSET ?) x JOIN ${t.docs} d ON d.rid = x.rid ORDER BY x.s, d.rid`;
        all = [c.scoring as string];
      } else if (pure) {
        sql = `${cte}SELECT d.rid, d.doc, d.fields, -sc.s * d.score AS score FROM sc JOIN ${t.docs} d ON d.rid = sc.rid ORDER BY ${order} LIMIT ? OFFSET ?`;
        all = [c.scoring as string];
      } else {
        sql =
          `${cte}SELECT d.rid, d.doc, d.fields, ${score} AS score FROM ${t.docs} d ${scoreJoin} ` +
          `WHERE ${where} ORDER BY ${order} LIMIT ? OFFSET ?`;
        all = c.scoring === null ? params : [c.scoring, ...params];
      }
      const rows = this.db.readStatement(sql).all(...all, o.limit, o.offset) as {
        rid: number;
        doc: string;
        fields: string;
        score: number;
      }[];
      const decorated = this.decorations(
        t,
        textFields,
        c.scoring,
        o.decorate,
        rows.map((r) => r.rid),
      );
      return {
        total,
        hits: rows.map((r) => {
          const fields: Fields = new Map(ownEntries(JSON.parse(r.fields)));
          for (const [field, v] of decorated.get(r.rid) ?? []) {
            if (fields.has(field)) fields.set(field, v);
          }
          return { doc: r.doc, score: r.score, fields };
        }),
      };
    });
  }

  /**
   * HIGHLIGHT / SUMMARIZE for the page's documents only: FTS5's highlight() and snippet() over
   * the scoring match (they mark its terms), by row id; nothing without positive text.
   */
  private decorations(
    t: Tables,
    textFields: FieldDef[],
    scoring: string | null,
    wanted: Decoration[],
    rids: number[],
  ): Map<number, [string, string][]> {
    const out = new Map<number, [string, string][]>();
    if (scoring === null || t.text === null || wanted.length === 0 || rids.length === 0) return out;
    const columns: string[] = [];
    const params: (string | number)[] = [];
    const fields: string[] = [];
    for (const d of wanted) {
      const k = textFields.findIndex((f) => f.name === d.field || f.alias === d.field);
      if (k < 0 || textFields[k].noindex) continue;
      const open = d.highlight?.open ?? "";
      const close = d.highlight?.close ?? "";
      if (d.summarize !== null) {
        columns.push(`snippet(${t.text}, ${k}, ?, ?, ?, ?)`);
        params.push(open, close, d.summarize.separator, d.summarize.len);
      } else {
        columns.push(`highlight(${t.text}, ${k}, ?, ?)`);
        params.push(open, close);
      }
      fields.push(textFields[k].name);
    }
    if (columns.length === 0) return out;
    const sql =
      `SELECT rowid AS rid, ${columns.map((x, i) => `${x} AS x${i}`).join(", ")} FROM ${t.text} ` +
      `WHERE ${t.text} MATCH ? AND rowid IN (SELECT value FROM json_each(?))`;
    const rows = this.db.readStatement(sql).all(...params, scoring, JSON.stringify(rids)) as Record<
      string,
      string | number
    >[];
    for (const r of rows) {
      const pairs: [string, string][] = [];
      fields.forEach((f, i) => {
        const v = r[`x${i}`];
        if (typeof v === "string") pairs.push([f, v]);
      });
      out.set(Number(r.rid), pairs);
    }
    return out;
  }

  /** What FT.INFO reports: the definition and counts. */
  info(name: string): { def: IndexDef; docs: number; terms: number; maxDocId: number } {
    return this.db.internal(() => {
      const { id, def } = this.need(name, "reader");
      const t = tablesOf(id, def);
      const d = this.db
        .readStatement(`SELECT count(*) AS n, coalesce(max(rid), 0) AS m FROM ${t.docs}`)
        .get() as { n: number; m: number };
      const terms =
        t.vocab === null
          ? 0
          : (this.db.readStatement(`SELECT count(*) AS n FROM ${t.vocab}`).get() as { n: number })
              .n;
      return { def, docs: d.n, terms, maxDocId: d.m };
    });
  }
}
