/**
 * What RediSearch keeps beside an index's documents: auto-complete dictionaries (FT.SUGADD,
 * FT.SUGGET, FT.SUGDEL, FT.SUGLEN: strings with scores and payloads, found by prefix, or within
 * one edit of it with FUZZY) and synonym groups (FT.SYNUPDATE, FT.SYNDUMP: a query term
 * matches every term of its groups). Both live in the instance's SQLite file, written in apply
 * like documents, so every replica has the same ones.
 */
import { HeroError } from "../../errors.ts";
import type { SqlDb } from "../sql/sql-db.ts";
import { editDistance } from "./compile.ts";

const SUGS = "fti_suggestions";
const SYNS = "fti_synonyms";
const err = (m: string) => new HeroError("ERR", m);

export interface Suggestion {
  text: string;
  score: number;
  payload: string | null;
}

export class Dictionaries {
  private readonly db: SqlDb;

  constructor(db: SqlDb) {
    this.db = db;
    db.internal(() => {
      db.ownStatement(
        `CREATE TABLE IF NOT EXISTS ${SUGS} (dict TEXT NOT NULL, str TEXT NOT NULL, lower TEXT NOT NULL, score REAL NOT NULL, payload TEXT, PRIMARY KEY (dict, str))`,
      ).run();
      db.ownStatement(
        `CREATE TABLE IF NOT EXISTS ${SYNS} (idx TEXT NOT NULL, grp TEXT NOT NULL, term TEXT NOT NULL, PRIMARY KEY (idx, grp, term))`,
      ).run();
    });
  }

  /** FT.SUGADD: adds (or re-scores, or with INCR adds to the score of) a string; the size. */
  sugAdd(dict: string, text: string, score: number, incr: boolean, payload: string | null): number {
    if (!Number.isFinite(score)) throw err("FT.SUGADD: the score must be a number");
    if (text === "") throw err("FT.SUGADD: the string is empty");
    return this.db.internal(() => {
      const old = this.db
        .ownStatement(`SELECT score FROM ${SUGS} WHERE dict = ? AND str = ?`)
        .get(dict, text) as { score: number } | undefined;
      const next = incr && old !== undefined ? old.score + score : score;
      this.db
        .ownStatement(
          `INSERT INTO ${SUGS} (dict, str, lower, score, payload) VALUES (?, ?, ?, ?, ?) ON CONFLICT (dict, str) DO UPDATE SET score = excluded.score, payload = coalesce(excluded.payload, payload)`,
        )
        .run(dict, text, text.toLowerCase(), next, payload);
      return this.size(dict, "writer");
    });
  }

  sugDel(dict: string, text: string): boolean {
    return this.db.internal(
      () =>
        Number(
          this.db.ownStatement(`DELETE FROM ${SUGS} WHERE dict = ? AND str = ?`).run(dict, text)
            .changes,
        ) > 0,
    );
  }

  size(dict: string, on: "writer" | "reader" = "reader"): number {
    const sql = `SELECT count(*) AS n FROM ${SUGS} WHERE dict = ?`;
    return this.db.internal(
      () =>
        (
          (on === "writer" ? this.db.ownStatement(sql) : this.db.readStatement(sql)).get(dict) as {
            n: number;
          }
        ).n,
    );
  }

  /** FT.SUGGET: strings starting with `prefix` (or within one edit of it), best first. */
  sugGet(dict: string, prefix: string, fuzzy: boolean, max: number): Suggestion[] {
    const p = prefix.toLowerCase();
    return this.db.internal(() => {
      let rows: { str: string; lower: string; score: number; payload: string | null }[];
      if (fuzzy) {
        rows = this.db
          .readStatement(`SELECT str, lower, score, payload FROM ${SUGS} WHERE dict = ?`)
          .all(dict) as typeof rows;
        rows = rows.filter(
          (r) =>
            editDistance(p, r.lower.slice(0, p.length), 1) <= 1 ||
            editDistance(p, r.lower.slice(0, p.length + 1), 1) <= 1,
        );
      } else {
        rows = this.db
          .readStatement(
            `SELECT str, lower, score, payload FROM ${SUGS} WHERE dict = ? AND substr(lower, 1, ?) = ?`,
          )
          .all(dict, [...p].length, p) as typeof rows; // SQLite counts characters
      }
      rows.sort((a, b) => b.score - a.score || (a.str < b.str ? -1 : a.str > b.str ? 1 : 0));
      return rows.slice(0, max).map((r) => ({ text: r.str, score: r.score, payload: r.payload }));
    });
  }

  /** FT.SYNUPDATE: adds terms to a synonym group of an index. */
  synUpdate(index: string, group: string, terms: string[]): void {
    this.db.internal(() => {
      const ins = this.db.ownStatement(`INSERT OR IGNORE INTO ${SYNS} VALUES (?, ?, ?)`);
      for (const t of terms) ins.run(index, group, t.toLowerCase());
    });
  }

  /** FT.SYNDUMP: each term and the groups it is in. */
  synDump(index: string): [string, string[]][] {
    return this.db.internal(() => {
      const rows = this.db
        .readStatement(`SELECT term, grp FROM ${SYNS} WHERE idx = ? ORDER BY term, grp`)
        .all(index) as { term: string; grp: string }[];
      const out = new Map<string, string[]>();
      for (const r of rows) out.set(r.term, [...(out.get(r.term) ?? []), r.grp]);
      return [...out];
    });
  }

  /** The terms a query term also matches through its synonym groups (itself included). */
  synonymsOf(index: string): (word: string) => string[] {
    const groups = new Map<string, Set<string>>();
    for (const [term, grps] of this.synDump(index)) {
      for (const g of grps) {
        let set = groups.get(g);
        if (set === undefined) groups.set(g, (set = new Set()));
        set.add(term);
      }
    }
    const byTerm = new Map<string, Set<string>>();
    for (const set of groups.values()) {
      for (const t of set) {
        let all = byTerm.get(t);
        if (all === undefined) byTerm.set(t, (all = new Set()));
        for (const u of set) all.add(u);
      }
    }
    return (word) => [...(byTerm.get(word) ?? [word])].sort();
  }

  /** Removes an index's synonyms (when the index is dropped). */
  dropIndex(index: string): void {
    this.db.internal(() => this.db.ownStatement(`DELETE FROM ${SYNS} WHERE idx = ?`).run(index));
  }
}
