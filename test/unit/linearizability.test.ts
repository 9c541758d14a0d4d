/**
 * Tests for the linearizability checker on small hand-written histories whose verdicts can be
 * worked out by hand, plus a randomized cross-check against a brute-force search over all
 * orders (independent of the checker's list/cache machinery), so a pruning bug shows up as a
 * disagreement on some seed.
 */
import { describe, expect, it } from "vitest";
import {
  checkOperations,
  type KvInput,
  type KvOutput,
  kvModel,
  type Model,
  type Operation,
  type RegisterInput,
  type RegisterOutput,
  registerModel,
} from "../support/linearizability/index.ts";

type RegOp = Operation<RegisterInput, RegisterOutput>;
type KvOp = Operation<KvInput, KvOutput>;

const read = (client: number, call: number, ret: number, value: number | null): RegOp => ({
  client,
  call,
  ret,
  input: { op: "read" },
  output: { ok: true, value },
});
const write = (client: number, call: number, ret: number, value: number): RegOp => ({
  client,
  call,
  ret,
  input: { op: "write", value },
  output: { ok: true },
});
/** A write whose client never heard back. */
const lostWrite = (client: number, call: number, value: number): RegOp => ({
  client,
  call,
  ret: Number.POSITIVE_INFINITY,
  input: { op: "write", value },
  output: undefined,
});
const cas = (
  client: number,
  call: number,
  ret: number,
  from: number | null,
  to: number,
  ok: boolean | undefined,
): RegOp => ({
  client,
  call,
  ret: ok === undefined ? Number.POSITIVE_INFINITY : ret,
  input: { op: "cas", from, to },
  output: ok === undefined ? undefined : { ok },
});

const verdict = (ops: RegOp[]) => checkOperations(registerModel, ops).verdict;

