/**
 * FT.SEARCH's arguments after the query, and its reply in RediSearch's shapes: RESP2 `[total,
 * id, [field, value, …], …]` (WITHSCORES adds each score after its id, NOCONTENT leaves the
 * fields out); RESP3 a map with `attributes`, `format`, `results` (a map per document: `id`,
 * `extra_attributes`, `values`, and `score` with WITHSCORES), `total_results` and `warning`.
 * HIGHLIGHT wraps the query's terms in the fields' text in tags (`<b>` `</b>` by default);
 * SUMMARIZE cuts each field to a fragment of LEN words around them (FTS5 gives one fragment,
 * so FRAGS is read and ignored).
 */
import { ByProtocol, Double, formatDouble, MapReply, type Reply } from "../../engine/reply.ts";
import { HeroError } from "../../errors.ts";
import { fieldOf, type IndexDef } from "./schema.ts";
import type { Decoration, Hit, SearchOptions } from "./store.ts";

const err = (m: string) => new HeroError("ERR", m);
const MAX_LIMIT = 10_000;

function integer(v: string | undefined, what: string, max = Number.MAX_SAFE_INTEGER): number {
  const n = Number(v);
  if (v === undefined || !Number.isInteger(n) || n < 0 || n > max) throw err(`bad ${what}`);
  return n;
}

export interface SearchArgs extends SearchOptions {
  query: string;
  noContent: boolean;
  withScores: boolean;
  returns: { name: string; as: string }[] | null;
  params: Map<string, string>;
}

export function parseSearch(def: IndexDef, args: string[]): SearchArgs {
  const o: SearchArgs = {
    query: args[0] ?? "",
    decorate: [],
    offset: 0,
    limit: 10,
    sortBy: null,
    inKeys: null,
    noContent: false,
    withScores: false,
    returns: null,
    params: new Map(),
  };
  let i = 1;
  const next = (what: string) => {
    if (i >= args.length) throw err(`FT.SEARCH: ${what} expected`);
    return args[i++];
  };
  while (i < args.length) {
    const w = args[i++].toUpperCase();
    if (w === "NOCONTENT") o.noContent = true;
    else if (w === "WITHSCORES") o.withScores = true;
    else if (w === "VERBATIM" || w === "NOSTOPWORDS" || w === "WITHPAYLOADS") {
      // Accepted: the index stems and drops stop words as its definition says.
    } else if (w === "LIMIT") {
      o.offset = integer(next("LIMIT offset"), "LIMIT offset");
      o.limit = integer(next("LIMIT count"), "LIMIT count", MAX_LIMIT);
    } else if (w === "INKEYS") {
      const n = integer(next("INKEYS count"), "INKEYS count", 100_000);
      o.inKeys = [];
      for (let k = 0; k < n; k++) o.inKeys.push(next("a key"));
    } else if (w === "RETURN") {
      const n = integer(next("RETURN count"), "RETURN count", 1024);
      o.returns = [];
      const end = i + n;
      while (i < end) {
        const name = next("a field");
        let as = name;
        if (args[i]?.toUpperCase() === "AS" && i + 1 < end) {
          as = args[i + 1];
          i += 2;
        }
        o.returns.push({ name, as });
      }
    } else if (w === "SORTBY") {
      const field = fieldOf(def, next("a SORTBY field"));
      let desc = false;
      const dir = args[i]?.toUpperCase();
      if (dir === "ASC" || dir === "DESC") {
        desc = dir === "DESC";
        i++;
      }
      o.sortBy = { field, desc };
    } else if (w === "PARAMS") {
      const n = integer(next("PARAMS count"), "PARAMS count", 2048);
      if (n % 2 !== 0) throw err("FT.SEARCH: PARAMS takes name and value pairs");
      for (let k = 0; k < n; k += 2) o.params.set(next("a name"), next("a value"));
    } else if (w === "HIGHLIGHT" || w === "SUMMARIZE") {
      i = decoration(def, args, i, w, o.decorate);
    } else if (w === "DIALECT" || w === "TIMEOUT" || w === "LANGUAGE" || w === "SCORER") {
      next(`a ${w} value`);
    } else {
      throw err(`FT.SEARCH: unknown argument '${w.slice(0, 32)}'`);
    }
  }
  return o;
}

/** The document's fields to return: all of them, or RETURN's (by name or alias). */
function returned(def: IndexDef, hit: Hit, returns: SearchArgs["returns"]): [string, string][] {
  if (returns === null) return [...hit.fields];
  const out: [string, string][] = [];
  for (const r of returns) {
    const f = def.fields.find((x) => x.alias === r.name || x.name === r.name);
    const v = hit.fields.get(f?.name ?? r.name);
    if (v !== undefined) out.push([r.as, v]);
  }
  return out;
}

export function searchReply(def: IndexDef, total: number, hits: Hit[], o: SearchArgs): Reply {
  const content = !o.noContent && !(o.returns !== null && o.returns.length === 0);
  const resp2: Reply[] = [total];
  const results: Reply[] = [];
  for (const h of hits) {
    const fields = content ? returned(def, h, o.returns) : [];
    resp2.push(h.doc);
    if (o.withScores) resp2.push(formatDouble(h.score));
    if (content) resp2.push(fields.flat());
    const entry: Reply[] = ["id", h.doc];
    if (o.withScores) entry.push("score", new Double(h.score));
    entry.push("extra_attributes", new MapReply(fields.flat()), "values", []);
    results.push(new MapReply(entry));
  }
  const resp3 = new MapReply([
    "attributes",
    [],
    "format",
    "STRING",
    "results",
    results,
    "total_results",
    total,
    "warning",
    [],
  ]);
  return new ByProtocol(resp3, resp2);
}

/** HIGHLIGHT [FIELDS n f…] [TAGS open close] or SUMMARIZE [FIELDS n f…] [FRAGS n] [LEN n]
 * [SEPARATOR s], from `i` (after the keyword); returns where the next argument starts. */
function decoration(
  def: IndexDef,
  args: string[],
  i: number,
  kind: string,
  out: Decoration[],
): number {
  let fields = def.fields.filter((f) => f.type === "TEXT").map((f) => f.name);
  let tags = { open: "<b>", close: "</b>" };
  let len = 20;
  let separator = "... ";
  const need = (what: string) => {
    if (i >= args.length) throw err(`FT.SEARCH ${kind}: ${what} expected`);
    return args[i++];
  };
  for (;;) {
    const w = args[i]?.toUpperCase();
    if (w === "FIELDS") {
      i++;
      const n = integer(need("a field count"), `${kind} FIELDS count`, 128);
      fields = [];
      for (let k = 0; k < n; k++) fields.push(fieldOf(def, need("a field")).name);
    } else if (w === "TAGS" && kind === "HIGHLIGHT") {
      i++;
      tags = { open: need("an open tag"), close: need("a close tag") };
    } else if (w === "FRAGS" && kind === "SUMMARIZE") {
      i++;
      integer(need("a fragment count"), "FRAGS", 100);
    } else if (w === "LEN" && kind === "SUMMARIZE") {
      i++;
      len = Math.max(1, Math.min(64, integer(need("a length"), "LEN", 10_000)));
    } else if (w === "SEPARATOR" && kind === "SUMMARIZE") {
      i++;
      separator = need("a separator");
    } else break;
  }
  for (const field of fields) {
    let d = out.find((x) => x.field === field);
    if (d === undefined) {
      d = { field, highlight: null, summarize: null };
      out.push(d);
    }
    if (kind === "HIGHLIGHT") d.highlight = tags;
    else d.summarize = { len, separator };
  }
  return i;
}
