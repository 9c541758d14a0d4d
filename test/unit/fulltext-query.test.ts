/**
 * The full-text query parser: RediSearch's syntax into a tree, stop words dropped, parameters
 * substituted, and syntax errors that name their offset; and the edit distance behind %fuzzy%.
 */
import { describe, expect, it } from "vitest";
import { editDistance } from "../../src/backends/fulltext/compile.ts";
import { parseExpression } from "../../src/backends/fulltext/expression.ts";
import { parseQuery } from "../../src/backends/fulltext/query.ts";

describe("parseQuery", () => {
  it("builds the tree RediSearch's grammar describes", () => {
    expect(parseQuery("hello world")).toEqual({
      t: "and",
      items: [
        { t: "term", field: null, word: "hello", raw: "hello", prefix: false, fuzzy: 0 },
        { t: "term", field: null, word: "world", raw: "world", prefix: false, fuzzy: 0 },
      ],
    });
    expect(parseQuery("a1 | -b2* ~c3")).toEqual({
      t: "or",
      items: [
        { t: "term", field: null, word: "a1", raw: "a1", prefix: false, fuzzy: 0 },
        {
          t: "and",
          items: [
            {
              t: "not",
              item: { t: "term", field: null, word: "b2", raw: "b2", prefix: true, fuzzy: 0 },
            },
            {
              t: "optional",
              item: { t: "term", field: null, word: "c3", raw: "c3", prefix: false, fuzzy: 0 },
            },
          ],
        },
      ],
    });
    expect(parseQuery('@title:"Quick Fox" @n:[(1 +inf] @tags:{a b | c\\,d}')).toEqual({
      t: "and",
      items: [
        { t: "phrase", field: "title", words: ["quick", "fox"] },
        { t: "num", field: "n", lo: 1, loEx: true, hi: Infinity, hiEx: false },
        { t: "tag", field: "tags", tags: ["a b", "c,d"] },
      ],
    });
    expect(parseQuery("@g:[2.35 48.85 5 km] %%helo%%")).toEqual({
      t: "and",
      items: [
        { t: "geo", field: "g", lon: 2.35, lat: 48.85, meters: 5000 },
        { t: "term", field: null, word: "helo", raw: "helo", prefix: false, fuzzy: 2 },
      ],
    });
  });

  it("drops stop words, and a query of stop words alone finds nothing", () => {
    expect(parseQuery("the fox")).toEqual({
      t: "term",
      field: null,
      word: "fox",
      raw: "fox",
      prefix: false,
      fuzzy: 0,
    });
    expect(parseQuery("the")).toEqual({ t: "none" });
    // A phrase keeps its stop words: the text holds them.
    expect(parseQuery('"in the park"')).toEqual({
      t: "phrase",
      field: null,
      words: ["in", "the", "park"],
    });
    expect(parseQuery("the", { stopwords: new Set() })).toMatchObject({ t: "term", word: "the" });
  });

  it("reads words outside the Basic Multilingual Plane whole", () => {
    expect(parseQuery("𠀀𠀁")).toMatchObject({ t: "term", word: "𠀀𠀁" });
  });

  it("substitutes $parameters", () => {
    expect(parseQuery("$q", { params: new Map([["q", "Fox"]]) })).toMatchObject({
      t: "term",
      word: "fox",
    });
  });

  it("names the offset of a syntax error", () => {
    const cases: [string, RegExp][] = [
      ["(a b", /offset 4: '\)' expected/],
      ["a )", /offset 2 near '\)': unexpected '\)'/],
      ['"open phrase', /offset 0 near '"open phrase': unterminated phrase/],
      ["@:x", /offset 1 near ':x': a field name expected/],
      ["@n:[1 x]", /offset 6 near 'x\]': a number expected/],
      ["@g:[1 2 3 parsecs]", /a unit \(m, km, mi, ft\) expected/],
      ["%%%%x%%%%", /at most three '%'/],
      ["$nope", /no parameter 'nope'/],
      ["a*", /offset 0 near 'a\*': a prefix needs at least two characters/],
      ["", /the query is empty/],
      ["(".repeat(100), /nests more than 64 levels deep/],
      ["a ".repeat(600), /more than 512 terms/],
    ];
    for (const [q, want] of cases) expect(() => parseQuery(q), q).toThrow(want);
  });
});

describe("editDistance", () => {
  it("counts insertions, deletions and substitutions, stopping past the bound", () => {
    expect(editDistance("kitten", "sitting", 3)).toBe(3);
    expect(editDistance("quck", "quick", 1)).toBe(1);
    expect(editDistance("abc", "abc", 0)).toBe(0);
    expect(editDistance("abcdef", "a", 2)).toBe(3);
  });
});

describe("parseExpression (APPLY and FILTER)", () => {
  const row = { price: "10", name: "Moby", year: 1851, empty: null };
  const cases: [string, unknown][] = [
    ["@price * 2 + 1", 21],
    ["(@price + 2) ^ 2 / 4", 36],
    ["@year >= 1850 && @name == 'Moby'", 1],
    ["@year < 1850 || !exists(@missing)", 1],
    ['upper(@name) == "MOBY"', 1],
    ["concat(lower(@name), '-', @year)", "moby-1851"],
    ["strlen(substr(@name, 1, 2))", 2],
    ["floor(7.9) + ceil(0.1) + abs(-2)", 10],
    ["-@price % 3", -1],
    ["exists(@empty)", 0],
  ];
  it("computes what RediSearch's expressions say", () => {
    for (const [e, want] of cases) expect(parseExpression(e)(row), e).toBe(want);
  });
  it("names the offset of a syntax error", () => {
    expect(() => parseExpression("@price +")).toThrow(/offset 8 .*ends too soon/);
    expect(() => parseExpression("nofn(1)")).toThrow(/unknown function 'nofn'/);
    expect(() => parseExpression("(1")).toThrow(/'\)' expected/);
    expect(() => parseExpression(`${"1+".repeat(2000)}1`)).toThrow(/more than 1000 parts/);
    expect(() => parseExpression("__proto__(1)")).toThrow(/unknown function/);
  });
});
