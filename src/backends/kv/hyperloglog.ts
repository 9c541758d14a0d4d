/**
 * Redis's HyperLogLog representation, byte for byte, as a pure module (no keyspace, no clock).
 *
 * Why: PFADD/PFCOUNT/PFMERGE must give the same estimates as Redis 7 and store the same bytes,
 * so that GET, DUMP-style copies and clients that parse the value see what redis-server would
 * hold. How: an HLL is a string with a 16-byte header ("HYLL", encoding byte 0 = dense or
 * 1 = sparse, 3 unused bytes, the cached cardinality as a little-endian uint64 whose top bit
 * marks it stale) and then the registers: 16384 registers of 6 bits, either dense (12288 bytes,
 * packed from the least significant bit) or sparse (run-length opcodes ZERO 00xxxxxx, XZERO
 * 01xxxxxx yyyyyyyy, VAL 1vvvvvxx). Elements are hashed with MurmurHash64A (seed 0xadc83b19):
 * the low 14 bits pick a register, the run of zeros above them (plus one) is its candidate value.
 * Sparse updates split and re-merge opcodes exactly as Redis's hllSparseSet does, and promote to
 * dense past hll-sparse-max-bytes (3000, Redis's default) or for a value above 32, so the bytes
 * match. The estimate is Ertl's improved estimator from register histograms, as Redis's hllCount.
 * 64-bit arithmetic is done on 32-bit halves (BigInt would be far slower per element).
 */

export const HLL_HDR_SIZE = 16;
export const HLL_REGISTERS = 16384;
const HLL_P = 14;
const HLL_Q = 64 - HLL_P;
const HLL_P_MASK = HLL_REGISTERS - 1;
export const HLL_DENSE_SIZE = HLL_HDR_SIZE + ((HLL_REGISTERS * 6 + 7) >> 3); // 12304
export const HLL_DENSE = 0;
export const HLL_SPARSE = 1;
/** Redis's hll-sparse-max-bytes default: a sparse HLL longer than this becomes dense. */
export const HLL_SPARSE_MAX_BYTES = 3000;
const SPARSE_VAL_MAX_VALUE = 32;
const SPARSE_VAL_MAX_LEN = 4;
const SPARSE_ZERO_MAX_LEN = 64;
const SPARSE_XZERO_MAX_LEN = 16384;
const ALPHA_INF = 0.7213475204444817; // 0.5 / ln(2), Redis's HLL_ALPHA_INF as a double

// ---------------------------------------------------------------- MurmurHash64A (32-bit halves)

/** (ah:al) * (bh:bl) mod 2^64, into OUT[0] (high) and OUT[1] (low), as unsigned 32-bit values. */
const OUT = new Uint32Array(2);
function mul64(ah: number, al: number, bh: number, bl: number): void {
  const a48 = ah >>> 16;
  const a32 = ah & 0xffff;
  const a16 = al >>> 16;
  const a00 = al & 0xffff;
  const b48 = bh >>> 16;
  const b32 = bh & 0xffff;
  const b16 = bl >>> 16;
  const b00 = bl & 0xffff;
  let c00 = a00 * b00;
  let c16 = c00 >>> 16;
  c00 &= 0xffff;
  c16 += a16 * b00;
  let c32 = c16 >>> 16;
  c16 &= 0xffff;
  c16 += a00 * b16;
  c32 += c16 >>> 16;
  c16 &= 0xffff;
  c32 += a32 * b00;
  let c48 = c32 >>> 16;
  c32 &= 0xffff;
  c32 += a16 * b16;
  c48 += c32 >>> 16;
  c32 &= 0xffff;
  c32 += a00 * b32;
  c48 += c32 >>> 16;
  c32 &= 0xffff;
  c48 += a48 * b00 + a32 * b16 + a16 * b32 + a00 * b48;
  c48 &= 0xffff;
  OUT[0] = (c48 << 16) | c32;
  OUT[1] = (c16 << 16) | c00;
}

const M_HI = 0xc6a4a793;
const M_LO = 0x5bd1e995;
const SEED = 0xadc83b19;

