/**
 * The FILTER expression language of vector sets (`VSIM ... FILTER expr`): which elements a
 * filter keeps, the precedence and coercions of Redis's expr.c, syntax errors that name their
 * offset, and the bounds on length and nesting.
 */
import { describe, expect, it } from "vitest";
import { compileFilter, matchesFilter } from "../../src/backends/vector/filter-expr.ts";
import { HeroError } from "../../src/errors.ts";

const MOVIES: Record<string, string | null> = {
  matrix: JSON.stringify({
    title: "The Matrix",
    year: 1999,
    rating: 8.7,
    genre: "scifi",
    tags: ["action", "cyberpunk"],
    oscar: true,
    budget: "63",
  }),
  godfather: JSON.stringify({
    title: "The Godfather",
    year: 1972,
    rating: 9.2,
    genre: "crime",
    tags: ["mafia", "drama"],
    oscar: true,
  }),
  alien: JSON.stringify({
    title: "Alien",
    year: 1979,
    rating: 8.5,
    genre: "scifi",
    tags: ["horror", "space"],
    oscar: false,
    sequel: null,
  }),
  amelie: JSON.stringify({
    title: "Amélie",
    year: 2001,
    rating: 8.3,
    genre: "romance",
    tags: [],
    oscar: false,
    director: "Jeunet",
  }),
  plan9: JSON.stringify({
    title: "Plan 9 from Outer Space",
    year: 1957,
    rating: 3.9,
    genre: "scifi",
    oscar: false,
    crew: { director: "Wood" },
  }),
  bare: null, // no attributes at all
  broken: "{not json",
};

/** Every element that has attributes, valid or not. */
const WITH_ATTRS = ["matrix", "godfather", "alien", "amelie", "plan9", "broken"];

function matching(expr: string): string[] {
  const program = compileFilter(expr);
  return Object.entries(MOVIES)
    .filter(([, attrs]) => matchesFilter(program, attrs))
    .map(([name]) => name)
    .sort();
}

const holds = (expr: string, attrs = "{}") => matchesFilter(compileFilter(expr), attrs);

function syntaxError(expr: string): string {
  try {
    compileFilter(expr);
  } catch (e) {
    expect(e).toBeInstanceOf(HeroError);
    expect((e as HeroError).code).toBe("ERR");
    return (e as Error).message;
  }
  throw new Error(`expected ${JSON.stringify(expr)} to be refused`);
}

const TABLE: [string, string[]][] = [
  [".year > 1990", ["matrix", "amelie"]],
  [".year >= 1979 and .year < 2000", ["matrix", "alien"]],
  [".year < 1960 or .year > 2000", ["amelie", "plan9"]],
  ['.genre == "scifi"', ["matrix", "alien", "plan9"]],
  [".genre == 'scifi' && .rating > 8", ["matrix", "alien"]],
  ['.genre != "scifi"', ["godfather", "amelie"]],
  [".oscar", ["matrix", "godfather"]],
  ["!.oscar", ["alien", "amelie", "plan9"]],
  ['not .oscar and .genre == "scifi"', ["alien", "plan9"]],
  [".oscar == 1", ["matrix", "godfather"]],
  [".genre in ['crime', \"romance\"]", ["godfather", "amelie"]],
  [".year in [1999, 1957, 1234]", ["matrix", "plan9"]],
  ['"drama" in .tags', ["godfather"]],
  ['"cyber" in .tags', []], // membership in an array is equality, not substring
  ['"Matrix" in .title', ["matrix"]],
  ['"the" in .title', ["godfather"]], // case-sensitive substring: "Godfather"
  ['"é" in .title', ["amelie"]],
  [".tags", ["matrix", "godfather", "alien", "amelie"]], // an array, even empty, is true
  [".missing == 1", []],
  [".missing or 1", []], // a missing field makes the whole expression false
  ["1", WITH_ATTRS], // no selector: invalid JSON is never read, but no attributes never match
  ["0", []],
  [".crew == 0", []], // nested objects are not values
  [".sequel == null", ["alien"]],
  [".sequel", []],
  [".budget == 63", ["matrix"]], // "63" == 63
  [".budget > 50", ["matrix"]],
  ['.title > "A"', []], // strings order as numbers: both are 0
  [".title == 0", ["matrix", "godfather", "alien", "amelie", "plan9"]],
  [".year % 2 == 0", ["godfather"]],
  ["(.year - 1970) ** 2 < 100", ["godfather", "alien"]],
  [".year / 10 >= 199.9", ["matrix", "amelie"]],
  [".rating + .year > 2009", ["amelie"]],
  [".year - -1 == 2000", ["matrix"]],
  ["-1 < .rating - 9", ["matrix", "godfather", "alien", "amelie"]],
  [".year>1990and.rating<8.5", ["amelie"]],
  ['.genre == "scifi" and (.year < 1970 or .oscar)', ["matrix", "plan9"]],
  ['.genre == "scifi" and .year < 1970 or .oscar', ["matrix", "godfather", "plan9"]],
  ["not (.rating >= 8.5)", ["amelie", "plan9"]],
  ["!!.oscar", ["matrix", "godfather"]],
  [".year in []", []],
  ['.director == "Jeunet"', ["amelie"]],
  [".year == 1999 || .year == 1972", ["matrix", "godfather"]],
  [".rating >= 8.5 && .rating <= 9", ["matrix", "alien"]],
  ["1 + 2 * 3 == 7", WITH_ATTRS],
  [".year == 1.999e3", ["matrix"]],
  ['.tags in ["drama"]', ["matrix", "godfather", "alien", "amelie"]], // arrays compare as 0
];

