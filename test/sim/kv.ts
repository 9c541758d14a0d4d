/**
 * The replicated state machine of the simulation: a Map of string keys with put and cas applied
 * from committed log entries, plus client sessions (client id → last sequence number and its
 * result) so that a write proposed twice — a client retry, a duplicated forward — changes the
 * state once and the retry still gets the first application's answer. Gets never enter the log:
 * they are served from local state after a ReadIndex round.
 *
 * Entries and snapshots are JSON in UTF-8: slow-ish but readable in a failure trace, and the
 * runs are small.
 */
import type { KvOutput } from "../support/linearizability/index.ts";

export interface KvOp {
  client: number;
  seq: number;
  key: string;
  op: "put" | "get" | "cas";
  /** put: the new value; cas: the value to set when the current one equals `from`. */
  value?: string;
  from?: string | null;
}

/** A client's request to one node (one attempt of one operation). */
export interface ClientRequest {
  client: number;
  /** Identifies the client's current operation; replies to older operations are ignored. */
  token: number;
  op: KvOp;
}

export type ClientReply =
  | { client: number; token: number; kind: "done"; output: KvOutput }
  /** The node could not take the request (no leader known, not leader…): try `leader` next. */
  | { client: number; token: number; kind: "retry"; leader: number };

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeOp(op: KvOp): Uint8Array {
  return encoder.encode(JSON.stringify(op));
}

export function decodeOp(data: Uint8Array): KvOp {
  return JSON.parse(decoder.decode(data)) as KvOp;
}

export function bytesToText(data: Uint8Array): string {
  return decoder.decode(data);
}

interface Session {
  seq: number;
  result: KvOutput;
}

interface KvImage {
  data: [string, string][];
  sessions: [number, Session][];
}

export class KvMachine {
  readonly data = new Map<string, string>();
  readonly sessions = new Map<number, Session>();

  /** Applies a write once per (client, seq); a replay of the latest seq returns its result. */
  apply(op: KvOp): KvOutput {
    const session = this.sessions.get(op.client);
    if (session && op.seq <= session.seq) {
      // An older seq than the latest means the client already gave up on it: no effect, and
      // nobody waits for the answer.
      return op.seq === session.seq ? session.result : { ok: false };
    }
    let result: KvOutput;
    if (op.op === "put") {
      this.data.set(op.key, op.value!);
      result = { ok: true };
    } else if (op.op === "cas") {
      const current = this.data.get(op.key) ?? null;
      if (current === (op.from ?? null)) {
        this.data.set(op.key, op.value!);
        result = { ok: true };
      } else {
        result = { ok: false };
      }
    } else {
      throw new Error(`a ${op.op} must not reach the log`);
    }
    this.sessions.set(op.client, { seq: op.seq, result });
    return result;
  }

  get(key: string): string | null {
    return this.data.get(key) ?? null;
  }

  serialize(): Uint8Array {
    const image: KvImage = { data: [...this.data], sessions: [...this.sessions] };
    return encoder.encode(JSON.stringify(image));
  }

  /** A canonical text of the whole state, for comparing replicas. */
  fingerprint(): string {
    const data = [...this.data].sort((a, b) => (a[0] < b[0] ? -1 : 1));
    const sessions = [...this.sessions].sort((a, b) => a[0] - b[0]);
    return JSON.stringify({ data, sessions });
  }

  static restore(bytes: Uint8Array): KvMachine {
    const m = new KvMachine();
    if (bytes.length === 0) return m;
    const image = JSON.parse(decoder.decode(bytes)) as KvImage;
    for (const [k, v] of image.data) m.data.set(k, v);
    for (const [c, s] of image.sessions) m.sessions.set(c, s);
    return m;
  }
}