/** MurmurHash64A(data, len, 0xadc83b19) as [high, low] 32-bit halves in OUT. */
export function murmur64(data: Uint8Array): void {
  const len = data.length;
  mul64(0, len, M_HI, M_LO);
  let hh = OUT[0];
  let hl = (OUT[1] ^ SEED) >>> 0;
  const end = len - (len & 7);
  let i = 0;
  for (; i < end; i += 8) {
    const kl = (data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24)) >>> 0;
    const kh = (data[i + 4] | (data[i + 5] << 8) | (data[i + 6] << 16) | (data[i + 7] << 24)) >>> 0;
    mul64(kh, kl, M_HI, M_LO); // k *= m
    let xh = OUT[0];
    let xl = OUT[1];
    xl = (xl ^ (xh >>> 15)) >>> 0; // k ^= k >> 47
    mul64(xh, xl, M_HI, M_LO); // k *= m
    xh = OUT[0];
    xl = OUT[1];
    hh = (hh ^ xh) >>> 0; // h ^= k
    hl = (hl ^ xl) >>> 0;
    mul64(hh, hl, M_HI, M_LO); // h *= m
    hh = OUT[0];
    hl = OUT[1];
  }
  const rest = len & 7;
  if (rest > 0) {
    for (let j = rest - 1; j >= 0; j--) {
      const b = data[i + j];
      if (j >= 4) hh = (hh ^ (b << (8 * (j - 4)))) >>> 0;
      else hl = (hl ^ (b << (8 * j))) >>> 0;
    }
    mul64(hh, hl, M_HI, M_LO);
    hh = OUT[0];
    hl = OUT[1];
  }
  hl = (hl ^ (hh >>> 15)) >>> 0; // h ^= h >> 47
  mul64(hh, hl, M_HI, M_LO); // h *= m
  hh = OUT[0];
  hl = (OUT[1] ^ (hh >>> 15)) >>> 0; // h ^= h >> 47
  OUT[0] = hh;
  OUT[1] = hl;
}

/** An element's register (index) and candidate value (count), as Redis's hllPatLen. */
export function patLen(ele: Uint8Array): { index: number; count: number } {
  murmur64(ele);
  const hh = OUT[0];
  const hl = OUT[1];
  const index = hl & HLL_P_MASK;
  // hash >>= 14, then set bit 50 so the run ends by then (count <= Q + 1).
  const lo = (hl >>> HLL_P) | (hh << (32 - HLL_P)) | 0;
  const hi = (hh >>> HLL_P) | (1 << (HLL_Q - 32)) | 0;
  const tz = lo !== 0 ? 31 - Math.clz32(lo & -lo) : 32 + 31 - Math.clz32(hi & -hi);
  return { index, count: tz + 1 };
}

// ---------------------------------------------------------------- header and validity

/** Whether `b` is a string Redis accepts as an HLL (isHLLObjectOrReply). */
export function isHll(b: Uint8Array): boolean {
  if (b.length < HLL_HDR_SIZE) return false;
  if (b[0] !== 0x48 || b[1] !== 0x59 || b[2] !== 0x4c || b[3] !== 0x4c) return false; // "HYLL"
  if (b[4] > HLL_SPARSE) return false;
  return b[4] !== HLL_DENSE || b.length === HLL_DENSE_SIZE;
}

export const validCache = (b: Uint8Array): boolean => (b[15] & 0x80) === 0;
export const invalidateCache = (b: Uint8Array): void => {
  b[15] |= 0x80;
};

/** The cached cardinality (meaningful when validCache). */
export function cachedCard(b: Uint8Array): bigint {
  let v = 0n;
  for (let i = 15; i >= 8; i--) v = (v << 8n) | BigInt(b[i]);
  return v;
}

/** Writes a cardinality into the header cache (which makes it valid when below 2^63). */
export function setCachedCard(b: Uint8Array, card: bigint): void {
  let v = BigInt.asUintN(64, card);
  for (let i = 8; i < 16; i++) {
    b[i] = Number(v & 0xffn);
    v >>= 8n;
  }
}

// ---------------------------------------------------------------- dense registers

