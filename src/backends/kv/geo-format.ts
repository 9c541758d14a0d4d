/**
 * How the GEO commands print numbers, exactly as Redis 7.0 does: distances with printf's "%.4f"
 * and coordinates with "%.17Lf", trailing zeros trimmed. Both round the double's exact binary
 * value half to even, which JS's toFixed does not (it rounds ties away from zero and gives up
 * past 1e21), so the digits are computed here with BigInt.
 */

/**
 * A double printed with `decimals` places, rounded from its exact binary value half-to-even,
 * as glibc's printf("%.Nf") does (Number.toFixed rounds ties away from zero).
 */
export function toFixedExact(d: number, decimals: number): string {
  if (!Number.isFinite(d)) return Number.isNaN(d) ? "nan" : d > 0 ? "inf" : "-inf";
  const neg = d < 0 || Object.is(d, -0);
  const a = Math.abs(d);
  // a = m * 2^e exactly, m integer.
  const buf = new DataView(new ArrayBuffer(8));
  buf.setFloat64(0, a);
  const hiWord = buf.getUint32(0);
  const loWord = buf.getUint32(4);
  const expBits = (hiWord >>> 20) & 0x7ff;
  let m = (BigInt(hiWord & 0xfffff) << 32n) | BigInt(loWord);
  let e: number;
  if (expBits === 0) e = -1074;
  else {
    m |= 1n << 52n;
    e = expBits - 1075;
  }
  // scaled = a * 10^decimals = m * 2^e * 10^decimals; round to an integer half-to-even.
  let num = m * 10n ** BigInt(decimals);
  let den = 1n;
  if (e >= 0) num <<= BigInt(e);
  else den <<= BigInt(-e);
  let q = num / den;
  const r2 = (num % den) * 2n;
  if (r2 > den || (r2 === den && (q & 1n) === 1n)) q += 1n;
  let digits = q.toString();
  if (decimals > 0) {
    digits = digits.padStart(decimals + 1, "0");
    digits = `${digits.slice(0, -decimals)}.${digits.slice(-decimals)}`;
  }
  return neg ? `-${digits}` : digits;
}

/** A coordinate as Redis prints it (ld2string human mode: %.17Lf, trailing zeros trimmed). */
export function formatCoord(d: number): string {
  let s = toFixedExact(d, 17);
  if (s.includes(".")) s = s.replace(/0+$/, "").replace(/\.$/, "");
  if (s === "-0") s = "0";
  return s;
}

/** A distance as Redis prints it (%.4f). */
export const formatDistance = (d: number): string => toFixedExact(d, 4);
