/**
 * LCS (longest common subsequence of two string values), split out of ./strings.ts because the
 * dynamic-programming table and the match-run walk are a sizeable algorithm of their own.
 *
 * The table holds the LCS length of every pair of prefixes; walking it back from the end yields
 * the common bytes and, for IDX, the runs where both strings advance together, last run first.
 */

import { MapReply, type Reply } from "../../../engine/reply.ts";
import { err, syntaxError } from "../../../errors.ts";
import type { Keyspace } from "../keyspace.ts";
import { word } from "../parse.ts";
import { keyOf } from "../types.ts";
import { MAX_STRING, parseInt64 } from "./string-values.ts";

function lcsValue(ks: Keyspace, key: Buffer, now: number): Buffer {
  const e = ks.lookup(keyOf(key), now);
  if (e === undefined) return Buffer.alloc(0);
  if (e.type !== "string") throw err("The specified keys must contain string values");
  return e.value;
}

export function lcs(ks: Keyspace, args: Buffer[], now: number): Reply {
  const a = lcsValue(ks, args[0], now);
  const b = lcsValue(ks, args[1], now);
  let getLen = false;
  let getIdx = false;
  let withLen = false;
  let minLen = 0;
  for (let i = 2; i < args.length; i++) {
    const w = word(args[i]);
    if (w === "IDX") getIdx = true;
    else if (w === "LEN") getLen = true;
    else if (w === "WITHMATCHLEN") withLen = true;
    else if (w === "MINMATCHLEN" && i + 1 < args.length) {
      minLen = Math.max(0, Number(parseInt64(args[++i])));
    } else throw syntaxError();
  }
  if (getIdx && getLen) throw err("If you want both the length and indexes, please just use IDX.");
  const rowLen = b.length + 1;
  if ((a.length + 1) * rowLen > MAX_STRING / 4) {
    throw err("Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len");
  }
  // table[i * rowLen + j] = LCS length of a[0..i) and b[0..j).
  const table = new Uint32Array((a.length + 1) * rowLen);
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const at = i * rowLen + j;
      table[at] =
        a[i - 1] === b[j - 1]
          ? table[at - rowLen - 1] + 1
          : Math.max(table[at - rowLen], table[at - 1]);
    }
  }
  const total = table[a.length * rowLen + b.length];
  if (getLen) return total;
  // Walk back from the end, collecting the common bytes and the runs where both advance together.
  const out = Buffer.alloc(total);
  const matches: Reply[] = [];
  let run: number[] | null = null; // [aStart, aEnd, bStart, bEnd]
  const close = () => {
    if (run === null) return;
    const len = run[1] - run[0] + 1;
    if (len >= minLen) {
      const m: Reply[] = [
        [run[0], run[1]],
        [run[2], run[3]],
      ];
      if (withLen) m.push(len);
      matches.push(m);
    }
    run = null;
  };
  let i = a.length;
  let j = b.length;
  let k = total;
  while (i > 0 && j > 0) {
    if (a[i - 1] === b[j - 1]) {
      out[--k] = a[i - 1];
      if (run !== null && run[0] === i && run[2] === j) {
        run[0]--;
        run[2]--;
      } else {
        close();
        run = [i - 1, i - 1, j - 1, j - 1];
      }
      i--;
      j--;
    } else {
      close();
      if (table[(i - 1) * rowLen + j] > table[i * rowLen + j - 1]) i--;
      else j--;
    }
  }
  close();
  if (!getIdx) return out;
  return new MapReply([Buffer.from("matches"), matches, Buffer.from("len"), total]);
}
