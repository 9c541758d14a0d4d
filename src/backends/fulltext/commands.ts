/**
 * The full-text command family: HeroDB's Tantivy commands (FT.CREATE, FT.ADD, FT.SEARCH, FT.DEL,
 * FT.INFO, FT.DROP) in RediSearch's grammar and reply shapes, plus RediSearch's FT.DROPINDEX and
 * FT._LIST. Writes (FT.CREATE, FT.ADD, FT.DEL, FT.DROP, FT.DROPINDEX) become Ops through the
 * instance's Raft group and run in apply on every replica; the others read local state. Each
 * entry's `exec` runs against the instance's FtStore (./store.ts); the engine calls them by name.
 * FT.SEARCH's arguments and reply shapes are ./search-args.ts's.
 */
import type { CommandSpec } from "../../engine/command-spec.ts";
import { formatDouble, MapReply, OK, type Reply } from "../../engine/reply.ts";
import { HeroError } from "../../errors.ts";
import { MAX_ROWS, parseAggregate, runAggregate } from "./aggregate.ts";
import { dictionaryCommands } from "./dictionary-commands.ts";
import { explain, parseQuery } from "./query.ts";
import { parseCreate } from "./schema.ts";
import { parseSearch, searchReply } from "./search-args.ts";
import type { FtStore } from "./store.ts";

export const FULLTEXT_FAMILY = "fulltext";
export type FullTextCommand = CommandSpec<FtStore>;

const scope = [FULLTEXT_FAMILY] as const;
const text = (b: Buffer | undefined): string => (b === undefined ? "" : b.toString("utf8"));
const err = (m: string) => new HeroError("ERR", m);

/**
 * FT.ADD's arguments after the index: doc, score, then field/value pairs (HeroDB's form), or
 * RediSearch's options followed by FIELDS and the pairs. Words before the pairs are read as
 * options only when a FIELDS keyword follows them, so a field may be called "language".
 */
function parseAdd(args: string[]): {
  doc: string;
  score: number;
  partial: boolean;
  fields: [string, string][];
} {
  const [doc, scoreText] = args;
  if (doc === undefined || doc === "") throw err("FT.ADD: a document id expected");
  const score = scoreText === undefined || scoreText.trim() === "" ? Number.NaN : Number(scoreText);
  if (!(score >= 0 && score <= 1)) throw err("FT.ADD: the score must be a number from 0 to 1");
  let i = 2;
  let partial = false;
  const fieldsAt = args.findIndex((a, k) => k >= 2 && a.toUpperCase() === "FIELDS");
  if (fieldsAt >= 0) {
    while (i < fieldsAt) {
      const w = args[i].toUpperCase();
      if (w === "PARTIAL") partial = true;
      if (w === "REPLACE" || w === "PARTIAL" || w === "NOSAVE") i++;
      else if (w === "LANGUAGE" || w === "PAYLOAD") i += 2;
      else throw err(`FT.ADD: unknown option '${args[i].slice(0, 32)}' before FIELDS`);
    }
    i = fieldsAt + 1;
  }
  const pairs = args.slice(i);
  if (pairs.length === 0 || pairs.length % 2 !== 0) {
    throw err("FT.ADD: field and value pairs expected");
  }
  const fields: [string, string][] = [];
  for (let k = 0; k < pairs.length; k += 2) fields.push([pairs[k], pairs[k + 1]]);
  return { doc, score, partial, fields };
}

