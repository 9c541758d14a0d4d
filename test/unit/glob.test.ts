/**
 * Redis glob matching (src/backends/kv/glob.ts) as KEYS, SCAN MATCH and PSUBSCRIBE use it:
 * wildcards, classes with ranges and negation, escapes, byte-exact latin1 strings, the odd
 * patterns Redis defines behaviour for, and a bound on matching time for hostile patterns.
 */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { globMatch } from "../../src/glob.ts";

/** [pattern, matching strings, non-matching strings] */
type Case = [string, string[], string[]];

function check(cases: Case[]): void {
  for (const [pattern, yes, no] of cases) {
    for (const s of yes)
      expect(globMatch(pattern, s), `${pattern} ~ ${JSON.stringify(s)}`).toBe(true);
    for (const s of no)
      expect(globMatch(pattern, s), `${pattern} !~ ${JSON.stringify(s)}`).toBe(false);
  }
}

describe("wildcards", () => {
  it("* matches any run, including empty and newlines", () => {
    check([
      ["*", ["", "a", "a\nb", "\x00\xff"], []],
      ["h*llo", ["hllo", "hello", "heeeello", "h\nllo"], ["hell", "hello!", "xhello"]],
      ["*:*", [":", "user:1", "a:b:c"], ["user1", ""]],
      ["**", ["", "abc"], []],
    ]);
  });

  it("? matches exactly one byte", () => {
    check([
      ["h?llo", ["hello", "hallo", "h\nllo", "h\xffllo"], ["hllo", "heello"]],
      ["???", ["abc", "\r\n\x00"], ["ab", "abcd"]],
    ]);
  });

  it("anchors at both ends, even before a trailing newline", () => {
    check([
      ["a", ["a"], ["a\n", "\na", "ab", "ba", ""]],
      ["a*", ["a", "ab\n"], ["ba"]],
      ["", [""], ["a", "\n"]],
    ]);
  });

  it("treats regular-expression characters literally", () => {
    check([
      ["a.c", ["a.c"], ["abc"]],
      ["(a|b)+$^{1}", ["(a|b)+$^{1}"], ["a", "b"]],
      ["a/b-c", ["a/b-c"], ["a/bxc"]],
    ]);
  });
});

describe("classes", () => {
  it("matches listed bytes, ranges and reversed ranges", () => {
    check([
      ["h[ae]llo", ["hallo", "hello"], ["hillo", "hllo", "haello"]],
      ["[a-c]x", ["ax", "bx", "cx"], ["dx", "Ax", "x"]],
      ["[c-a]x", ["ax", "bx", "cx"], ["dx"]],
      ["[0-9a-f]", ["0", "9", "a", "f"], ["g", "G", "-"]],
      ["[a-]", ["a", "-"], ["b"]],
      ["[-a]", ["a", "-"], ["b"]],
    ]);
  });

  it("negates with ^", () => {
    check([
      ["h[^e]llo", ["hallo", "h\nllo"], ["hello", "hllo"]],
      ["[^a-c]", ["d", "\x00"], ["a", "b", "c", ""]],
      ["[^]", ["x", "]"], ["", "xy"]],
    ]);
  });

  it("takes regular-expression characters in a class literally", () => {
    check([
      ["[.]", ["."], ["a"]],
      ["[\\^]", ["^"], ["a"]],
      ["[a^]", ["a", "^"], ["b"]],
      ["[$(|)]", ["$", "(", "|", ")"], ["a"]],
      ["[!-/]", ["!", "/", "-", "+"], ["0"]],
    ]);
  });

  it("escapes inside a class", () => {
    check([
      ["[\\]]", ["]"], ["\\", "x"]],
      ["[\\-a]", ["-", "a"], ["b"]],
      ["[a\\]b]", ["a", "]", "b"], ["\\"]],
      ["[\\\\]", ["\\"], ["x"]],
    ]);
  });

  it("never matches an empty class", () => {
    check([
      ["[]", [], ["", "a", "]"]],
      ["a[]", [], ["a", "a]"]],
    ]);
  });

  it("treats an unterminated class as running to the end of the pattern", () => {
    check([
      ["[abc", ["a", "b", "c"], ["", "ab", "["]],
      ["x[^a", ["xb"], ["xa", "x"]],
      ["[a\\", ["a", "\\"], ["b"]],
    ]);
  });
});

describe("escapes", () => {
  it("makes special characters literal", () => {
    check([
      ["\\*", ["*"], ["a", ""]],
      ["a\\?", ["a?"], ["ab"]],
      ["\\[a]", ["[a]"], ["a"]],
      ["\\\\", ["\\"], ["\\\\"]],
      ["\\a", ["a"], ["\\a"]],
    ]);
  });

  it("matches a trailing backslash literally", () => {
    check([["ab\\", ["ab\\"], ["ab"]]]);
  });
});

describe("binary strings", () => {
  it("compares latin1 bytes exactly, case-sensitively", () => {
    check([
      ["\xff*", ["\xff", "\xff\x00"], ["\xfe"]],
      ["[\x80-\xff]", ["\x80", "\xc3", "\xff"], ["\x7f", "a"]],
      ["\x00?\x00", ["\x00a\x00"], ["\x00\x00"]],
      ["Key", ["Key"], ["key", "KEY"]],
    ]);
  });

  it("keeps giving the same answers once many patterns have been seen", () => {
    for (let i = 0; i < 1500; i++) expect(globMatch(`k${i}*`, `k${i}x`)).toBe(true);
    expect(globMatch("k1*", "k1x")).toBe(true);
    expect(globMatch("k1?", "k1")).toBe(false);
  });
});

describe("hostile patterns", () => {
  it("answer in linear-ish time (Redis bounds this since CVE-2022-36021)", () => {
    // Run in a child process: a regular expression that backtracks exponentially would block
    // this worker with no way to time it out.
    const glob = fileURLToPath(new URL("../../src/glob.ts", import.meta.url));
    const script = `
      const { globMatch } = await import(${JSON.stringify(glob)});
      const t = performance.now();
      const r = globMatch("*a*a*a*a*a*a*a*a*a*a*a*a*b", "a".repeat(64));
      console.log(JSON.stringify({ r, ms: performance.now() - t }));`;
    const res = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
      timeout: 5000,
      encoding: "utf8",
    });
    expect(res.signal, "matching did not finish within 5 s").toBeNull();
    expect(JSON.parse(res.stdout).r).toBe(false);
  });
});
