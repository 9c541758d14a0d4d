/**
 * The randomness SQL statements draw (random(), randomblob()) on a SQL instance's writer: a
 * xorshift128+ generator seeded from text the log gives (an entry's index and the op's place in
 * it, or a transaction's seed and the statement's place), so every replica draws the same
 * numbers for the same statement. Fast, and not for cryptography (neither is SQLite's).
 */
import { createHash } from "node:crypto";

const MASK = (1n << 64n) - 1n;

export class SeededRandom {
  private s0 = 1n;
  private s1 = 2n;

  seed(text: string): void {
    const h = createHash("sha256").update(text).digest();
    this.s0 = h.readBigUInt64LE(0) | 1n;
    this.s1 = h.readBigUInt64LE(8) | 1n;
  }

  next(): bigint {
    let x = this.s0;
    const y = this.s1;
    this.s0 = y;
    x ^= (x << 23n) & MASK;
    this.s1 = x ^ y ^ (x >> 17n) ^ (y >> 26n);
    return (this.s1 + y) & MASK;
  }

  int64(): bigint {
    return BigInt.asIntN(64, this.next());
  }

  bytes(n: number): Buffer {
    const out = Buffer.alloc(n);
    for (let i = 0; i < n; i += 8) {
      const v = this.next();
      for (let k = 0; k < 8 && i + k < n; k++) out[i + k] = Number((v >> BigInt(8 * k)) & 0xffn);
    }
    return out;
  }
}
