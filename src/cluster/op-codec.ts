/**
 * The bytes of a proposed write: the Op plus the proposal's identity. `proposer`, `incarnation`
 * and `request` let the node that proposed an entry find the client waiting for it when the entry
 * is applied; every other replica just applies it. The incarnation (random per process start)
 * keeps a restarted node from mistaking an entry it proposed in an earlier life, whose request
 * number it has since reused, for one of its current proposals.
 *
 * A fixed binary layout rather than msgpack: every durable write is encoded once and decoded by
 * every replica, and on this path a generic encoder's object walk costs more than the fsync share
 * of the write. Layout (big-endian):
 *
 *   [version u8 = 1][proposer u32][incarnation u32][request f64][now f64]
 *   call: [cmd length u8][cmd latin1][argc u32] then per arg [length u32][bytes]
 *   [batch count u32] then that many calls (EXEC's queued commands)
 *
 * Numbers are JS numbers below 2^53, so f64 holds them exactly without BigInt.
 */
import type { Op, OpCall } from "../backends/contract.ts";
import { HeroError } from "../errors.ts";

export interface Proposal {
  proposer: number;
  incarnation: number;
  request: number;
  op: Op;
}

const VERSION = 1;
const HEADER = 1 + 4 + 4 + 8 + 8;

function callSize(c: OpCall): number {
  let n = 1 + c.cmd.length + 4;
  for (const a of c.args) n += 4 + a.byteLength;
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

export function encodeProposal(p: Proposal): Uint8Array {
  const { op } = p;
  let size = HEADER + callSize(op) + 4;
  if (op.batch !== undefined) for (const c of op.batch) size += callSize(c);
  // Every byte is written below. The proposer applies its own op, never views of these bytes, so
  // a pooled buffer pins nothing that a backend keeps.
  const b = Buffer.allocUnsafe(size);
  b[0] = VERSION;
  b.writeUInt32BE(p.proposer, 1);
  b.writeUInt32BE(p.incarnation, 5);
  b.writeDoubleBE(p.request, 9);
  b.writeDoubleBE(op.now, 17);
  let at = writeCall(b, HEADER, op);
  b.writeUInt32BE(op.batch?.length ?? 0, at);
  at += 4;
  if (op.batch !== undefined) for (const c of op.batch) at = writeCall(b, at, c);
  return b;
}

/** The proposal's identity without decoding the op (the proposer already holds it). */
export function proposalId(data: Uint8Array): {
  proposer: number;
  incarnation: number;
  request: number;
} {
  const b = asBuffer(data);
  checkVersion(b);
  return {
    proposer: b.readUInt32BE(1),
    incarnation: b.readUInt32BE(5),
    request: b.readDoubleBE(9),
  };
}

export function decodeProposal(data: Uint8Array): Proposal {
  const b = asBuffer(data);
  checkVersion(b);
  const now = b.readDoubleBE(17);
  const [call, next] = readCall(b, HEADER);
  const op: Op = { cmd: call.cmd, args: call.args, now };
  let at = next;
  const count = readU32(b, at);
  at += 4;
  if (count > 0) {
    op.batch = [];
    for (let i = 0; i < count; i++) {
      const [c, after] = readCall(b, at);
      op.batch.push(c);
      at = after;
    }
  }
  if (at !== b.length) throw malformed();
  return {
    proposer: b.readUInt32BE(1),
    incarnation: b.readUInt32BE(5),
    request: b.readDoubleBE(9),
    op,
  };
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

function checkVersion(b: Buffer): void {
  if (b.length < HEADER || b[0] !== VERSION) throw malformed();
}

const asBuffer = (u: Uint8Array): Buffer =>
  Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength);

const malformed = (): HeroError => new HeroError("INTERNAL", "malformed replicated write");
