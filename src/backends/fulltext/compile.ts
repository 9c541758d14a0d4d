/**
 * A parsed query (./query.ts) as SQL over one index's tables (./store.ts): a condition on the
 * document's row id, and a scoring match. Text that can be said in one FTS5 expression (terms,
 * phrases, prefixes, fuzzy terms expanded from the index's vocabulary, their ANDs, ORs and
 * negations, scoped to fields as FTS5 column filters) goes to FTS5 in one MATCH, which is what
 * it is fast at; numeric ranges, tags and geo circles are conditions on their own tables, and
 * everything combines with AND, OR and NOT in SQL. The score is FTS5's BM25 (with the fields'
 * weights) over the positive text of the query, times the document's own score.
 */
import { HeroError } from "../../errors.ts";
import type { Node } from "./query.ts";
import { fieldOf, type IndexDef } from "./schema.ts";

export interface Tables {
  docs: string;
  text: string | null;
  /** fts5vocab "row" (terms) and "instance" (term, doc, column) over `text`. */
  vocab: string | null;
  instances: string | null;
  /**
   * The same words unstemmed (a contentless FTS5 table), and its vocabularies: prefixes and
   * fuzzy terms compare with the words as written ("runn*" finds "running", which the stemmed
   * table holds as "run").
   */
  raw: string | null;
  rawVocab: string | null;
  rawInstances: string | null;
  num: string;
  tag: string;
  geo: string;
}

export interface Compiled {
  /** A condition on `d.rid` (the document's row id). */
  where: string;
  params: (string | number)[];
  /** An FTS5 expression for scoring (the query's positive text), or null. */
  scoring: string | null;
  /** The whole query is that one expression: its matches are exactly the scored documents. */
  pure: boolean;
  /** The whole query is one prefix term: this expression on the unstemmed table finds it all. */
  prefixOnly: string | null;
}

/** Terms of the index's vocabulary within `distance` edits of a word (for %fuzzy%). */
export type Vocabulary = (word: string, distance: number) => string[];

/** The terms a query term matches through its synonym groups (itself included). */
export type Synonyms = (word: string) => string[];

const err = (m: string) => new HeroError("ERR", m);
const quote = (word: string) => `"${word.replace(/"/g, '""')}"`;
const EARTH_METERS = 6_371_008.8;

