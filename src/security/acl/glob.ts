/**
 * Redis glob matching for ACL key, channel and instance-name patterns: `*` any run, `?` one
 * character, `[abc]` / `[^a]` / `[a-z]` classes, `\x` a literal x. Strings are latin1 views of
 * bytes, so matching is byte-exact.
 *
 * src/backends/kv/glob.ts has the same matcher for KEYS and SCAN, but src/security cannot import
 * the backends (backends reach src/security through src/db0, and the layering forbids folder
 * cycles), hence this copy. It is the same linear algorithm: on a mismatch, only the last `*`
 * is retried one character further, so no pattern can make a check take exponential time.
 */

/** Where the class opening at p[i] === "[" ends, and whether c is in it. */
function inClass(p: string, i: number, c: string): { end: number; ok: boolean } {
  let j = i + 1;
  const negate = p[j] === "^";
  if (negate) j++;
  let ok = false;
  while (j < p.length && p[j] !== "]") {
    if (p[j] === "\\" && j + 1 < p.length) {
      ok ||= p[j + 1] === c;
      j += 2;
    } else if (j + 2 < p.length && p[j + 1] === "-" && p[j + 2] !== "]") {
      const a = p.charCodeAt(j);
      const b = p.charCodeAt(j + 2);
      const code = c.charCodeAt(0);
      ok ||= code >= Math.min(a, b) && code <= Math.max(a, b);
      j += 3;
    } else {
      ok ||= p[j] === c;
      j++;
    }
  }
  // An unclosed class runs to the end of the pattern, as in Redis.
  return { end: j < p.length ? j + 1 : j, ok: ok !== negate };
}

/** Whether `s` matches `pattern` (both latin1 strings). */
export function globMatch(pattern: string, s: string): boolean {
  if (pattern === "*") return true;
  let p = 0;
  let i = 0;
  let starP = -1;
  let starI = 0;
  while (i < s.length) {
    const pc = pattern[p];
    if (pc === "*") {
      while (pattern[p] === "*") p++;
      if (p === pattern.length) return true;
      starP = p;
      starI = i;
      continue;
    }
    if (p < pattern.length) {
      if (pc === "?") {
        p++;
        i++;
        continue;
      }
      if (pc === "[") {
        const m = inClass(pattern, p, s[i]);
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
    p = starP;
    i = ++starI;
  }
  while (pattern[p] === "*") p++;
  return p === pattern.length;
}
