/**
 * The bytes of a proposed write: the Op plus the proposal's identity. `proposer` and `request`
 * let the node that proposed an entry find the client waiting for it when the entry is applied;
 * every other replica just applies it.
 */
import { Packr } from "msgpackr";
import type { Op } from "../backends/contract.ts";

const packr = new Packr({ useRecords: false, moreTypes: false });

export interface Proposal {
  proposer: number;
  request: number;
  op: Op;
}

interface Wire {
  p: number;
  r: number;
  c: string;
  a: Uint8Array[];
  n: number;
  b?: { c: string; a: Uint8Array[] }[];
}

const toBuf = (u: Uint8Array): Buffer => Buffer.from(u.buffer, u.byteOffset, u.byteLength);

export function encodeProposal(p: Proposal): Uint8Array {
  const w: Wire = { p: p.proposer, r: p.request, c: p.op.cmd, a: p.op.args, n: p.op.now };
  if (p.op.batch !== undefined) w.b = p.op.batch.map((x) => ({ c: x.cmd, a: x.args }));
  return packr.pack(w);
}

export function decodeProposal(data: Uint8Array): Proposal {
  const w = packr.unpack(data) as Wire;
  const op: Op = { cmd: w.c, args: w.a.map(toBuf), now: w.n };
  if (w.b !== undefined) op.batch = w.b.map((x) => ({ cmd: x.c, args: x.a.map(toBuf) }));
  return { proposer: w.p, request: w.r, op };
}
