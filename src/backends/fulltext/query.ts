/**
 * RediSearch's query language, parsed into a tree (./compile.ts turns it into SQL over the
 * index's tables). Supported: terms (implicit AND), "exact phrases", `a | b`, `-term`,
 * `~optional`, `pre*`, `%fuzzy%` (one to three `%` pairs: edit distance), `@field:…` on any of
 * those or a parenthesised group, `@num:[lo hi]` with `(` for an exclusive bound and
 * `-inf`/`+inf`, `@tag:{a | b}`, `@geo:[lon lat radius m|km|mi|ft]`, parentheses, `*` for every
 * document, and `$name` parameters (PARAMS). A syntax error names its offset in the query.
 */
import { HeroError } from "../../errors.ts";

export type Node =
  | { t: "and"; items: Node[] }
  | { t: "or"; items: Node[] }
  | { t: "not"; item: Node }
  | { t: "optional"; item: Node }
  | { t: "all" }
  | { t: "none" }
  | {
      t: "term";
      field: string | null;
      /** Lower-cased (text fields fold case); `raw` is the word as typed (for TAG fields). */
      word: string;
      raw: string;
      prefix: boolean;
      fuzzy: number;
    }
  | { t: "phrase"; field: string | null; words: string[] }
  | { t: "num"; field: string; lo: number; loEx: boolean; hi: number; hiEx: boolean }
  | { t: "tag"; field: string; tags: string[]; prefixes?: string[] }
  | { t: "geo"; field: string; lon: number; lat: number; meters: number };

/** RediSearch's default English stop words: dropped from queries (and so never required). */
export const STOPWORDS = new Set(
  "a is the an and are as at be but by for if in into it no not of on or such that their then there these they this to was will with".split(
    " ",
  ),
);