function infoReply(store: FtStore, name: string): Reply {
  const info = store.info(name);
  const def = info.def;
  const attributes = def.fields.map((f) => {
    const a: Reply[] = ["identifier", f.name, "attribute", f.alias, "type", f.type];
    if (f.type === "TEXT") a.push("WEIGHT", formatDouble(f.weight));
    if (f.type === "TAG") a.push("SEPARATOR", f.separator);
    if (f.sortable) a.push("SORTABLE");
    if (f.noindex) a.push("NOINDEX");
    if (f.nostem) a.push("NOSTEM");
    if (f.caseSensitive) a.push("CASESENSITIVE");
    return a;
  });
  return new MapReply([
    "index_name",
    def.name,
    "index_options",
    [],
    "index_definition",
    new MapReply(["key_type", "HASH", "prefixes", def.prefixes, "default_score", "1"]),
    "attributes",
    attributes,
    "num_docs",
    info.docs,
    "max_doc_id",
    info.maxDocId,
    "num_terms",
    info.terms,
    "indexing",
    0,
    "percent_indexed",
    "1",
    "hash_indexing_failures",
    store.hashFailuresOf(name),
  ]);
}

export const fullTextCommands: readonly FullTextCommand[] = [
  {
    name: "FT.CREATE",
    group: "fulltext",
    summary: "Creates a full-text index with a schema of TEXT, TAG, NUMERIC and GEO fields.",
    syntax:
      "index [ON HASH] [PREFIX count prefix ...] [STOPWORDS count word ...] SCHEMA field [AS alias] TEXT|TAG|NUMERIC|GEO [options] ...",
    arity: -4,
    flags: ["write"],
    scope,
    exec: (store, args) => {
      const strings = args.map((a) => text(a));
      store.create(parseCreate(strings[0], strings.slice(1)));
      return OK;
    },
  },
  {
    name: "FT.ADD",
    group: "fulltext",
    summary: "Adds a document (or replaces the one with that id) to an index.",
    syntax: "index doc_id score [[REPLACE [PARTIAL]] FIELDS] field value [field value ...]",
    arity: -6,
    flags: ["write"],
    scope,
    exec: (store, args) => {
      const strings = args.map((a) => text(a));
      const a = parseAdd(strings.slice(1));
      store.add(strings[0], a.doc, a.score, a.fields, a.partial);
      return OK;
    },
  },
  {
    name: "FT.DEL",
    group: "fulltext",
    summary: "Deletes a document from an index; replies 1, or 0 when there was none.",
    syntax: "index doc_id [DD]",
    arity: -3,
    flags: ["write"],
    scope,
    exec: (store, args) => (store.del(text(args[0]), text(args[1])) ? 1 : 0),
  },
  {
    name: "FT.SEARCH",
    group: "fulltext",
    summary:
      "Searches an index: terms, phrases, | ! - ~ prefix* %fuzzy%, @field: scopes, numeric ranges, tags, geo.",
    syntax:
      "index query [NOCONTENT] [WITHSCORES] [INKEYS count key ...] [RETURN count field [AS name] ...] [SUMMARIZE [FIELDS count field ...] [LEN words] [SEPARATOR s]] [HIGHLIGHT [FIELDS count field ...] [TAGS open close]] [SORTBY field [ASC|DESC]] [LIMIT offset count] [PARAMS count name value ...] [DIALECT n]",
    arity: -3,
    flags: ["readonly"],
    scope,
    exec: (store, args) => {
      const name = text(args[0]);
      const def = store.definition(name);
      const o = parseSearch(
        def,
        args.slice(1).map((a) => text(a)),
      );
      const stopwords = def.stopwords === null ? undefined : new Set(def.stopwords);
      const query = parseQuery(o.query, { params: o.params, stopwords });
      const r = store.search(name, query, o);
      return searchReply(def, r.total, r.hits, o);
    },
  },
  {
    name: "FT.AGGREGATE",
    group: "fulltext",
    summary:
      "Runs the documents a query matches through LOAD, GROUPBY/REDUCE, SORTBY, APPLY, FILTER and LIMIT steps.",
    syntax:
      "index query [LOAD count field ...] [GROUPBY count @field ... [REDUCE fn nargs arg ... [AS name]] ...] [SORTBY count @field [ASC|DESC] ... [MAX n]] [APPLY expr AS name] [FILTER expr] [LIMIT offset count]",
    arity: -3,
    flags: ["readonly"],
    scope,
    exec: (store, args) => {
      const name = text(args[0]);
      const def = store.definition(name);
      const agg = parseAggregate(args.slice(2).map((a) => text(a)));
      const stopwords = def.stopwords === null ? undefined : new Set(def.stopwords);
      const query = parseQuery(text(args[1]), { stopwords });
      const r = store.search(name, query, {
        offset: 0,
        limit: MAX_ROWS,
        maxTotal: MAX_ROWS,
        decorate: [],
        sortBy: null,
        inKeys: null,
      });
      return runAggregate(
        agg,
        r.hits.map((h) => h.fields),
      );
    },
  },
  {
    name: "FT.INFO",
    group: "fulltext",
    summary: "Describes an index: its definition, fields and counts.",
    syntax: "index",
    arity: 2,
    flags: ["readonly"],
    scope,
    exec: (store, args) => infoReply(store, text(args[0])),
  },
  {
    name: "FT.DROP",
    group: "fulltext",
    summary: "Deletes an index and its documents.",
    syntax: "index",
    arity: 2,
    flags: ["write"],
    scope,
    exec: (store, args) => {
      if (!store.drop(text(args[0]))) throw err(`${text(args[0])}: no such index`);
      return OK;
    },
  },
  {
    name: "FT.DROPINDEX",
    group: "fulltext",
    summary:
      "Deletes an index (RediSearch's name); DD is accepted for FT.ADD indexes, whose documents live in the index.",
    syntax: "index [DD]",
    arity: -2,
    flags: ["write"],
    scope,
    exec: (store, args) => {
      if (args.length > 2 || (args.length === 2 && text(args[1]).toUpperCase() !== "DD")) {
        throw err("FT.DROPINDEX: only DD may follow the index name");
      }
      if (args.length === 2 && store.lookup(text(args[0]), "writer")?.def.onHash === true) {
        // DD would delete the hashes too, which this index does not own here.
        throw err("FT.DROPINDEX: DD is not available for ON HASH indexes: DEL the hashes yourself");
      }
      if (!store.drop(text(args[0]))) throw err("Unknown Index name");
      return OK;
    },
  },
  {
    name: "FT.ALTER",
    group: "fulltext",
    summary: "Adds fields to an index; the documents already there are indexed for them.",
    syntax:
      "index [SKIPINITIALSCAN] SCHEMA ADD field [AS alias] TEXT|TAG|NUMERIC|GEO [options] ...",
    arity: -6,
    flags: ["write"],
    scope,
    exec: (store, args) => {
      const [name, ...rest] = args.map((a) => text(a));
      const words = rest[0]?.toUpperCase() === "SKIPINITIALSCAN" ? rest.slice(1) : rest;
      if (words[0]?.toUpperCase() !== "SCHEMA" || words[1]?.toUpperCase() !== "ADD") {
        throw err("FT.ALTER: SCHEMA ADD expected");
      }
      store.alter(name, parseCreate(name, ["SCHEMA", ...words.slice(2)]).fields);
      return OK;
    },
  },
  {
    name: "FT.EXPLAIN",
    group: "fulltext",
    summary: "Shows how a query is understood, as a tree.",
    syntax: "index query [DIALECT n]",
    arity: -3,
    flags: ["readonly"],
    scope,
    exec: (store, args) => {
      const def = store.definition(text(args[0]));
      const stopwords = def.stopwords === null ? undefined : new Set(def.stopwords);
      return explain(parseQuery(text(args[1]), { stopwords }));
    },
  },
  ...dictionaryCommands(scope),
  {
    name: "FT._LIST",
    group: "fulltext",
    summary: "Lists the indexes.",
    syntax: "",
    arity: 1,
    flags: ["readonly"],
    scope,
    exec: (store) => store.names(),
  },
];

const byName = new Map(fullTextCommands.map((c) => [c.name, c]));

/** A full-text command's implementation as an Op names it. */
export function fullTextImplementation(cmd: string): FullTextCommand["exec"] {
  return byName.get(cmd)?.exec;
}