describe("matchesFilter", () => {
  it.each(TABLE)("%s", (expr, names) => {
    expect(matching(expr)).toEqual([...names].sort());
  });

  it("never matches an element without attributes", () => {
    expect(matchesFilter(compileFilter("1"), null)).toBe(false);
    expect(matchesFilter(compileFilter("not .a"), null)).toBe(false);
  });

  it("reads only a top-level field of a JSON object", () => {
    expect(holds(".a", "[1, 2]")).toBe(false);
    expect(holds("1", "[1, 2]")).toBe(true);
    expect(holds(".year-1 == 7", '{"year": 1999, "year-1": 7}')).toBe(true); // '-' is in names
    expect(holds(".year - 1 == 1998", '{"year": 1999, "year-1": 7}')).toBe(true);
    for (const inherited of [".constructor", ".toString == 0", ".__proto__ == 0"]) {
      expect(holds(inherited, "{}")).toBe(false);
    }
    const nest = (n: number) => `{"a": ${"[".repeat(n)}1${"]".repeat(n)}}`;
    expect(holds(".a", nest(10))).toBe(true);
    expect(holds(".a", nest(100))).toBe(false);
  });

  it("applies the escapes of Redis's filter_string_escape test", () => {
    const attrs = JSON.stringify({ dq: 'a"b', sq: "O'Brien", bs: "x\\y", nl: "l1\nl2" });
    for (const expr of [
      String.raw`.dq == "a\"b"`,
      String.raw`.sq == 'O\'Brien'`,
      String.raw`.bs == "x\\y"`,
      String.raw`.nl == "l1\nl2"`,
      String.raw`"\"b" in .dq`,
      String.raw`.dq in ["zzz", "a\"b"]`,
      `'a"b' == .dq`,
      `.sq == "O'Brien"`,
    ]) {
      expect([expr, holds(expr, attrs)]).toEqual([expr, true]);
    }
    expect(holds(String.raw`.bs == "x\y"`, attrs)).toBe(false); // "\y" is just "y"
  });
});

describe("precedence and associativity", () => {
  it.each([
    ["1 + 2 * 3 == 7", true],
    ["(1 + 2) * 3 == 9", true],
    ["2 ** 3 ** 2 == 512", true], // ** is right-associative
    ["(2 ** 3) ** 2 == 64", true],
    ["2 ** 3 ** 2 == 64", false],
    ["-2 ** 2 == 4", true], // the sign belongs to the literal
    ["10 - 2 - 3 == 5", true],
    ["100 / 10 / 5 == 2", true],
    ["1 or 0 and 0", true],
    ["(1 or 0) and 0", false],
    ["1 < 2 == 1", true], // comparisons share a level, left to right
    ["3 > 2 > 1", false],
    ["not 0 + 1 == 2", true], // not binds tightest: (not 0) + 1
    ["2--1 == 3", true],
    ["5 -1 == 4", true],
    ["(5) -1 == 4", true],
  ] as const)("%s is %s", (expr, result) => {
    expect(holds(expr)).toBe(result);
  });

  it("binds not tighter than or and than comparisons", () => {
    expect(holds("not .a or .b", '{"a": 1, "b": 1}')).toBe(true);
    expect(holds("not .a or .b", '{"a": 1, "b": 0}')).toBe(false);
    expect(holds("not .a or .b", '{"a": 0, "b": 0}')).toBe(true);
    expect(holds("not .year > 2000", '{"year": 2010}')).toBe(false);
    expect(holds("not .year < 1", '{"year": 2010}')).toBe(true);
    expect(holds("!!!.a", '{"a": true}')).toBe(false);
    expect(holds(".n > 1 and not not .a", '{"a": true, "n": 5}')).toBe(true);
  });
});