const WORD = /[\p{L}\p{N}_']/u;
const UNITS: Record<string, number> = { m: 1, km: 1000, mi: 1609.344, ft: 0.3048 };

export interface ParseOptions {
  params?: Map<string, string>;
  stopwords?: ReadonlySet<string>;
}

/** Nesting and size bounds: the parser and the SQL it becomes both recurse through the tree. */
const MAX_DEPTH = 64;
const MAX_ATOMS = 512;

class Parser {
  private at = 0;
  private depth = 0;
  private atoms = 0;
  private readonly q: string;
  private readonly params: Map<string, string>;
  private readonly stop: ReadonlySet<string>;

  constructor(q: string, o: ParseOptions) {
    this.q = q;
    this.params = o.params ?? new Map();
    this.stop = o.stopwords ?? STOPWORDS;
  }

  fail(why: string, at = this.at): never {
    const near = this.q.slice(at, at + 16);
    throw new HeroError(
      "ERR",
      `Syntax error at offset ${at} near '${near}': ${why}`.replace(" near '': ", ": "),
    );
  }

  private space(): void {
    while (this.at < this.q.length && /\s/.test(this.q[this.at])) this.at++;
  }

  private peek(): string {
    this.space();
    return this.q[this.at] ?? "";
  }

  parse(): Node {
    this.space();
    if (this.at >= this.q.length) this.fail("the query is empty");
    const n = this.union(null);
    this.space();
    if (this.at < this.q.length) this.fail(`unexpected '${this.q[this.at]}'`);
    return n;
  }

  private union(field: string | null): Node {
    if (++this.depth > MAX_DEPTH) this.fail(`the query nests more than ${MAX_DEPTH} levels deep`);
    const items = [this.intersect(field)];
    while (this.peek() === "|") {
      this.at++;
      items.push(this.intersect(field));
    }
    this.depth--;
    return items.length === 1 ? items[0] : { t: "or", items };
  }

  private intersect(field: string | null): Node {
    const items: Node[] = [];
    for (;;) {
      const c = this.peek();
      if (c === "" || c === ")" || c === "|" || c === "}") break;
      const n = this.unary(field);
      if (n !== null) items.push(n);
    }
    if (items.length === 0) {
      // Only stop words here: nothing to look for, so nothing is found (as RediSearch does).
      const c = this.peek();
      if (c === "" || c === ")" || c === "|" || c === "}") return { t: "none" };
      this.fail("a term expected");
    }
    return items.length === 1 ? items[0] : { t: "and", items };
  }

  private unary(field: string | null): Node | null {
    if (++this.atoms > MAX_ATOMS) this.fail(`the query holds more than ${MAX_ATOMS} terms`);
    const c = this.peek();
    if (c === "-") {
      this.at++;
      const item = this.unary(field);
      return item === null ? null : { t: "not", item };
    }
    if (c === "~") {
      this.at++;
      const item = this.unary(field);
      return item === null ? null : { t: "optional", item };
    }
    return this.atom(field);
  }

  private atom(field: string | null): Node | null {
    const c = this.peek();
    const start = this.at;
    if (c === "(") {
      this.at++;
      const n = this.union(field);
      if (this.peek() !== ")") this.fail("')' expected");
      this.at++;
      return n;
    }
    if (c === "@") {
      if (field !== null) this.fail("a field inside a field's group");
      this.at++;
      const name = this.word();
      if (name === "") this.fail("a field name expected after '@'");
      if (this.q[this.at] !== ":") this.fail("':' expected after the field name");
      this.at++;
      const d = this.peek();
      if (d === "[") return this.range(name);
      if (d === "{") return this.tags(name);
      return this.atom(name) ?? { t: "none" };
    }
    if (c === '"') return this.phrase(field);
    if (c === "*") {
      this.at++;
      return { t: "all" };
    }
    if (c === "%") {
      let n = 0;
      while (this.q[this.at] === "%") {
        n++;
        this.at++;
      }
      if (n > 3) this.fail("at most three '%' for a fuzzy term", start);
      const word = this.word();
      if (word === "") this.fail("a term expected inside '%'", start);
      for (let k = 0; k < n; k++) {
        if (this.q[this.at] !== "%") this.fail("'%' expected to close the fuzzy term");
        this.at++;
      }
      return { t: "term", field, word: word.toLowerCase(), raw: word, prefix: false, fuzzy: n };
    }
    if (c === "$") {
      this.at++;
      const name = this.word();
      const value = this.params.get(name);
      if (value === undefined) this.fail(`no parameter '${name}' (PARAMS)`, start);
      return this.termOf(field, value, false);
    }
    const word = this.word();
    if (word === "") this.fail(`unexpected '${c}'`);
    let prefix = false;
    if (this.q[this.at] === "*") {
      this.at++;
      prefix = true;
      if (word.length < 2) this.fail("a prefix needs at least two characters", start);
    }
    return this.termOf(field, word, prefix);
  }

  private termOf(field: string | null, word: string, prefix: boolean): Node | null {
    const w = word.toLowerCase();
    if (!prefix && field === null && this.stop.has(w)) return null;
    return { t: "term", field, word: w, raw: word, prefix, fuzzy: 0 };
  }

  private word(): string {
    let out = "";
    while (this.at < this.q.length) {
      // Whole code points: a letter outside the BMP is two UTF-16 units.
      const c = String.fromCodePoint(this.q.codePointAt(this.at) as number);
      if (c === "\\" && this.at + 1 < this.q.length) {
        const next = String.fromCodePoint(this.q.codePointAt(this.at + 1) as number);
        out += next;
        this.at += 1 + next.length;
      } else if (WORD.test(c)) {
        out += c;
        this.at += c.length;
      } else break;
    }
    return out;
  }

  private phrase(field: string | null): Node | null {
    const start = this.at;
    this.at++; // "
    const end = this.q.indexOf('"', this.at);
    if (end < 0) this.fail("unterminated phrase", start);
    // Stop words stay in a phrase: the text holds them, and the phrase must match it.
    const words =
      this.q
        .slice(this.at, end)
        .toLowerCase()
        .match(/[\p{L}\p{N}_']+/gu) ?? [];
    this.at = end + 1;
    if (words.length === 0) return null;
    if (words.length === 1) {
      return { t: "term", field, word: words[0], raw: words[0], prefix: false, fuzzy: 0 };
    }
    return { t: "phrase", field, words };
  }

  private number(): { v: number; ex: boolean } {
    this.space();
    let ex = false;
    if (this.q[this.at] === "(") {
      ex = true;
      this.at++;
    }
    const m = /^[+-]?(inf|\d+(\.\d*)?([eE][+-]?\d+)?|\.\d+)/i.exec(this.q.slice(this.at));
    if (m === null) this.fail("a number expected");
    this.at += m[0].length;
    const text = m[0].toLowerCase();
    const v = text.endsWith("inf") ? (text.startsWith("-") ? -Infinity : Infinity) : Number(text);
    return { v, ex };
  }

  private range(field: string): Node {
    this.at++; // [
    const a = this.number();
    const b = this.number();
    this.space();
    const c = this.q[this.at];
    if (c === "]") {
      this.at++;
      return { t: "num", field, lo: a.v, loEx: a.ex, hi: b.v, hiEx: b.ex };
    }
    // [lon lat radius unit]: a geo filter.
    const r = this.number();
    this.space();
    const unit = this.word().toLowerCase();
    if (!Object.hasOwn(UNITS, unit)) this.fail("a unit (m, km, mi, ft) expected");
    if (this.peek() !== "]") this.fail("']' expected");
    this.at++;
    if (!(Math.abs(b.v) <= 90 && Math.abs(a.v) <= 180 && r.v >= 0)) {
      this.fail("longitude, latitude or radius out of range");
    }
    return { t: "geo", field, lon: a.v, lat: b.v, meters: r.v * UNITS[unit] };
  }

  private tags(field: string): Node {
    this.at++; // {
    const tags: string[] = [];
    let cur = "";
    for (;;) {
      if (this.at >= this.q.length) this.fail("'}' expected");
      const c = this.q[this.at++];
      if (c === "\\" && this.at < this.q.length) cur += this.q[this.at++];
      else if (c === "|" || c === "}") {
        const tag = cur.trim();
        if (tag !== "") tags.push(tag);
        cur = "";
        if (c === "}") break;
      } else cur += c;
    }
    if (tags.length === 0) this.fail("a tag expected inside '{}'");
    // A tag ending in an unescaped * is a prefix: {tech*}.
    const exact = tags.filter((x) => !x.endsWith("*"));
    const prefixes = tags.filter((x) => x.endsWith("*")).map((x) => x.slice(0, -1));
    return prefixes.length === 0
      ? { t: "tag", field, tags }
      : { t: "tag", field, tags: exact, prefixes };
  }
}

export function parseQuery(q: string, o: ParseOptions = {}): Node {
  return new Parser(q, o).parse();
}

/** The tree as FT.EXPLAIN prints it, one node per line, indented by depth. */
export function explain(n: Node, depth = 0): string {
  const pad = "  ".repeat(depth);
  const group = (name: string, items: Node[]) =>
    `${pad}${name} {\n${items.map((i) => explain(i, depth + 1)).join("")}${pad}}\n`;
  const scope = (field: string | null) => (field === null ? "" : `@${field}:`);
  switch (n.t) {
    case "and":
      return group("INTERSECT", n.items);
    case "or":
      return group("UNION", n.items);
    case "not":
      return group("NOT", [n.item]);
    case "optional":
      return group("OPTIONAL", [n.item]);
    case "all":
      return `${pad}<WILDCARD>\n`;
    case "none":
      return `${pad}<EMPTY>\n`;
    case "term":
      if (n.fuzzy > 0) return `${pad}${scope(n.field)}FUZZY{${n.word}, ${n.fuzzy}}\n`;
      return `${pad}${scope(n.field)}${n.word}${n.prefix ? "*" : ""}\n`;
    case "phrase":
      return `${pad}${scope(n.field)}EXACT {${n.words.join(" ")}}\n`;
    case "num": {
      const lo = n.lo === -Infinity ? "-inf" : String(n.lo);
      const hi = n.hi === Infinity ? "inf" : String(n.hi);
      return `${pad}NUMERIC {${lo} ${n.loEx ? "<" : "<="} @${n.field} ${n.hiEx ? "<" : "<="} ${hi}}\n`;
    }
    case "tag":
      return `${pad}TAG:@${n.field} {${n.tags.join(" | ")}}\n`;
    case "geo":
      return `${pad}GEO @${n.field}:{${n.lon},${n.lat} --> ${n.meters} m}\n`;
  }
}
