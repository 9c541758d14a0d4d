/**
 * Redis glob-style pattern matching (KEYS, SCAN MATCH, HSCAN/SSCAN/ZSCAN MATCH, PSUBSCRIBE):
 * `*` any run, `?` one char, `[abc]`, `[^a]`, `[a-z]` classes, `\x` escapes. Works on latin1
 * strings, so it is byte-exact.
 *
 * The matcher is the classic two-pointer algorithm with a single backtrack point (the last `*`
 * seen): on a mismatch it retries from that star one character further. Each star only ever
 * moves forward, so the cost is O(pattern × string) in the worst case, never exponential — a
 * regular expression with many `.*` (or Redis's original recursion, CVE-2022-36021) can take
 * seconds on a pattern like `*a*a*a*a*b`, freezing the event loop.
 */

/** Length of the class starting at p[i] === "[" and whether c matches it. */
function matchClass(p: string, i: number, c: string): { end: number; ok: boolean } {
  let j = i + 1;
  let negate = false;
  if (p[j] === "^") {
    negate = true;
    j++;
  }
  let ok = false;
  while (j < p.length && p[j] !== "]") {
    if (p[j] === "\\" && j + 1 < p.length) {
      if (p[j + 1] === c) ok = true;
      j += 2;
    } else if (j + 2 < p.length && p[j + 1] === "-" && p[j + 2] !== "]") {
      let a = p[j];
      let b = p[j + 2];
      if (a > b) [a, b] = [b, a];
      if (c >= a && c <= b) ok = true;
      j += 3;
    } else {
      if (p[j] === c) ok = true;
      j++;
    }
  }
  // An unterminated class runs to the end of the pattern, as in Redis.
  return { end: j < p.length ? j + 1 : j, ok: negate ? !ok : ok };
}

/** True when `s` matches the glob `pattern` (both latin1 strings). */
export function globMatch(pattern: string, s: string): boolean {
  if (pattern === "*") return true;
  let p = 0;
  let i = 0;
  let starP = -1;
  let starI = 0;
  while (i < s.length) {
    if (p < pattern.length) {
      const pc = pattern[p];
      if (pc === "*") {
        while (p < pattern.length && pattern[p] === "*") p++;
        if (p === pattern.length) return true;
        starP = p;
        starI = i;
        continue;
      }
      if (pc === "?") {
        p++;
        i++;
        continue;
      }
      if (pc === "[") {
        const m = matchClass(pattern, p, s[i]);
        if (m.ok) {
          p = m.end;
          i++;
          continue;
        }
      } else if (pc === "\\" && p + 1 < pattern.length) {
        if (pattern[p + 1] === s[i]) {
          p += 2;
          i++;
          continue;
        }
      } else if (pc === s[i]) {
        p++;
        i++;
        continue;
      }
    }
    if (starP < 0) return false;
    // Let the last star swallow one more character and retry from just after it.
    p = starP;
    i = ++starI;
  }
  while (p < pattern.length && pattern[p] === "*") p++;
  return p === pattern.length;
}
