/**
 * Vectors for the vector-instance tests: deterministic pseudo-random ones (the same for a seed
 * on every run) and the VALUES form VADD and VSIM take them in.
 */

/** A pseudo-random vector of `dim` components in [-1, 1], four decimals, from `seed`. */
export function vectorOf(seed: number, dim: number): number[] {
  let s = seed * 2654435761 + 1;
  return Array.from({ length: dim }, () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return Number(((s / 2147483648) * 2 - 1).toFixed(4));
  });
}

/** `VALUES n v1 … vn`. */
export const values = (v: number[]): string[] => ["VALUES", String(v.length), ...v.map(String)];