export function denseGet(b: Uint8Array, regnum: number): number {
  const at = HLL_HDR_SIZE + ((regnum * 6) >> 3);
  const fb = (regnum * 6) & 7;
  const b1 = at + 1 < b.length ? b[at + 1] : 0;
  return ((b[at] >> fb) | (b1 << (8 - fb))) & 63;
}

export function denseSet(b: Uint8Array, regnum: number, val: number): void {
  const at = HLL_HDR_SIZE + ((regnum * 6) >> 3);
  const fb = (regnum * 6) & 7;
  const fb8 = 8 - fb;
  b[at] = (b[at] & ~(63 << fb)) | (val << fb);
  if (at + 1 < b.length) b[at + 1] = (b[at + 1] & ~(63 >> fb8)) | (val >> fb8);
}

// ---------------------------------------------------------------- sparse representation

const isZero = (op: number) => (op & 0xc0) === 0;
const isXzero = (op: number) => (op & 0xc0) === 0x40;
const isVal = (op: number) => (op & 0x80) !== 0;
const zeroLen = (op: number) => (op & 0x3f) + 1;
const xzeroLen = (op: number, next: number) => (((op & 0x3f) << 8) | next) + 1;
const valValue = (op: number) => ((op >> 2) & 0x1f) + 1;
const valLen = (op: number) => (op & 3) + 1;
const valOp = (val: number, len: number) => (((val - 1) << 2) | (len - 1) | 0x80) & 0xff;

/** A new empty HLL, as PFADD creates it: sparse, one XZERO of 16384, cache 0 (valid). */
export function createHll(): Uint8Array {
  const b = new Uint8Array(HLL_HDR_SIZE + 2);
  b.set([0x48, 0x59, 0x4c, 0x4c, HLL_SPARSE]);
  const l = SPARSE_XZERO_MAX_LEN - 1;
  b[16] = (l >> 8) | 0x40;
  b[17] = l & 0xff;
  return b;
}

/**
 * A working HLL value: `bytes[0..len)` is the string; a sparse value keeps spare room so an
 * opcode split can grow it in place. `toBytes()` gives the exact string to store.
 */
export class HllValue {
  bytes: Uint8Array;
  len: number;

  constructor(bytes: Uint8Array, len = bytes.length) {
    this.bytes = bytes;
    this.len = len;
  }

  get encoding(): number {
    return this.bytes[4];
  }

  /** The value as exactly `len` bytes (a view: copy it if the working buffer is reused). */
  toBytes(): Uint8Array {
    return this.bytes.subarray(0, this.len);
  }

  /** PFADD of one element: 1 when a register grew, 0 when not, -1 for a corrupt HLL. */
  add(ele: Uint8Array): number {
    const { index, count } = patLen(ele);
    return this.set(index, count);
  }

  /** Raises register `index` to `count` if below it: 1 / 0, or -1 for a corrupt sparse HLL. */
  set(index: number, count: number): number {
    if (this.encoding === HLL_DENSE) {
      if (count <= denseGet(this.bytes, index)) return 0;
      denseSet(this.bytes, index, count);
      return 1;
    }
    return this.sparseSet(index, count);
  }

  /** Converts a sparse value to dense in place (hllSparseToDense); false when corrupt. */
  toDense(): boolean {
    if (this.encoding === HLL_DENSE) return true;
    const dense = new Uint8Array(HLL_DENSE_SIZE);
    dense.set(this.bytes.subarray(0, HLL_HDR_SIZE)); // magic, unused bytes, cached cardinality
    dense[4] = HLL_DENSE;
    const p0 = this.bytes;
    const end = this.len;
    let idx = 0;
    let p = HLL_HDR_SIZE;
    while (p < end) {
      const op = p0[p];
      if (isZero(op)) {
        idx += zeroLen(op);
        p++;
      } else if (isXzero(op)) {
        idx += xzeroLen(op, p + 1 < end ? p0[p + 1] : 0);
        p += 2;
      } else {
        let runlen = valLen(op);
        const regval = valValue(op);
        if (runlen + idx > HLL_REGISTERS) return false; // overflow: corrupt (Redis 7.0.15)
        while (runlen-- > 0) denseSet(dense, idx++, regval);
        p++;
      }
    }
    if (idx !== HLL_REGISTERS) return false;
    this.bytes = dense;
    this.len = HLL_DENSE_SIZE;
    return true;
  }

