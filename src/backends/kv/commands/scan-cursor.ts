/**
 * The SCAN cursor scheme of SSCAN and ZSCAN (cursor and MATCH/COUNT parsing, and the hash-window
 * step), split out of ./sets.ts because it is shared by two families rather than about sets.
 */

import { err, syntaxError } from "../../../errors.ts";
import { parseInteger, word } from "../parse.ts";
import { keyOf } from "../types.ts";

const HASH_SPACE = 2 ** 32;
/** Upper bound on calls per full iteration, so each full scan costs O(64·n) at most. */
const MAX_WINDOWS = 64;

function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** A SCAN cursor: an unsigned decimal integer, else "ERR invalid cursor". */
export function parseCursor(b: Buffer): number {
  const s = b.toString("latin1");
  if (!/^[0-9]+$/.test(s)) throw err("invalid cursor");
  return Number(s);
}

/** MATCH/COUNT options of SSCAN/HSCAN/ZSCAN (after the cursor). */
export function parseScanOptions(opts: Buffer[]): { pattern: string | undefined; count: number } {
  let pattern: string | undefined;
  let count = 10;
  for (let i = 0; i < opts.length; i += 2) {
    const w = word(opts[i]);
    if (i + 1 >= opts.length) throw syntaxError();
    if (w === "COUNT") {
      count = parseInteger(opts[i + 1]);
      if (count < 1) throw syntaxError();
    } else if (w === "MATCH") {
      pattern = keyOf(opts[i + 1]);
    } else {
      throw syntaxError();
    }
  }
  return { pattern, count };
}

/**
 * One SCAN step over a collection. The cursor is a position in a 32-bit hash space of member
 * names; a call returns the members whose hash falls in [cursor, cursor + width), in collection
 * order, and the next cursor is the window's end (0 when the space is exhausted). A member's hash
 * never changes, so one present for the whole iteration is returned exactly once, however the
 * collection changes meanwhile. The width is sized for about `count` members per call, with at
 * most MAX_WINDOWS calls per iteration; a collection not larger than `count` comes back at once.
 */
export function scanWindow<T>(
  items: Iterable<T>,
  size: number,
  nameOf: (item: T) => string,
  cursor: number,
  count: number,
): { next: number; picked: T[] } {
  if (cursor >= HASH_SPACE) return { next: 0, picked: [] };
  const windows = Math.min(MAX_WINDOWS, Math.max(1, Math.ceil(size / count)));
  if (windows === 1 && cursor === 0) return { next: 0, picked: Array.from(items) };
  const end = cursor + Math.ceil(HASH_SPACE / windows);
  const picked: T[] = [];
  for (const item of items) {
    const h = hash32(nameOf(item));
    if (h >= cursor && h < end) picked.push(item);
  }
  return { next: end >= HASH_SPACE ? 0 : end, picked };
}
