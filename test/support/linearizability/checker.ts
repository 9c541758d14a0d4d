/**
 * Linearizability checking by depth-first search (the Wing & Gong algorithm with a cache of
 * visited configurations, as in Lowe's refinement and Porcupine).
 *
 * How it works: every operation contributes a call event and, when it completed, a return event;
 * the events sit in one doubly linked list ordered by time. The search walks the list from the
 * front. At a call event it tries to make that operation take effect now: if the model accepts
 * the observed output, the operation is "lifted" (both its events unlinked, dancing-links style,
 * so they can be relinked in O(1) on backtrack) and the walk restarts at the front. Reaching a
 * return event means that operation had to take effect before this point and did not, so the last
 * choice is undone and the walk continues after the undone call. When no return event is left,
 * every completed operation has a place in the order: the history is linearizable.
 *
 * Operations with unknown output have no return event, so nothing ever forces them in: leaving
 * one out is the "never took effect" case, lifting it anywhere is "took effect then".
 *
 * The same (set of lifted operations, model state) configuration always leads to the same
 * outcome, so each one is recorded and never expanded twice. A configuration is recorded as one
 * compact string (the bitset's 16-bit halves as characters, then an interned id of the state), so
 * the lookup is exact and an entry costs tens of bytes. The cache is bounded: two generations,
 * the older one dropped when the newer fills half the budget. Dropping entries only costs
 * repeated work, because an entry on the current path can never be met again (deeper
 * configurations have strictly larger sets).
 */
import type { CheckOptions, CheckResult, Model, Operation } from "./types.ts";

const NIL = -1;
const DEFAULT_CACHE_BYTES = 128 * 1024 * 1024;
/** How many search steps pass between two looks at the clock. */
const CLOCK_EVERY = 1024;

type Outcome = { verdict: "ok" } | { verdict: "illegal" | "unknown"; info: string };

/**
 * Checks a history against a model. Keyed models are checked one key at a time (smallest
 * partitions first, so a violation in a small one is found even when a large one is slow).
 */
export function checkOperations<S, I, O>(
  model: Model<S, I, O>,
  ops: Operation<I, O>[],
  opts: CheckOptions = {},
): CheckResult {
  for (const op of ops) validate(op);
  const deadline = performance.now() + (opts.timeoutMs ?? Number.POSITIVE_INFINITY);
  const budget = opts.maxCacheBytes ?? DEFAULT_CACHE_BYTES;
  const keyOf = model.key?.bind(model);
  if (!keyOf) {
    const out = checkPartition(model, ops, deadline, budget);
    return out.verdict === "ok" ? { verdict: "ok" } : { verdict: out.verdict, info: out.info };
  }
  const groups = new Map<string, Operation<I, O>[]>();
  for (const op of ops) {
    const k = keyOf(op.input);
    const group = groups.get(k);
    if (group) group.push(op);
    else groups.set(k, [op]);
  }
  const ordered = [...groups].sort((a, b) => a[1].length - b[1].length);
  let undecided: CheckResult | undefined;
  for (const [key, group] of ordered) {
    const out = checkPartition(model, group, deadline, budget);
    if (out.verdict === "illegal") {
      return {
        verdict: "illegal",
        partition: key,
        info: `key ${JSON.stringify(key)}: ${out.info}`,
      };
    }
    if (out.verdict === "unknown" && !undecided) {
      undecided = {
        verdict: "unknown",
        partition: key,
        info: `key ${JSON.stringify(key)}: ${out.info}`,
      };
    }
  }
  return undecided ?? { verdict: "ok" };
}

function validate<I, O>(op: Operation<I, O>): void {
  if (!Number.isFinite(op.call)) throw new Error(`operation call time must be finite: ${op.call}`);
  if (op.output === undefined) return;
  if (!Number.isFinite(op.ret) || op.ret < op.call) {
    throw new Error(
      `completed operation needs call <= ret < Infinity (call ${op.call}, ret ${op.ret})`,
    );
  }
}

