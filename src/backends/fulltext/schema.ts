/**
 * An index's definition, as FT.CREATE gives it: HeroDB's form (`FT.CREATE idx SCHEMA title TEXT
 * category TAG price NUMERIC location GEO`) and RediSearch's, whose options before SCHEMA
 * (ON HASH, PREFIX, LANGUAGE english, STOPWORDS) and per-field options (AS alias, WEIGHT, NOSTEM,
 * SORTABLE, NOINDEX, SEPARATOR, CASESENSITIVE) are read and kept. ON HASH (or PREFIX) makes the
 * index follow the instance's own hashes whose keys start with a prefix (all of them without
 * one): ./hash-index.ts keeps it current. The definition is stored as
 * JSON with the index and drives its tables (./store.ts) and queries (./compile.ts).
 */
import { HeroError } from "../../errors.ts";

export type FieldType = "TEXT" | "TAG" | "NUMERIC" | "GEO";

export interface FieldDef {
  /** The name documents use. */
  name: string;
  /** The name queries use (AS alias), the same as `name` without one. */
  alias: string;
  type: FieldType;
  weight: number;
  sortable: boolean;
  noindex: boolean;
  nostem: boolean;
  /** TAG: the separator of values (a comma by default). */
  separator: string;
  caseSensitive: boolean;
}

export interface IndexDef {
  name: string;
  /** ON HASH: the key prefixes whose hashes it indexes (empty: documents come from FT.ADD). */
  prefixes: string[];
  onHash: boolean;
  language: string;
  /** null: the default English list. */
  stopwords: string[] | null;
  fields: FieldDef[];
}

const err = (m: string) => new HeroError("ERR", m);
const MAX_FIELDS = 128;
const NAME = /^[\p{L}\p{N}_][\p{L}\p{N}_.:-]{0,127}$/u;

/** The definition FT.CREATE's arguments (after the index name) describe. */
export function parseCreate(name: string, args: string[]): IndexDef {
  if (!NAME.test(name)) {
    throw err(`invalid index name '${name.slice(0, 64)}': letters, digits, _ . : - (up to 128)`);
  }
  const def: IndexDef = {
    name,
    prefixes: [],
    onHash: false,
    language: "english",
    stopwords: null,
    fields: [],
  };
  let i = 0;
  const next = (what: string): string => {
    if (i >= args.length) throw err(`FT.CREATE: ${what} expected`);
    return args[i++];
  };
  const count = (what: string): number => {
    const n = Number(next(what));
    if (!Number.isInteger(n) || n < 0 || n > 1024) throw err(`FT.CREATE: bad ${what}`);
    return n;
  };
  while (i < args.length && args[i].toUpperCase() !== "SCHEMA") {
    const word = args[i++].toUpperCase();
    if (word === "ON") {
      const on = next("ON HASH").toUpperCase();
      if (on !== "HASH") throw err(`FT.CREATE: ON ${on} is not supported (ON HASH is)`);
      def.onHash = true;
    } else if (word === "PREFIX") {
      const n = count("PREFIX count");
      for (let k = 0; k < n; k++) def.prefixes.push(next("a prefix"));
      def.onHash = true;
    } else if (word === "FILTER") {
      throw err("FT.CREATE: FILTER is not available: choose the hashes with PREFIX");
    } else if (word === "LANGUAGE") {
      def.language = next("a language").toLowerCase();
      if (def.language !== "english") {
        throw err(`FT.CREATE: LANGUAGE ${def.language} is not supported (english is)`);
      }
    } else if (word === "STOPWORDS") {
      const n = count("STOPWORDS count");
      def.stopwords = [];
      for (let k = 0; k < n; k++) def.stopwords.push(next("a stop word").toLowerCase());
    } else {
      throw err(`FT.CREATE: unknown option '${word.slice(0, 32)}' before SCHEMA`);
    }
  }
  if (i >= args.length) throw err("FT.CREATE: SCHEMA expected");
  i++; // SCHEMA
  while (i < args.length) {
    const field: FieldDef = {
      name: next("a field name"),
      alias: "",
      type: "TEXT",
      weight: 1,
      sortable: false,
      noindex: false,
      nostem: false,
      separator: ",",
      caseSensitive: false,
    };
    if (!NAME.test(field.name)) throw err(`invalid field name '${field.name.slice(0, 64)}'`);
    field.alias = field.name;
    let word = next(`a type for field '${field.name}'`).toUpperCase();
    if (word === "AS") {
      field.alias = next("an alias");
      if (!NAME.test(field.alias)) throw err(`invalid alias '${field.alias.slice(0, 64)}'`);
      word = next(`a type for field '${field.name}'`).toUpperCase();
    }
    if (word !== "TEXT" && word !== "TAG" && word !== "NUMERIC" && word !== "GEO") {
      throw err(
        `field '${field.name}': unknown type '${word.slice(0, 32)}' (TEXT, TAG, NUMERIC, GEO)`,
      );
    }
    field.type = word;
    for (;;) {
      const opt = args[i]?.toUpperCase();
      if (opt === "WEIGHT" && field.type === "TEXT") {
        i++;
        field.weight = Number(next("a weight"));
        if (!(field.weight > 0 && field.weight <= 1000)) throw err("WEIGHT must be above 0");
      } else if (opt === "SEPARATOR" && field.type === "TAG") {
        i++;
        field.separator = next("a separator");
        if (field.separator.length !== 1) throw err("SEPARATOR must be one character");
      } else if (opt === "SORTABLE") {
        i++;
        field.sortable = true;
      } else if (opt === "NOINDEX") {
        i++;
        field.noindex = true;
      } else if (opt === "NOSTEM" && field.type === "TEXT") {
        i++;
        field.nostem = true;
      } else if (opt === "CASESENSITIVE" && field.type === "TAG") {
        i++;
        field.caseSensitive = true;
      } else break;
    }
    if (def.fields.some((f) => f.alias === field.alias || f.name === field.name)) {
      throw err(`field '${field.alias}' is defined twice`);
    }
    def.fields.push(field);
    if (def.fields.length > MAX_FIELDS) throw err(`an index has at most ${MAX_FIELDS} fields`);
  }
  if (def.fields.length === 0) throw err("FT.CREATE: SCHEMA needs at least one field");
  return def;
}

/** The field a query names (by alias), or a clear error. */
export function fieldOf(def: IndexDef, alias: string): FieldDef {
  const f = def.fields.find((x) => x.alias === alias);
  if (f === undefined) throw err(`unknown field '${alias.slice(0, 64)}' in index '${def.name}'`);
  return f;
}