export function compile(
  def: IndexDef,
  tables: Tables,
  node: Node,
  vocab: Vocabulary,
  synonyms: Synonyms = (w) => [w],
): Compiled {
  const params: (string | number)[] = [];
  const textColumn = (alias: string | null): string | null => {
    if (alias === null) return null;
    const f = fieldOf(def, alias);
    if (f.type !== "TEXT") {
      throw err(`field '${alias}' is ${f.type}, not TEXT: use the ${syntaxOf(f.type)} syntax`);
    }
    if (f.noindex) throw err(`field '${alias}' is NOINDEX: it cannot be searched`);
    return `c${def.fields.filter((x) => x.type === "TEXT").indexOf(f)}`;
  };

  /** The FTS5 expression of a text-only subtree, or null when the subtree is not text only. */
  const text = (n: Node): string | null => {
    switch (n.t) {
      case "term": {
        if (n.field !== null && fieldOf(def, n.field).type === "TAG") return null;
        // Prefixes and fuzzy terms go to the unstemmed words (see `raw`), not this MATCH.
        if (n.fuzzy > 0 || n.prefix) return null;
        const col = textColumn(n.field);
        const same = synonyms(n.word);
        const expr = same.length > 1 ? `(${same.map(quote).join(" OR ")})` : quote(n.word);
        return col === null ? expr : `{${col}} : ${expr}`;
      }
      case "phrase": {
        const col = textColumn(n.field);
        const expr = quote(n.words.join(" "));
        return col === null ? expr : `{${col}} : ${expr}`;
      }
      case "and": {
        const pos: string[] = [];
        const neg: string[] = [];
        for (const item of n.items) {
          if (item.t === "optional") continue;
          if (item.t === "not") {
            const e = text(item.item);
            if (e === null) return null;
            neg.push(e);
          } else {
            const e = text(item);
            if (e === null) return null;
            pos.push(e);
          }
        }
        if (pos.length === 0) return null; // FTS5's NOT needs something to subtract from
        const expr = pos.map((e) => `(${e})`).join(" AND ");
        // One NOT of an OR, not a NOT per negation: FTS5's parser nests each NOT.
        return neg.length === 0 ? expr : `(${expr}) NOT (${neg.map((e) => `(${e})`).join(" OR ")})`;
      }
      case "or": {
        const parts = n.items.map(text);
        if (parts.some((p) => p === null)) return null;
        return parts.map((e) => `(${e})`).join(" OR ");
      }
      default:
        return null;
    }
  };

  const match = (expr: string): string => {
    if (tables.text === null) throw err(`index '${def.name}' has no TEXT field to search`);
    params.push(expr);
    return `d.rid IN (SELECT rowid FROM ${tables.text} WHERE ${tables.text} MATCH ?)`;
  };

  const cond = (n: Node): string => {
    const t = text(n);
    if (t !== null) return match(t);
    switch (n.t) {
      case "all":
      case "optional":
        return "1";
      case "none":
        return "0";
      case "term": {
        if (n.field !== null && fieldOf(def, n.field).type === "TAG") {
          // A term on a TAG field (@tag:word, @tag:pre*) matches that tag, or tags it starts.
          const f = fieldOf(def, n.field);
          const tag = f.caseSensitive ? n.raw : n.word;
          return cond(
            n.prefix
              ? { t: "tag", field: n.field, tags: [], prefixes: [tag] }
              : { t: "tag", field: n.field, tags: [tag] },
          );
        }
        if (n.prefix) {
          const col = textColumn(n.field);
          if (tables.raw === null) throw err(`index '${def.name}' has no TEXT field to search`);
          const expr = `${quote(n.word)}*`;
          params.push(col === null ? expr : `{${col}} : ${expr}`);
          return `d.rid IN (SELECT rowid FROM ${tables.raw} WHERE ${tables.raw} MATCH ?)`;
        }
        if (n.fuzzy > 0) {
          // The documents holding any of the words within the distance (the word itself too),
          // straight from the unstemmed vocabulary.
          const col = textColumn(n.field);
          if (tables.rawInstances === null) {
            throw err(`index '${def.name}' has no TEXT field to search`);
          }
          const near = [...new Set([n.word, ...vocab(n.word, n.fuzzy)])];
          params.push(...near);
          let sql = `SELECT doc FROM ${tables.rawInstances} WHERE term IN (${near.map(() => "?").join(", ")})`;
          if (col !== null) {
            sql += " AND col = ?";
            params.push(col);
          }
          return `d.rid IN (${sql})`;
        }
        return "0"; // unreachable: any other term is text
      }
      case "phrase":
        return "0"; // unreachable: a phrase is always text
      case "and":
        return `(${n.items.map(cond).join(" AND ")})`;
      case "or":
        return `(${n.items.map(cond).join(" OR ")})`;
      case "not":
        return `NOT (${cond(n.item)})`;
      case "num": {
        const f = fieldOf(def, n.field);
        if (f.type !== "NUMERIC") throw err(`field '${n.field}' is ${f.type}, not NUMERIC`);
        const parts = [`f = ?`];
        params.push(f.name);
        if (n.lo !== -Infinity) {
          parts.push(`v ${n.loEx ? ">" : ">="} ?`);
          params.push(n.lo);
        }
        if (n.hi !== Infinity) {
          parts.push(`v ${n.hiEx ? "<" : "<="} ?`);
          params.push(n.hi);
        }
        return `d.rid IN (SELECT rid FROM ${tables.num} WHERE ${parts.join(" AND ")})`;
      }
      case "tag": {
        const f = fieldOf(def, n.field);
        if (f.type !== "TAG") throw err(`field '${n.field}' is ${f.type}, not TAG`);
        const fold = (x: string) => (f.caseSensitive ? x : x.toLowerCase());
        const parts: string[] = [];
        params.push(f.name);
        if (n.tags.length > 0) {
          parts.push(`tag IN (${n.tags.map(() => "?").join(", ")})`);
          params.push(...n.tags.map(fold));
        }
        for (const p of n.prefixes ?? []) {
          // SQLite counts characters, JavaScript UTF-16 units.
          parts.push("substr(tag, 1, ?) = ?");
          params.push([...p].length, fold(p));
        }
        return `d.rid IN (SELECT rid FROM ${tables.tag} WHERE f = ? AND (${parts.join(" OR ")}))`;
      }
      case "geo": {
        const f = fieldOf(def, n.field);
        if (f.type !== "GEO") throw err(`field '${n.field}' is ${f.type}, not GEO`);
        // A box first (uses the index), then the great-circle distance.
        const dLat = (n.meters / EARTH_METERS) * (180 / Math.PI);
        const cos = Math.max(Math.cos((n.lat * Math.PI) / 180), 1e-9);
        const dLon = dLat / cos;
        // The box's longitudes, wrapped at ±180 (near a pole, or a circle that big: all of them).
        let lon = "1";
        let bounds: number[] = [];
        const lo = n.lon - dLon;
        const hi = n.lon + dLon;
        if (dLon >= 180 || n.lat + dLat >= 90 || n.lat - dLat <= -90) lon = "1";
        else if (lo < -180) {
          lon = "(lon >= ? OR lon <= ?)";
          bounds = [lo + 360, hi];
        } else if (hi > 180) {
          lon = "(lon >= ? OR lon <= ?)";
          bounds = [lo, hi - 360];
        } else {
          lon = "lon BETWEEN ? AND ?";
          bounds = [lo, hi];
        }
        params.push(f.name, n.lat - dLat, n.lat + dLat, ...bounds);
        params.push(n.lat, n.lat, n.lon, n.meters);
        return (
          `d.rid IN (SELECT rid FROM ${tables.geo} WHERE f = ? AND lat BETWEEN ? AND ? AND ${lon} ` +
          `AND ${EARTH_METERS} * 2 * asin(min(1, sqrt(pow(sin(radians(lat - ?) / 2), 2) + ` +
          `cos(radians(lat)) * cos(radians(?)) * pow(sin(radians(lon - ?) / 2), 2)))) <= ?)`
        );
      }
    }
  };

  const where = cond(node);
  // Scoring: the positive text of the query (under no NOT), in one OR.
  const positive: string[] = [];
  const collect = (n: Node): void => {
    if (n.t === "not") return;
    if (n.t === "and" || n.t === "or") {
      for (const i of n.items) collect(i);
      return;
    }
    if (n.t === "optional") {
      collect(n.item);
      return;
    }
    const t = text(n);
    if (t !== null) positive.push(t);
  };
  collect(node);
  const scoring =
    tables.text === null || positive.length === 0
      ? null
      : positive.map((e) => `(${e})`).join(" OR ");
  const whole = text(node);
  // A query FTS5 can say whole is scored by that same expression (its matches are exactly the
  // documents found, and BM25 weighs the same terms): one MATCH does everything.
  if (whole !== null && tables.text !== null) {
    return { where, params, scoring: whole, pure: true, prefixOnly: null };
  }
  const prefixOnly =
    node.t === "term" && node.prefix && tables.raw !== null && params.length === 1
      ? String(params[0])
      : null;
  return { where, params, scoring, pure: false, prefixOnly };
}

function syntaxOf(type: string): string {
  if (type === "NUMERIC") return "@field:[min max]";
  if (type === "TAG") return "@field:{tag | tag}";
  return "@field:[lon lat radius unit]";
}

/** Levenshtein distance, stopping early past `max`. */
export function editDistance(a: string, b: string, max: number): number {
  if (Math.abs(a.length - b.length) > max) return max + 1;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    let best = i;
    for (let j = 1; j <= b.length; j++) {
      const v = Math.min(
        prev[j] + 1,
        cur[j - 1] + 1,
        prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
      cur.push(v);
      if (v < best) best = v;
    }
    if (best > max) return max + 1;
    prev = cur;
  }
  return prev[b.length];
}