describe("register histories", () => {
  it("accepts the empty history and a read of the unset register", () => {
    expect(verdict([])).toBe("ok");
    expect(verdict([read(0, 0, 1, null)])).toBe("ok");
  });

  it("accepts a sequential history and rejects a sequential stale read", () => {
    const seq = [write(0, 0, 1, 1), read(1, 2, 3, 1), write(0, 4, 5, 2), read(1, 6, 7, 2)];
    expect(verdict(seq)).toBe("ok");
    expect(verdict([...seq, read(2, 8, 9, 1)])).toBe("illegal");
  });

  it("accepts overlapping writes seen in either order while they overlap", () => {
    const ops = [
      write(0, 0, 10, 1),
      write(1, 1, 9, 2),
      read(2, 2, 3, 2),
      read(3, 4, 5, 1),
      read(2, 11, 12, 1),
    ];
    expect(verdict(ops)).toBe("ok");
  });

  it("rejects reads that flip between values after both writes completed", () => {
    const ops = [write(0, 0, 10, 1), write(1, 1, 9, 2), read(2, 11, 12, 1), read(2, 13, 14, 2)];
    expect(verdict(ops)).toBe("illegal");
  });

  it("accepts a read concurrent with a write returning either value", () => {
    for (const seen of [null, 5]) {
      expect(verdict([write(0, 0, 10, 5), read(1, 2, 3, seen)])).toBe("ok");
    }
  });

  it("rejects a stale read after a completed write", () => {
    const ops = [write(0, 0, 1, 1), write(1, 2, 3, 2), read(2, 4, 5, 1)];
    const res = checkOperations(registerModel, ops);
    expect(res.verdict).toBe("illegal");
    expect(res.partition).toBeUndefined();
    expect(res.info).toContain('"op":"read"');
  });

  it("rejects a read of a value never written", () => {
    expect(verdict([write(0, 0, 1, 1), write(1, 0, 2, 2), read(2, 1, 3, 7)])).toBe("illegal");
    expect(verdict([read(0, 0, 1, 0)])).toBe("illegal");
  });

  it("treats a read that returns at the same instant another call starts as overlapping", () => {
    expect(verdict([read(0, 0, 5, 1), write(1, 5, 6, 1)])).toBe("ok");
    expect(verdict([read(0, 0, 4, 1), write(1, 5, 6, 1)])).toBe("illegal");
  });

  it("lets an indeterminate write take effect or not", () => {
    const base = [write(0, 0, 1, 1), lostWrite(1, 2, 2)];
    expect(verdict([...base, read(2, 3, 4, 1)])).toBe("ok"); // not (yet) applied
    expect(verdict([...base, read(2, 3, 4, 2)])).toBe("ok"); // applied
    expect(verdict([...base, read(2, 3, 4, 1), read(2, 5, 6, 2)])).toBe("ok"); // applied late
    expect(verdict([...base, read(2, 3, 4, 2), read(2, 5, 6, 1)])).toBe("illegal");
    expect(verdict([...base, read(2, 3, 4, 3)])).toBe("illegal");
  });

  it("does not let an indeterminate write take effect before it was called", () => {
    expect(verdict([read(0, 0, 1, 9), lostWrite(1, 2, 9)])).toBe("illegal");
  });

  it("checks cas chains", () => {
    const chain = [
      write(0, 0, 1, 0),
      cas(1, 2, 3, 0, 1, true),
      cas(2, 4, 5, 1, 2, true),
      cas(0, 6, 7, 0, 9, false),
      read(1, 8, 9, 2),
    ];
    expect(verdict(chain)).toBe("ok");
    // A cas that found its expected value cannot have failed.
    expect(verdict([write(0, 0, 1, 0), cas(1, 2, 3, 0, 1, false)])).toBe("illegal");
    // A cas cannot succeed against a value that is not there.
    expect(verdict([write(0, 0, 1, 0), cas(1, 2, 3, 5, 1, true)])).toBe("illegal");
    // Two concurrent cas from the same value cannot both succeed...
    const both = [write(0, 0, 1, 0), cas(1, 2, 5, 0, 1, true), cas(2, 2, 5, 0, 2, true)];
    expect(verdict(both)).toBe("illegal");
    // ...but can when a concurrent write puts the value back in between.
    expect(verdict([...both, write(3, 2, 5, 0)])).toBe("ok");
    // Cas on the unset register.
    expect(verdict([cas(0, 0, 1, null, 4, true), read(1, 2, 3, 4)])).toBe("ok");
  });

  it("lets an indeterminate cas take effect or not", () => {
    const base = [write(0, 0, 1, 0), cas(1, 2, 0, 0, 5, undefined)];
    expect(verdict([...base, read(2, 3, 4, 5)])).toBe("ok");
    expect(verdict([...base, read(2, 3, 4, 0)])).toBe("ok");
    // Once the value has moved away from 0 the lost cas can no longer apply.
    const moved = [write(0, 0, 1, 7), cas(1, 2, 0, 0, 5, undefined), read(2, 3, 4, 5)];
    expect(verdict(moved)).toBe("illegal");
  });

  it("ignores failed writes and failed or timed-out reads", () => {
    const failedWrite: RegOp = { ...write(1, 2, 3, 9), output: { ok: false } };
    const failedRead: RegOp = { ...read(2, 2, 3, 0), output: { ok: false } };
    const ops = [write(0, 0, 1, 1), failedWrite, failedRead, read(0, 4, 5, 1)];
    expect(verdict(ops)).toBe("ok");
    expect(verdict([write(0, 0, 1, 1), failedWrite, read(0, 4, 5, 9)])).toBe("illegal");
  });

  it("rejects malformed operations", () => {
    expect(() => verdict([write(0, 5, 4, 1)])).toThrow(/call <= ret/);
    expect(() => verdict([{ ...write(0, 0, 1, 1), ret: Number.POSITIVE_INFINITY }])).toThrow();
  });
});

const kv = (
  client: number,
  call: number,
  ret: number,
  input: KvInput,
  output: KvOutput | undefined = { ok: true },
): KvOp => ({ client, call, ret, input, output });
const get = (client: number, call: number, ret: number, key: string, value: string | null) =>
  kv(client, call, ret, { op: "get", key }, { ok: true, value });
const put = (client: number, call: number, ret: number, key: string, value: string) =>
  kv(client, call, ret, { op: "put", key, value });
const append = (client: number, call: number, ret: number, key: string, value: string) =>
  kv(client, call, ret, { op: "append", key, value });