  private ensureRoom(extra: number): void {
    if (this.len + extra <= this.bytes.length) return;
    const grown = new Uint8Array(Math.max(this.len + extra, this.bytes.length * 2));
    grown.set(this.bytes.subarray(0, this.len));
    this.bytes = grown;
  }

  /** Redis's hllSparseSet: splits the opcode covering `index`, then re-merges VAL neighbours. */
  private sparseSet(index: number, count: number): number {
    if (count > SPARSE_VAL_MAX_VALUE) return this.promote(index, count);
    this.ensureRoom(3);
    const s = this.bytes;
    let end = this.len;
    // Step 1: find the opcode covering `index`.
    let p = HLL_HDR_SIZE;
    let first = 0;
    let prev = -1;
    let span = 0;
    while (p < end) {
      const op = s[p];
      let oplen = 1;
      if (isZero(op)) span = zeroLen(op);
      else if (isVal(op)) span = valLen(op);
      else {
        span = xzeroLen(op, s[p + 1]);
        oplen = 2;
      }
      if (index <= first + span - 1) break;
      prev = p;
      p += oplen;
      first += span;
    }
    if (span === 0 || p >= end) return -1;
    const op = s[p];
    let next = isXzero(op) ? p + 2 : p + 1;
    if (next >= end) next = -1;
    const zero = isZero(op);
    const xzero = isXzero(op);
    const runlen = zero ? zeroLen(op) : xzero ? xzeroLen(op, s[p + 1]) : valLen(op);

    let updated = false;
    if (!zero && !xzero) {
      if (valValue(op) >= count) return 0; // case A
      if (runlen === 1) {
        s[p] = valOp(count, 1); // case B
        updated = true;
      }
    }
    if (!updated && zero && runlen === 1) {
      s[p] = valOp(count, 1); // case C
      updated = true;
    }
    if (!updated) {
      // Case D: split into up to three opcodes (at most 5 bytes).
      const seq: number[] = [];
      const last = first + span - 1;
      const zeros = (len: number) => {
        if (len > SPARSE_ZERO_MAX_LEN) seq.push(((len - 1) >> 8) | 0x40, (len - 1) & 0xff);
        else seq.push(len - 1);
      };
      if (zero || xzero) {
        if (index !== first) zeros(index - first);
        seq.push(valOp(count, 1));
        if (index !== last) zeros(last - index);
      } else {
        const cur = valValue(op);
        if (index !== first) seq.push(valOp(cur, index - first));
        seq.push(valOp(count, 1));
        if (index !== last) seq.push(valOp(cur, last - index));
      }
      const oldlen = xzero ? 2 : 1;
      const delta = seq.length - oldlen;
      if (delta > 0 && this.len + delta > HLL_SPARSE_MAX_BYTES) {
        return this.promote(index, count);
      }
      if (delta !== 0 && next >= 0) s.copyWithin(next + delta, next, end);
      this.len += delta;
      s.set(seq, p);
      end += delta;
    }
    // Step 4: merge adjacent VAL opcodes with the same value, scanning up to 5 from prev.
    let q = prev >= 0 ? prev : HLL_HDR_SIZE;
    let scan = 5;
    while (q < end && scan-- !== 0) {
      const o = s[q];
      if (isXzero(o)) {
        q += 2;
        continue;
      }
      if (isZero(o)) {
        q++;
        continue;
      }
      if (q + 1 < end && isVal(s[q + 1])) {
        const v1 = valValue(o);
        if (v1 === valValue(s[q + 1])) {
          const len = valLen(o) + valLen(s[q + 1]);
          if (len <= SPARSE_VAL_MAX_LEN) {
            s[q + 1] = valOp(v1, len);
            s.copyWithin(q, q + 1, end);
            this.len--;
            end--;
            continue;
          }
        }
      }
      q++;
    }
    invalidateCache(s);
    return 1;
  }

  private promote(index: number, count: number): number {
    if (!this.toDense()) return -1;
    denseSet(this.bytes, index, count); // the register must grow: Redis asserts it did
    return 1;
  }
}

