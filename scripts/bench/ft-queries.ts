/**
 * The full-text benchmark's queries (./fulltext.ts), drawn from the corpus with a seeded PRNG so
 * every run and every target gets the same ones: single terms, two-term ANDs (both words from
 * one document's body, so it has a match), two-term ORs (words from two documents), two-word
 * phrases (adjacent words of one document) and prefixes (the first four letters of a word of six
 * or more), `perType` of each. Words are drawn by occurrence, so common words come up as often as
 * they would in text, with stop words and words that are not plain letters left out. Each query
 * is then written in each engine's syntax: RediSearch's for HeroDB, SphinxQL's MATCH() for
 * Sphinx and FTS5's for the bare engine (every word quoted there, so none is read as an
 * operator).
 */
import { type Doc, prng } from "./corpus.ts";

export type QueryType = "single" | "and" | "or" | "phrase" | "prefix";
export const QUERY_TYPES: readonly QueryType[] = ["single", "and", "or", "phrase", "prefix"];
export const QUERY_LABEL: Record<QueryType, string> = {
  single: "single term",
  and: "two-term AND",
  or: "two-term OR",
  phrase: "phrase",
  prefix: "prefix",
};

export interface Query {
  type: QueryType;
  /** The words (a prefix query: the prefix). */
  words: string[];
  herodb: string;
  sphinx: string;
  fts5: string;
}

/** RediSearch's English stop words (dropped from HeroDB's queries) and other function words. */
const STOP = new Set(
  (
    "a is the an and are as at be but by for if in into it no not of on or such that their then " +
    "there these they this to was will with from can you which when all any its has have should " +
    "may must only also than used use each other more so do does were been being we our us he " +
    "she his her him them i me my your yours one two"
  ).split(" "),
);

const PREFIX = 4;

/** A document's words that can be query terms, in order, each with whether it follows the last. */
function tokens(text: string): { word: string; adjacent: boolean }[] {
  const out: { word: string; adjacent: boolean }[] = [];
  // Tokens as both engines see them; only plain lowercase ASCII words are kept as terms, and a
  // pair is adjacent when nothing but spaces stood between them and both were kept.
  const re = /[\p{L}\p{N}_']+/gu;
  let lastEnd = -1;
  let lastKept = false;
  const lower = text.toLowerCase();
  for (let m = re.exec(lower); m !== null; m = re.exec(lower)) {
    const word = m[0];
    const kept = /^[a-z]{3,20}$/.test(word) && !STOP.has(word);
    const gap = lastEnd < 0 ? "" : lower.slice(lastEnd, m.index);
    if (kept) out.push({ word, adjacent: lastKept && /^ +$/.test(gap) });
    lastKept = kept;
    lastEnd = m.index + word.length;
  }
  return out;
}

function spelled(type: QueryType, words: string[]): Query {
  const [a, b] = words;
  const q = (w: string) => `"${w}"`;
  switch (type) {
    case "single":
      return { type, words, herodb: a, sphinx: a, fts5: q(a) };
    case "and":
      return { type, words, herodb: `${a} ${b}`, sphinx: `${a} ${b}`, fts5: `${q(a)} ${q(b)}` };
    case "or":
      return {
        type,
        words,
        herodb: `${a} | ${b}`,
        sphinx: `${a} | ${b}`,
        fts5: `${q(a)} OR ${q(b)}`,
      };
    case "phrase":
      return { type, words, herodb: `"${a} ${b}"`, sphinx: `"${a} ${b}"`, fts5: `"${a} ${b}"` };
    case "prefix":
      return { type, words, herodb: `${a}*`, sphinx: `${a}*`, fts5: `${q(a)}*` };
  }
}

/** `perType` queries of each type, the same for the same documents and seed. */
export function makeQueries(docs: Doc[], perType: number, seed: number): Query[] {
  const rand = prng(seed);
  const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)];
  const doc = () => tokens(pick(docs).body);
  const out: Query[] = [];
  for (const type of QUERY_TYPES) {
    const seen = new Set<string>();
    // Bounded: a corpus too small for this many distinct queries gives fewer.
    for (let tries = 0; seen.size < perType && tries < perType * 200; tries++) {
      const t = doc();
      if (t.length < 2) continue;
      let words: string[] | undefined;
      if (type === "single") words = [pick(t).word];
      else if (type === "and") {
        const a = pick(t).word;
        const b = pick(t).word;
        if (a !== b) words = [a, b];
      } else if (type === "or") {
        const a = pick(t).word;
        const other = doc().filter((x) => x.word !== a);
        if (other.length > 0) words = [a, pick(other).word];
      } else if (type === "phrase") {
        const pairs = t.flatMap((x, i) => (i > 0 && x.adjacent ? [[t[i - 1].word, x.word]] : []));
        if (pairs.length > 0) words = pick(pairs);
      } else {
        const long = t.filter((x) => x.word.length >= PREFIX + 2);
        if (long.length > 0) words = [pick(long).word.slice(0, PREFIX)];
      }
      if (words === undefined || seen.has(words.join(" "))) continue;
      seen.add(words.join(" "));
      out.push(spelled(type, words));
    }
  }
  return out;
}