describe("key-value histories", () => {
  it("checks get, put, append and cas on one key", () => {
    const ops = [
      get(0, 0, 1, "k", null),
      append(0, 2, 3, "k", "a"),
      put(1, 4, 5, "k", "x"),
      append(1, 6, 7, "k", "y"),
      kv(0, 8, 9, { op: "cas", key: "k", from: "xy", to: "z" }),
      get(0, 10, 11, "k", "z"),
    ];
    expect(checkOperations(kvModel, ops).verdict).toBe("ok");
    const wrong = [...ops.slice(0, 4), get(0, 8, 9, "k", "yx")];
    expect(checkOperations(kvModel, wrong).verdict).toBe("illegal");
  });

  it("accepts concurrent appends in either order but not interleaved otherwise", () => {
    const appends = [append(0, 0, 5, "k", "a"), append(1, 0, 5, "k", "b")];
    for (const seen of ["ab", "ba", "a", "b", null]) {
      expect(checkOperations(kvModel, [...appends, get(2, 1, 4, "k", seen)]).verdict).toBe("ok");
    }
    for (const seen of ["aab", "c", ""]) {
      const res = checkOperations(kvModel, [...appends, get(2, 1, 4, "k", seen)]);
      expect(res.verdict).toBe("illegal");
    }
  });

  /** Many keys, each with a small concurrent linearizable history. */
  function manyKeys(count: number): KvOp[] {
    const ops: KvOp[] = [];
    for (let k = 0; k < count; k++) {
      const key = `key-${k}`;
      const t = k % 7;
      ops.push(put(k % 5, t, t + 4, key, "v1"), append((k + 1) % 5, t + 1, t + 6, key, "+"));
      ops.push(get((k + 2) % 5, t + 2, t + 3, key, k % 2 === 0 ? "v1" : null));
      ops.push(get((k + 3) % 5, t + 7, t + 8, key, "v1+"));
    }
    return ops;
  }

  it("finds a violation on one key among many and names the key", () => {
    const ops = manyKeys(200);
    expect(checkOperations(kvModel, ops).verdict).toBe("ok");
    ops.push(get(9, 100, 101, "key-123", "v1")); // stale: the append completed long before
    const res = checkOperations(kvModel, ops);
    expect(res.verdict).toBe("illegal");
    expect(res.partition).toBe("key-123");
    expect(res.info).toContain("key-123");
  });
});

describe("limits", () => {
  /** Many concurrent appends and an impossible read: the search must try every order. */
  function hardHistory(n: number): KvOp[] {
    const ops: KvOp[] = [];
    for (let i = 0; i < n; i++) ops.push(append(i, 0, 100, "k", String.fromCharCode(97 + i)));
    ops.push(get(n, 1, 99, "k", "impossible"));
    return ops;
  }

  it("returns unknown when the timeout passes before a verdict", () => {
    const res = checkOperations(kvModel, hardHistory(16), { timeoutMs: 50 });
    expect(res.verdict).toBe("unknown");
    expect(res.partition).toBe("k");
    expect(res.info).toMatch(/timed out/);
  });

  it("still decides correctly with a tiny cache budget", () => {
    const res = checkOperations(kvModel, hardHistory(6), { maxCacheBytes: 2_000 });
    expect(res.verdict).toBe("illegal");
    const ops = [...hardHistory(6).slice(0, 6), get(9, 1, 99, "k", "fba")];
    expect(checkOperations(kvModel, ops, { maxCacheBytes: 2_000 }).verdict).toBe("ok");
  });
});

/** Tries every order (and every subset of indeterminate operations): exponential, tiny inputs. */
function bruteForce<S, I, O>(model: Model<S, I, O>, ops: Operation<I, O>[]): boolean {
  const placed = new Array<boolean>(ops.length).fill(false);
  const search = (state: S, remaining: number): boolean => {
    if (remaining === 0) return true;
    for (let i = 0; i < ops.length; i++) {
      if (placed[i]) continue;
      // i may go next only if no unplaced completed operation returned before i was called.
      const blocked = ops.some(
        (o, j) => !placed[j] && o.output !== undefined && o.ret < ops[i].call,
      );
      if (blocked) continue;
      const res = model.step(state, ops[i].input, ops[i].output);
      if (!res.ok) continue;
      placed[i] = true;
      const left = remaining - (ops[i].output === undefined ? 0 : 1);
      const found = search(res.state, left);
      placed[i] = false;
      if (found) return true;
    }
    return false;
  };
  return search(model.init(), ops.filter((o) => o.output !== undefined).length);
}

describe("agreement with brute force", () => {
  it("matches on random small register histories", () => {
    let seed = 12345;
    const rand = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return (seed >>> 8) % n;
    };
    let illegal = 0;
    for (let round = 0; round < 400; round++) {
      const ops: RegOp[] = [];
      const count = 2 + rand(6);
      for (let i = 0; i < count; i++) {
        const call = rand(20);
        const ret = call + rand(8);
        const v = rand(3);
        const kind = rand(10);
        if (kind < 4) ops.push(read(i, call, ret, rand(4) === 0 ? null : v));
        else if (kind < 7) ops.push(write(i, call, ret, v));
        else if (kind < 8) ops.push(lostWrite(i, call, v));
        else ops.push(cas(i, call, ret, v, rand(3), rand(4) === 0 ? undefined : rand(2) === 0));
      }
      const expected = bruteForce(registerModel, ops) ? "ok" : "illegal";
      if (expected === "illegal") illegal++;
      expect(verdict(ops), JSON.stringify(ops)).toBe(expected);
    }
    // The generator must exercise both outcomes for the comparison to mean anything.
    expect(illegal).toBeGreaterThan(40);
    expect(illegal).toBeLessThan(360);
  });
});
