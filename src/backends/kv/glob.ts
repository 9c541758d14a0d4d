/**
 * Redis glob-style pattern matching (KEYS, SCAN MATCH, HSCAN/SSCAN/ZSCAN MATCH, PSUBSCRIBE):
 * `*` any run, `?` one char, `[abc]`, `[^a]`, `[a-z]` classes, `\x` escapes. Works on latin1
 * strings, so it is byte-exact. Patterns are compiled once into a RegExp and cached, because SCAN
 * and PSUBSCRIBE apply the same pattern to many strings.
 */

const cache = new Map<string, RegExp>();

function escapeRe(c: string): string {
  return /[\\^$.*+?()[\]{}|/-]/.test(c) ? `\\${c}` : c;
}

function compile(pattern: string): RegExp {
  let re = "^";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === "*") {
      re += "[\\s\\S]*";
    } else if (c === "?") {
      re += "[\\s\\S]";
    } else if (c === "\\" && i + 1 < pattern.length) {
      re += escapeRe(pattern[++i]);
    } else if (c === "[") {
      let j = i + 1;
      let negate = false;
      if (pattern[j] === "^") {
        negate = true;
        j++;
      }
      let cls = "";
      while (j < pattern.length && pattern[j] !== "]") {
        if (pattern[j] === "\\" && j + 1 < pattern.length) {
          cls += escapeRe(pattern[j + 1]);
          j += 2;
        } else if (pattern[j + 1] === "-" && j + 2 < pattern.length && pattern[j + 2] !== "]") {
          let a = pattern[j];
          let b = pattern[j + 2];
          if (a > b) [a, b] = [b, a];
          cls += `${escapeRe(a)}-${escapeRe(b)}`;
          j += 3;
        } else {
          cls += escapeRe(pattern[j]);
          j++;
        }
      }
      // An unterminated class matches like Redis: the rest is the class.
      re += cls === "" ? (negate ? "[\\s\\S]" : "(?!)") : `[${negate ? "^" : ""}${cls}]`;
      i = j;
    } else {
      re += escapeRe(c);
    }
  }
  return new RegExp(`${re}$`);
}

/** True when `s` matches the glob `pattern` (both latin1 strings). */
export function globMatch(pattern: string, s: string): boolean {
  if (pattern === "*") return true;
  let re = cache.get(pattern);
  if (re === undefined) {
    re = compile(pattern);
    if (cache.size > 1000) cache.clear();
    cache.set(pattern, re);
  }
  return re.test(s);
}