// ---------------------------------------------------------------- merge and count

/** max[i] = MAX(max[i], register i of `b`) (hllMerge); false for a corrupt sparse HLL. */
export function mergeInto(max: Uint8Array, b: Uint8Array): boolean {
  if (b[4] === HLL_DENSE) {
    for (let i = 0; i < HLL_REGISTERS; i++) {
      const v = denseGet(b, i);
      if (v > max[i]) max[i] = v;
    }
    return true;
  }
  const end = b.length;
  let p = HLL_HDR_SIZE;
  let i = 0;
  while (p < end) {
    const op = b[p];
    if (isZero(op)) {
      i += zeroLen(op);
      p++;
    } else if (isXzero(op)) {
      i += xzeroLen(op, p + 1 < end ? b[p + 1] : 0);
      p += 2;
    } else {
      let runlen = valLen(op);
      const regval = valValue(op);
      if (runlen + i > HLL_REGISTERS) return false; // overflow: corrupt (Redis 7.0.15)
      while (runlen-- > 0) {
        if (regval > max[i]) max[i] = regval;
        i++;
      }
      p++;
    }
  }
  return i === HLL_REGISTERS;
}

/** Histogram of register values of a stored HLL; null when a sparse one is corrupt. */
export function histogram(b: Uint8Array): Float64Array | null {
  const h = new Float64Array(64);
  if (b[4] === HLL_DENSE) {
    for (let i = 0; i < HLL_REGISTERS; i++) h[denseGet(b, i)]++;
    return h;
  }
  const end = b.length;
  let p = HLL_HDR_SIZE;
  let idx = 0;
  while (p < end) {
    const op = b[p];
    if (isZero(op)) {
      idx += zeroLen(op);
      h[0] += zeroLen(op);
      p++;
    } else if (isXzero(op)) {
      const n = xzeroLen(op, p + 1 < end ? b[p + 1] : 0);
      idx += n;
      h[0] += n;
      p += 2;
    } else {
      idx += valLen(op);
      h[valValue(op)] += valLen(op);
      p++;
    }
  }
  return idx === HLL_REGISTERS ? h : null;
}

/** Histogram of one-byte-per-register values (PFCOUNT of several keys). */
export function rawHistogram(max: Uint8Array): Float64Array {
  const h = new Float64Array(64);
  for (let i = 0; i < HLL_REGISTERS; i++) h[max[i] & 63]++;
  return h;
}

function sigma(x: number): number {
  if (x === 1) return Number.POSITIVE_INFINITY;
  let y = 1;
  let z = x;
  let zPrime: number;
  do {
    x *= x;
    zPrime = z;
    z += x * y;
    y += y;
  } while (zPrime !== z);
  return z;
}

function tau(x: number): number {
  if (x === 0 || x === 1) return 0;
  let y = 1;
  let z = 1 - x;
  let zPrime: number;
  do {
    x = Math.sqrt(x);
    zPrime = z;
    y *= 0.5;
    const d = 1 - x;
    z -= d * d * y; // pow(1 - x, 2) is exactly the rounded square
  } while (zPrime !== z);
  return z / 3;
}

const INT64_MIN = -(2n ** 63n);

/** Ertl's estimator over a register histogram, rounded as Redis's llroundl (integer reply). */
export function estimate(h: Float64Array): number | bigint {
  const m = HLL_REGISTERS;
  let z = m * tau((m - h[HLL_Q + 1]) / m);
  for (let j = HLL_Q; j >= 1; j--) {
    z += h[j];
    z *= 0.5;
  }
  z += m * sigma(h[0] / m);
  const e = Math.round((ALPHA_INF * m * m) / z);
  if (!Number.isFinite(e) || e >= 2 ** 63) return INT64_MIN; // llroundl overflow on x86-64
  return Number.isSafeInteger(e) ? e : BigInt(e);
}

/** The estimate of a stored HLL (not using its cache); null when corrupt. */
export function countHll(b: Uint8Array): number | bigint | null {
  const h = histogram(b);
  return h === null ? null : estimate(h);
}
