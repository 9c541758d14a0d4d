/**
 * The bytes of a proposed log entry: the writes it carries plus their identity. A proposer puts
 * every write its clients sent since the last Raft round into one entry (up to a size cap), so
 * the per-entry work of Raft (propose, persist, replicate, apply bookkeeping) is shared by all of
 * them, as one fsync already is. Each write keeps its own reply: apply runs the ops in order and
 * the proposer answers each client with its op's result.
 *
 * `term` is the term the proposer believed current. An entry whose log term differs (a proposal
 * forwarded to a node that became leader of a later term only after it was sent) is skipped by
 * every replica, so a proposal is applied only in the term it was made for: once a node has
 * applied an entry of a later term, it knows for certain that its older proposals still waiting
 * will never apply, and may propose them again without risk of applying a write twice.
 *
 * `proposer`, `incarnation` and the request numbers (consecutive from `firstRequest`) let the
 * node that proposed an entry find the clients waiting for it when the entry is applied; every
 * other replica just applies it. The incarnation (random per process start) keeps a restarted
 * node from mistaking an entry it proposed in an earlier life, whose request numbers it has since
 * reused, for one of its current proposals.
 *
 * A fixed binary layout rather than msgpack: every durable write is encoded once and decoded by
 * every replica, and on this path a generic encoder's object walk costs more than the fsync share
 * of the write. Layout (big-endian):
 *
 *   [version u8 = 3][proposer u32][incarnation u32][first request f64][op count u32][term f64]
 *   per op: [now f64] call [batch count u32] then that many calls (EXEC's queued commands)
 *   call: [cmd length u8][cmd latin1][argc u32] then per arg [length u32][bytes]
 *
 * Numbers are JS numbers below 2^53, so f64 holds them exactly without BigInt. Version 2 (no term,
 * written before clustering) is still read; its entries apply whatever their log term.
 */
import type { Op, OpCall } from "../engine/contract.ts";
import { HeroError } from "../errors.ts";

export interface ProposalId {
  proposer: number;
  incarnation: number;
  /** Request number of the first op; op i has firstRequest + i. */
  firstRequest: number;
  count: number;
  /** The term the proposer made the proposal in (0: any, for version-2 entries). */
  term: number;
}

export interface Proposal extends ProposalId {
  ops: Op[];
}

const VERSION = 3;
const HEADER_V2 = 1 + 4 + 4 + 8 + 4;
const HEADER = HEADER_V2 + 8;

function callSize(c: OpCall): number {
  let n = 1 + c.cmd.length + 4;
  for (const a of c.args) n += 4 + a.byteLength;
  return n;
}

/** Encoded size of one op within an entry. */
export function opSize(op: Op): number {
  let n = 8 + callSize(op) + 4;
  if (op.batch !== undefined) for (const c of op.batch) n += callSize(c);
  return n;
}

function writeCall(b: Buffer, at: number, c: OpCall): number {
  if (c.cmd.length > 255) throw new HeroError("INTERNAL", "command name too long to replicate");
  b[at++] = c.cmd.length;
  at += b.write(c.cmd, at, "latin1");
  b.writeUInt32BE(c.args.length, at);
  at += 4;
  for (const a of c.args) {
    b.writeUInt32BE(a.byteLength, at);
    b.set(a, at + 4);
    at += 4 + a.byteLength;
  }
  return at;
}

/** Encodes ops[from, to) as one entry; `bytes` is the sum of their opSize. */
export function encodeProposal(
  id: Omit<ProposalId, "count">,
  ops: Op[],
  from = 0,
  to = ops.length,
  bytes = -1,
): Uint8Array {
  let size = HEADER;
  if (bytes >= 0) size += bytes;
  else for (let i = from; i < to; i++) size += opSize(ops[i]);
  // Every byte is written below. The proposer applies its own ops, never views of these bytes,
  // so a pooled buffer pins nothing that a backend keeps.
  const b = Buffer.allocUnsafe(size);
  b[0] = VERSION;
  b.writeUInt32BE(id.proposer, 1);
  b.writeUInt32BE(id.incarnation, 5);
  b.writeDoubleBE(id.firstRequest, 9);
  b.writeUInt32BE(to - from, 17);
  b.writeDoubleBE(id.term, 21);
  let at = HEADER;
  for (let i = from; i < to; i++) {
    const op = ops[i];
    b.writeDoubleBE(op.now, at);
    at = writeCall(b, at + 8, op);
    b.writeUInt32BE(op.batch?.length ?? 0, at);
    at += 4;
    if (op.batch !== undefined) for (const c of op.batch) at = writeCall(b, at, c);
  }
  if (at !== size) throw new HeroError("INTERNAL", "replicated write size mismatch");
  return b;
}

/** The entry's identity without decoding its ops (the proposer already holds them). */
export function proposalId(data: Uint8Array): ProposalId {
  const b = asBuffer(data);
  const v2 = b.length >= HEADER_V2 && b[0] === 2;
  if (!v2 && (b.length < HEADER || b[0] !== VERSION)) throw malformed();
  return {
    proposer: b.readUInt32BE(1),
    incarnation: b.readUInt32BE(5),
    firstRequest: b.readDoubleBE(9),
    count: b.readUInt32BE(17),
    term: v2 ? 0 : b.readDoubleBE(21),
  };
}

export function decodeProposal(data: Uint8Array): Proposal {
  const b = asBuffer(data);
  const id = proposalId(b);
  const ops: Op[] = [];
  let at = b[0] === 2 ? HEADER_V2 : HEADER;
  for (let i = 0; i < id.count; i++) {
    if (at + 8 > b.length) throw malformed();
    const now = b.readDoubleBE(at);
    const [call, next] = readCall(b, at + 8);
    const op: Op = { cmd: call.cmd, args: call.args, now };
    at = next;
    const count = readU32(b, at);
    at += 4;
    if (count > 0) {
      op.batch = [];
      for (let k = 0; k < count; k++) {
        const [c, after] = readCall(b, at);
        op.batch.push(c);
        at = after;
      }
    }
    ops.push(op);
  }
  if (at !== b.length) throw malformed();
  return { ...id, ops };
}

function readCall(b: Buffer, at: number): [OpCall, number] {
  if (at >= b.length) throw malformed();
  const len = b[at++];
  if (at + len > b.length) throw malformed();
  const cmd = b.toString("latin1", at, at + len);
  at += len;
  const argc = readU32(b, at);
  at += 4;
  const args: Buffer[] = new Array(argc);
  for (let i = 0; i < argc; i++) {
    const n = readU32(b, at);
    at += 4;
    if (at + n > b.length) throw malformed();
    args[i] = b.subarray(at, at + n);
    at += n;
  }
  return [{ cmd, args }, at];
}

function readU32(b: Buffer, at: number): number {
  if (at + 4 > b.length) throw malformed();
  return b.readUInt32BE(at);
}

const asBuffer = (u: Uint8Array): Buffer =>
  Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength);

const malformed = (): HeroError => new HeroError("INTERNAL", "malformed replicated write");
