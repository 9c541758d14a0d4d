/**
 * Binary form of a ConfChange, carried in the data of "conf" log entries.
 *
 * Layout: one version byte (1), one type byte (1 addLearner, 2 promote, 3 remove), then the node
 * id as a big-endian float64 (ids are JS numbers). Fixed width keeps decoding total: anything
 * else is rejected, so a corrupt conf entry fails loudly instead of changing membership.
 */
import type { ConfChange } from "./types.ts";

const VERSION = 1;
const TYPES = ["addLearner", "promote", "remove"] as const;
const SIZE = 10;

export function encodeConfChange(cc: ConfChange): Uint8Array {
  const out = new Uint8Array(SIZE);
  const view = new DataView(out.buffer);
  view.setUint8(0, VERSION);
  view.setUint8(1, TYPES.indexOf(cc.type) + 1);
  view.setFloat64(2, cc.node);
  return out;
}

export function decodeConfChange(data: Uint8Array): ConfChange {
  if (data.byteLength !== SIZE) throw new Error("conf change: bad length");
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  if (view.getUint8(0) !== VERSION) throw new Error("conf change: unknown version");
  const type = TYPES[view.getUint8(1) - 1];
  const node = view.getFloat64(2);
  if (type === undefined) throw new Error("conf change: unknown type");
  if (!Number.isSafeInteger(node) || node <= 0) throw new Error("conf change: bad node id");
  return { type, node };
}
