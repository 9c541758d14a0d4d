/**
 * REDUCE: vectors projected to fewer dimensions by a random projection (a Gaussian matrix,
 * scaled so lengths are kept on average). The matrix comes from a seed the log gave when the
 * set was created, so every replica, and every restart, projects with the same one.
 */
import { SeededRandom } from "../sql/sql-random.ts";

/** The inputDim × dim projection matrix of `seed` (row-major by input component). */
export function projection(seed: string, inputDim: number, dim: number): Float32Array {
  const random = new SeededRandom();
  random.seed(`reduce:${seed}`);
  const uniform = (): number => (Number(random.next() >> 11n) + 0.5) / 2 ** 53;
  const m = new Float32Array(inputDim * dim);
  const scale = 1 / Math.sqrt(dim);
  for (let i = 0; i < m.length; i += 2) {
    // Box–Muller: two normal draws from two uniform ones.
    const r = Math.sqrt(-2 * Math.log(uniform()));
    const t = 2 * Math.PI * uniform();
    m[i] = r * Math.cos(t) * scale;
    if (i + 1 < m.length) m[i + 1] = r * Math.sin(t) * scale;
  }
  return m;
}

/** `input` projected by `matrix` to `dim` components. */
export function project(matrix: Float32Array, input: Float32Array, dim: number): Float32Array {
  const out = new Float32Array(dim);
  for (let i = 0; i < input.length; i++) {
    const x = input[i];
    if (x === 0) continue;
    const row = i * dim;
    for (let j = 0; j < dim; j++) out[j] += x * matrix[row + j];
  }
  return out;
}
