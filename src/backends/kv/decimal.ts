/**
 * Exact decimal arithmetic for INCRBYFLOAT, split out of the string commands because it is a
 * number format of its own. Redis adds long doubles and prints at most 17 decimals; doing the
 * sum on m × 10^-s BigInts instead gives the same text for everyday inputs (0.1 + 0.2 reads back
 * as 0.3) without depending on the platform's extended-precision floats.
 */
import { err, notFloat } from "../../errors.ts";

/** An exact decimal m × 10^-s; INCRBYFLOAT's operands and result. */
export interface Decimal {
  m: bigint;
  s: number;
}
const DECIMAL_RE = /^([+-]?)([0-9]*)(?:\.([0-9]*))?(?:[eE]([+-]?[0-9]+))?$/;
const INFINITE_RE = /^[+-]?inf(inity)?$/i;
export const nanOrInf = () => err("increment would produce NaN or Infinity");

/** Parses a float the way Redis reads long doubles; null for an infinity. */
export function parseDecimal(b: Buffer): Decimal | null {
  const s = b.toString("latin1");
  if (INFINITE_RE.test(s)) return null;
  const m = s.length > 5120 ? null : DECIMAL_RE.exec(s);
  if (m === null || (m[2] === "" && (m[3] ?? "") === "")) throw notFloat();
  const digits = `${m[2]}${m[3] ?? ""}`.replace(/^0+/, "");
  if (digits === "") return { m: 0n, s: 0 };
  let scale = (m[3] ?? "").length - (m[4] === undefined ? 0 : Number(m[4]));
  const magnitude = digits.length - scale - 1; // decimal exponent of the leading digit
  if (magnitude > 4932 || magnitude < -4950) throw notFloat(); // beyond long double range
  let mant = BigInt(digits);
  if (scale < 0) {
    mant *= 10n ** BigInt(-scale);
    scale = 0;
  }
  return { m: m[1] === "-" ? -mant : mant, s: scale };
}

/** Redis's human-friendly long double text: at most 17 decimals, trailing zeros trimmed. */
export function formatDecimal({ m, s }: Decimal): string {
  const neg = m < 0n;
  let abs = neg ? -m : m;
  if (abs.toString().length - s > 4933) throw nanOrInf(); // past the long double range
  if (s > 17) {
    const div = 10n ** BigInt(s - 17);
    abs = abs / div + ((abs % div) * 2n >= div ? 1n : 0n);
    s = 17;
  }
  let text = abs.toString();
  if (s > 0) {
    text = text.padStart(s + 1, "0");
    const frac = text.slice(-s).replace(/0+$/, "");
    text = frac === "" ? text.slice(0, -s) : `${text.slice(0, -s)}.${frac}`;
  }
  return neg && text !== "0" ? `-${text}` : text;
}

/** The exact sum of two decimals, at the finer of their two scales. */
export function addDecimal(a: Decimal, b: Decimal): Decimal {
  const s = Math.max(a.s, b.s);
  return { m: a.m * 10n ** BigInt(s - a.s) + b.m * 10n ** BigInt(s - b.s), s };
}