/** The search over one independent sub-history. */
function checkPartition<S, I, O>(
  model: Model<S, I, O>,
  ops: Operation<I, O>[],
  deadline: number,
  budget: number,
): Outcome {
  const n = ops.length;
  const head = 2 * n; // sentinel; entry 2i is op i's call, 2i+1 its return
  const next = new Int32Array(2 * n + 1).fill(NIL);
  const prev = new Int32Array(2 * n + 1).fill(NIL);
  const completed = new Uint8Array(n);
  linkEvents(ops, completed, next, prev, head);

  const unlink = (e: number): void => {
    const p = prev[e];
    const q = next[e];
    next[p] = q;
    if (q !== NIL) prev[q] = p;
  };
  const relink = (e: number): void => {
    const p = prev[e];
    const q = next[e];
    next[p] = e;
    if (q !== NIL) prev[q] = e;
  };

  const hashState = model.hash ? model.hash.bind(model) : (s: S) => JSON.stringify(s);
  const lifted = new Bitset(n);
  const cache = new VisitedCache(budget);
  const stackOp = new Int32Array(n);
  const stackState: (S | undefined)[] = new Array(n);
  let depth = 0;
  let state = model.init();
  let deepest = -1;
  let blocker = -1;
  let steps = 0;
  let cur = next[head];

  while (cur !== NIL) {
    if (++steps % CLOCK_EVERY === 0 && performance.now() > deadline) {
      return { verdict: "unknown", info: `timed out after ${steps} steps (${n} operations)` };
    }
    if ((cur & 1) === 0) {
      const i = cur >>> 1;
      const op = ops[i];
      const res = model.step(state, op.input, op.output);
      if (res.ok) {
        lifted.toggle(i);
        if (cache.addIfAbsent(lifted, hashState(res.state))) {
          stackOp[depth] = i;
          stackState[depth] = state;
          depth++;
          state = res.state;
          unlink(2 * i);
          if (completed[i]) unlink(2 * i + 1);
          cur = next[head];
          continue;
        }
        lifted.toggle(i);
      }
      cur = next[cur];
      continue;
    }
    // A return event: its operation was due before this point and is not placed.
    if (depth > deepest) {
      deepest = depth;
      blocker = cur >>> 1;
    }
    if (depth === 0) break;
    depth--;
    const i = stackOp[depth];
    state = stackState[depth] as S;
    stackState[depth] = undefined;
    lifted.toggle(i);
    if (completed[i]) relink(2 * i + 1);
    relink(2 * i);
    cur = next[2 * i];
  }
  if (cur === NIL) return { verdict: "ok" };
  const op = ops[blocker];
  const completedCount = completed.reduce((a, b) => a + b, 0);
  return {
    verdict: "illegal",
    info:
      `no linearization; the longest prefix found places ${deepest} operations, then cannot ` +
      `place client ${op.client}'s ${JSON.stringify(op.input)} -> ${JSON.stringify(op.output)} ` +
      `[${op.call}, ${op.ret}] (${completedCount} completed operations in all)`,
  };
}

/** Orders the events by time (calls before returns on ties, i.e. equal stamps overlap). */
function linkEvents<I, O>(
  ops: Operation<I, O>[],
  completed: Uint8Array,
  next: Int32Array,
  prev: Int32Array,
  head: number,
): void {
  const events: number[] = [];
  for (let i = 0; i < ops.length; i++) {
    events.push(2 * i);
    if (ops[i].output !== undefined) {
      completed[i] = 1;
      events.push(2 * i + 1);
    }
  }
  const time = (e: number): number => ((e & 1) === 0 ? ops[e >>> 1].call : ops[e >>> 1].ret);
  events.sort((a, b) => time(a) - time(b) || (a & 1) - (b & 1) || a - b);
  let last = head;
  for (const e of events) {
    next[last] = e;
    prev[e] = last;
    last = e;
  }
  next[last] = NIL;
}

/** The set of lifted operations. */
class Bitset {
  readonly words: Uint32Array;

  constructor(size: number) {
    this.words = new Uint32Array(Math.max(1, (size + 31) >>> 5));
  }

  toggle(i: number): void {
    this.words[i >>> 5] ^= 1 << (i & 31);
  }

  /** A fixed-length string naming exactly this set. */
  encode(): string {
    let out = "";
    for (const w of this.words) out += String.fromCharCode(w & 0xffff, w >>> 16);
    return out;
  }
}

/**
 * Visited (lifted set, state) pairs, in two generations to keep memory bounded. States are
 * interned to small ids so a long state (an appended string) is stored once, not per entry; the
 * intern table shares the budget, and when it alone outgrows a quarter of it everything is
 * dropped (ids must never be reused while an entry still refers to them).
 */
class VisitedCache {
  private young = new Set<string>();
  private old = new Set<string>();
  private youngBytes = 0;
  private stateIds = new Map<string, number>();
  private stateBytes = 0;
  private readonly budget: number;

  constructor(budget: number) {
    this.budget = budget;
  }

  /** Records the configuration; false when it was already there. */
  addIfAbsent(set: Bitset, state: string): boolean {
    let id = this.stateIds.get(state);
    if (id === undefined) {
      id = this.stateIds.size;
      this.stateIds.set(state, id);
      this.stateBytes += state.length * 2 + 64;
    }
    const key = set.encode() + id.toString(36);
    if (this.young.has(key) || this.old.has(key)) return false;
    this.young.add(key);
    this.youngBytes += key.length * 2 + 48;
    if (this.stateBytes > this.budget / 4) this.clear();
    else if (this.youngBytes > (this.budget - this.stateBytes) / 2) {
      this.old = this.young;
      this.young = new Set();
      this.youngBytes = 0;
    }
    return true;
  }

  private clear(): void {
    this.young = new Set();
    this.old = new Set();
    this.youngBytes = 0;
    this.stateIds = new Map();
    this.stateBytes = 0;
  }
}
