/**
 * RediSearch's commands beside searching (see ./dictionaries.ts for what they keep):
 * auto-complete (FT.SUGADD, FT.SUGGET, FT.SUGDEL, FT.SUGLEN), synonyms (FT.SYNUPDATE,
 * FT.SYNDUMP) and FT.SPELLCHECK, which proposes the index's own terms, within a distance, for
 * query terms the index does not hold. Writes are flagged `write` and go through the log.
 */
import type { CommandSpec } from "../../engine/command-spec.ts";
import { ByProtocol, Double, formatDouble, MapReply, OK, type Reply } from "../../engine/reply.ts";
import { HeroError } from "../../errors.ts";
import { type Node, parseQuery } from "./query.ts";
import type { FtStore } from "./store.ts";

type Command = CommandSpec<FtStore>;
const text = (b: Buffer | undefined): string => (b === undefined ? "" : b.toString("utf8"));
const err = (m: string) => new HeroError("ERR", m);

export function dictionaryCommands(scope: readonly string[]): Command[] {
  return [
    {
      name: "FT.SUGADD",
      group: "fulltext",
      summary: "Adds a string to an auto-complete dictionary; replies the dictionary's size.",
      syntax: "key string score [INCR] [PAYLOAD payload]",
      arity: -4,
      flags: ["write"],
      scope,
      exec: (store, args) => {
        const [key, str, score, ...rest] = args.map((a) => text(a));
        let incr = false;
        let payload: string | null = null;
        for (let i = 0; i < rest.length; i++) {
          const w = rest[i].toUpperCase();
          if (w === "INCR") incr = true;
          else if (w === "PAYLOAD" && i + 1 < rest.length) payload = rest[++i];
          else throw err(`FT.SUGADD: unknown argument '${rest[i].slice(0, 32)}'`);
        }
        return store.dicts.sugAdd(key, str, Number(score), incr, payload);
      },
    },
    {
      name: "FT.SUGGET",
      group: "fulltext",
      summary: "Strings of an auto-complete dictionary that start with a prefix, best first.",
      syntax: "key prefix [FUZZY] [WITHSCORES] [WITHPAYLOADS] [MAX num]",
      arity: -3,
      flags: ["readonly"],
      scope,
      exec: (store, args) => {
        const [key, prefix, ...rest] = args.map((a) => text(a));
        let fuzzy = false;
        let scores = false;
        let payloads = false;
        let max = 5;
        for (let i = 0; i < rest.length; i++) {
          const w = rest[i].toUpperCase();
          if (w === "FUZZY") fuzzy = true;
          else if (w === "WITHSCORES") scores = true;
          else if (w === "WITHPAYLOADS") payloads = true;
          else if (w === "MAX" && i + 1 < rest.length) {
            max = Number(rest[++i]);
            if (!Number.isInteger(max) || max < 1 || max > 1000) throw err("FT.SUGGET: bad MAX");
          } else throw err(`FT.SUGGET: unknown argument '${rest[i].slice(0, 32)}'`);
        }
        const out: Reply[] = [];
        for (const s of store.dicts.sugGet(key, prefix, fuzzy, max)) {
          out.push(s.text);
          if (scores) out.push(new Double(s.score));
          if (payloads) out.push(s.payload);
        }
        return out;
      },
    },
    {
      name: "FT.SUGDEL",
      group: "fulltext",
      summary: "Deletes a string from an auto-complete dictionary: 1, or 0 when it was not there.",
      syntax: "key string",
      arity: 3,
      flags: ["write"],
      scope,
      exec: (store, args) => (store.dicts.sugDel(text(args[0]), text(args[1])) ? 1 : 0),
    },
    {
      name: "FT.SUGLEN",
      group: "fulltext",
      summary: "The number of strings in an auto-complete dictionary.",
      syntax: "key",
      arity: 2,
      flags: ["readonly"],
      scope,
      exec: (store, args) => store.dicts.size(text(args[0])),
    },
    {
      name: "FT.SYNUPDATE",
      group: "fulltext",
      summary:
        "Adds terms to a synonym group of an index: a query term matches every term of its groups.",
      syntax: "index group_id [SKIPINITIALSCAN] term [term ...]",
      arity: -4,
      flags: ["write"],
      scope,
      exec: (store, args) => {
        const [index, group, ...rest] = args.map((a) => text(a));
        store.definition(index, "writer");
        const terms = rest[0]?.toUpperCase() === "SKIPINITIALSCAN" ? rest.slice(1) : rest;
        if (terms.length === 0) throw err("FT.SYNUPDATE: at least one term expected");
        store.dicts.synUpdate(index, group, terms);
        return OK;
      },
    },
    {
      name: "FT.SYNDUMP",
      group: "fulltext",
      summary: "The synonym groups of an index: each term and the groups it is in.",
      syntax: "index",
      arity: 2,
      flags: ["readonly"],
      scope,
      exec: (store, args) => {
        store.definition(text(args[0]));
        return new MapReply(store.dicts.synDump(text(args[0])).flat());
      },
    },
    {
      name: "FT.SPELLCHECK",
      group: "fulltext",
      summary: "Proposes the index's own terms for query terms it does not hold.",
      syntax: "index query [DISTANCE d] [DIALECT n]",
      arity: -3,
      flags: ["readonly"],
      scope,
      exec: (store, args) => {
        const [index, query, ...rest] = args.map((a) => text(a));
        let distance = 1;
        for (let i = 0; i < rest.length; i++) {
          const w = rest[i].toUpperCase();
          if (w === "DISTANCE" && i + 1 < rest.length) {
            distance = Number(rest[++i]);
            if (!Number.isInteger(distance) || distance < 1 || distance > 4) {
              throw err("FT.SPELLCHECK: DISTANCE is from 1 to 4");
            }
          } else if (w === "DIALECT" && i + 1 < rest.length) i++;
          else throw err(`FT.SPELLCHECK: unknown argument '${rest[i].slice(0, 32)}'`);
        }
        const words: string[] = [];
        const collect = (n: Node): void => {
          if (n.t === "and" || n.t === "or") for (const x of n.items) collect(x);
          else if (n.t === "not" || n.t === "optional") collect(n.item);
          else if (n.t === "term" && !n.prefix && n.fuzzy === 0) words.push(n.word);
        };
        collect(parseQuery(query));
        const found = store.spellcheck(index, [...new Set(words)], distance);
        const resp2 = found.map((f) => [
          "TERM",
          f.term,
          f.suggestions.map((s) => [formatDouble(s.score), s.term]),
        ]);
        const resp3 = new MapReply([
          "results",
          new MapReply(
            found.flatMap((f) => [
              f.term,
              f.suggestions.map((s) => new MapReply([s.term, formatDouble(s.score)])),
            ]),
          ),
        ]);
        return new ByProtocol(resp3, resp2);
      },
    },
  ];
}
