/**
 * Argument parsing with Redis's rules and error strings, shared by every command family.
 * Integers are strict (no spaces, no '+', no leading zeros but "0", within 64-bit range and, since
 * JS numbers are doubles, within ±2^53 for exact arithmetic); floats accept inf/-inf like Redis.
 */
import { type HeroError, notFloat, notInteger } from "../../errors.ts";

const INT_RE = /^-?(0|[1-9][0-9]*)$/;

/** A Redis integer argument, or throws "value is not an integer or out of range". */
export function parseInteger(b: Buffer | string, error: () => HeroError = notInteger): number {
  const s = typeof b === "string" ? b : b.toString("latin1");
  if (s.length > 20 || !INT_RE.test(s)) throw error();
  const n = Number(s);
  if (!Number.isSafeInteger(n)) throw error();
  return n;
}

/** A Redis float argument (accepts inf, +inf, -inf), or throws "value is not a valid float". */
export function parseFloat64(b: Buffer | string, error: () => HeroError = notFloat): number {
  const s = (typeof b === "string" ? b : b.toString("latin1")).toLowerCase();
  if (s === "inf" || s === "+inf" || s === "infinity" || s === "+infinity")
    return Number.POSITIVE_INFINITY;
  if (s === "-inf" || s === "-infinity") return Number.NEGATIVE_INFINITY;
  if (s.length === 0 || /\s/.test(s) || s === "nan") throw error();
  const n = Number(s);
  if (Number.isNaN(n)) throw error();
  return n;
}

/** Upper-cased option word, for matching NX/XX/EX/… case-insensitively. */
export const word = (b: Buffer): string => b.toString("latin1").toUpperCase();

/** Redis's reply text for a double in bulk replies (INCRBYFLOAT, ZSCORE in RESP2). */
export function formatFloat(n: number): string {
  if (n === Number.POSITIVE_INFINITY) return "inf";
  if (n === Number.NEGATIVE_INFINITY) return "-inf";
  // 17 significant digits, trailing zeros trimmed, like Redis's %.17Lg.
  let s = n.toPrecision(17);
  if (s.includes("e")) {
    const [m, e] = s.split("e");
    const mt = m.includes(".") ? m.replace(/0+$/, "").replace(/\.$/, "") : m;
    const exp = Number(e);
    return `${mt}e${exp < 0 ? "-" : "+"}${String(Math.abs(exp)).padStart(2, "0")}`;
  }
  if (s.includes(".")) s = s.replace(/0+$/, "").replace(/\.$/, "");
  // Prefer the shortest round-trip form when it is exact (3.1 rather than 3.1000000000000001).
  const short = String(n);
  if (!short.includes("e") && Number(short) === n && short.length < s.length) return short;
  return s;
}