describe("Redis's coercions", () => {
  it.each([
    ['"10" > 9', true],
    ["'abc' == 0", true],
    ["' 12' == 12", true],
    ["'12 ' == 12", false],
    ["'0x10' == 16", true],
    ["'1e3' == 1000", true],
    ["'inf' > 1e308", true],
    ["null == null", true],
    ["null == 0", false],
    ["null", false],
    ["!null", true],
    ["''", false],
    ["'a'", true],
    ["[]", true],
    ["[1] == [2]", true],
    ["'abc' in 'xabcx'", true],
    ["'' in ''", true],
    ["'abc' in 'ab'", false],
    ["1 in '1'", false],
    ["'1' in [1]", true],
    ["1 / 0 > 1e308", true],
    ["0 / 0 == 0 / 0", false],
    ["-7 % 3 == -1", true],
    ["1 ** (0 / 0) == 1", true],
  ] as const)("%s is %s", (expr, result) => {
    expect(holds(expr)).toBe(result);
  });
});

describe("compileFilter errors", () => {
  const P = "syntax error in FILTER expression near:";
  it.each([
    ["(.year > 1990", `${P} (.year > 1990 (offset 0: unbalanced '(')`],
    [".year > 1990)", `${P} ) (offset 12: unbalanced ')')`],
    ["(.a))", `${P} ) (offset 4: unbalanced ')')`],
    [".year = 1990", `${P} = 1990 (offset 6: unknown operator '=')`],
    [".a & .b", `${P} & .b (offset 3: unknown operator '&')`],
    [".a AND .b", `${P} AND .b (offset 3: unknown operator 'AND')`],
    [".x == true", `${P} true (offset 6: unknown operator 'true'; booleans are written 1 and 0)`],
    [".year > 1990 1991", `${P} 1991 (offset 13: expected an operator)`],
    [".year > 1990 ]", `${P} ] (offset 13: unexpected character ']')`],
    ['.title == "abc', `${P} "abc (offset 10: unterminated string)`],
    [".a > > 1", `${P} > 1 (offset 5: expected a value)`],
    [".a >", `${P} <end> (offset 4: expected a value)`],
    ["", `${P} <end> (offset 0: empty expression)`],
    ["   ", `${P} <end> (offset 3: empty expression)`],
    [".a == 1e", `${P} 1e (offset 6: invalid number)`],
    [".a in [1, .b]", `${P} .b] (offset 10: an array holds only numbers and strings)`],
    [".a in [1 2]", `${P} 2] (offset 9: expected ',' or ']')`],
    [".a in [1,", `${P} <end> (offset 9: unterminated array)`],
    ["()", `${P} ) (offset 1: expected a value)`],
    ["1 2 +", `${P} 2 + (offset 2: expected an operator)`], // Redis's arity count allows this
    [". a", `${P} . a (offset 0: unexpected character '.')`],
    [
      `(${".a == 1 and ".repeat(5)}1`,
      `${P} (.a == 1 and .a == 1 and .a == 1... (offset 0: unbalanced '(')`,
    ],
  ])("%j", (expr, message) => {
    expect(syntaxError(expr)).toBe(message);
  });
});

describe("bounds", () => {
  it("refuses expressions longer than 4096 characters", () => {
    const flat = `1${" + 1".repeat(1021)} == 1022`;
    expect(flat.length).toBeLessThanOrEqual(4096);
    expect(holds(flat)).toBe(true);
    expect(holds("1".padEnd(4096, " "))).toBe(true);
    expect(syntaxError("1".padEnd(4097, " "))).toBe(
      "FILTER expression is longer than 4096 characters",
    );
  });

  it("refuses nesting deeper than 64", () => {
    const deep = "FILTER expression nests more than 64 levels deep";
    expect(holds(`${"(".repeat(64)}1${")".repeat(64)}`)).toBe(true);
    expect(syntaxError(`${"(".repeat(65)}1${")".repeat(65)}`)).toBe(deep);
    expect(holds(`${"!".repeat(64)}1`)).toBe(true);
    expect(holds(`${"not ".repeat(63)}1`)).toBe(false);
    expect(syntaxError(`${"not ".repeat(65)}1`)).toBe(deep);
    expect(holds(`2${" ** 1".repeat(64)} == 2`)).toBe(true);
    expect(syntaxError(`2${" ** 1".repeat(65)}`)).toBe(deep);
  });
});
