/**
 * The seeded random choices shared by the RESP and JSON-RPC fuzz cases (./resp.ts, ./rpc.ts),
 * in a file of their own so neither case generator depends on the other.
 */
import type { Prng } from "../../src/backends/kv/prng.ts";

export const pick = <T>(rng: Prng, xs: readonly T[]): T => xs[rng.below(xs.length)];
export const chance = (rng: Prng, p: number): boolean => rng.nextU32() / 0x100000000 < p;
