/**
 * Framing of the node-to-node transport (src/cluster/frames.ts): frames split across chunks at
 * every byte, many frames in one chunk, headers split across chunks, binary fields that must not
 * pin (or alias) the chunk they arrived in, and frames the decoder must refuse.
 */
import { describe, expect, it } from "vitest";
import {
  encodeFrame,
  FRAME_HEADER_BYTES,
  FrameDecoder,
  FrameError,
  frameBodyBytes,
} from "../../src/cluster/frames.ts";

// Binary fields decode as Buffers (a Uint8Array subclass), so the expected values use them too.
const message = (i: number) => ({
  type: "append",
  from: 1,
  to: 2,
  term: 7,
  index: 1_000_000 + i,
  entries: [{ index: i, term: 7, type: "normal", data: Buffer.from([i & 255, 1, 2, 3]) }],
});

function decodeAll(chunks: Buffer[], max = 1 << 20): unknown[] {
  const decoder = new FrameDecoder(max);
  const out: unknown[] = [];
  for (const c of chunks) decoder.push(c, (b) => out.push(b));
  expect(decoder.pendingBytes).toBe(0);
  return out;
}

describe("frames", () => {
  it("encodes a length header in front of a MessagePack body", () => {
    const frame = encodeFrame({ t: "hello", from: 3 });
    expect(frame.readUInt32BE(0)).toBe(frame.length - FRAME_HEADER_BYTES);
    expect(frameBodyBytes(frame)).toBe(frame.length - FRAME_HEADER_BYTES);
    expect(decodeAll([frame])).toEqual([{ t: "hello", from: 3 }]);
  });

  it("keeps earlier frames intact while encoding later ones", () => {
    const frames = Array.from({ length: 500 }, (_, i) => encodeFrame(message(i)));
    expect(decodeAll(frames)).toEqual(frames.map((_, i) => message(i)));
  });

  it("decodes frames split at every byte boundary", () => {
    const stream = Buffer.concat([encodeFrame(message(1)), encodeFrame(message(2))]);
    for (let cut = 1; cut < stream.length; cut++) {
      const parts = [stream.subarray(0, cut), stream.subarray(cut)];
      expect(decodeAll(parts)).toEqual([message(1), message(2)]);
    }
    const bytes = [...stream].map((b) => Buffer.from([b]));
    expect(decodeAll(bytes)).toEqual([message(1), message(2)]);
  });

  it("decodes many frames from one chunk, in order", () => {
    const n = 10_000;
    const stream = Buffer.concat(Array.from({ length: n }, (_, i) => encodeFrame(message(i))));
    const out = decodeAll([stream]);
    expect(out.length).toBe(n);
    expect(out[0]).toEqual(message(0));
    expect(out[n - 1]).toEqual(message(n - 1));
  });

  it("reassembles a large frame from many chunks", () => {
    const data = Buffer.alloc(3 * 1024 * 1024 + 17, 0xab);
    const stream = Buffer.concat([encodeFrame({ snapshot: data }), encodeFrame({ after: 1 })]);
    const chunks: Buffer[] = [];
    for (let at = 0; at < stream.length; at += 65_536)
      chunks.push(stream.subarray(at, at + 65_536));
    const out = decodeAll(chunks, 8 * 1024 * 1024) as [{ snapshot: Uint8Array }, unknown];
    expect(Buffer.compare(Buffer.from(out[0].snapshot), data)).toBe(0);
    expect(out[1]).toEqual({ after: 1 });
  });

  it("copies binary fields out of a chunk shared with other frames", () => {
    const stream = Buffer.concat([encodeFrame(message(1)), encodeFrame(message(2))]);
    const out = decodeAll([stream]) as ReturnType<typeof message>[];
    const data = out[0].entries[0].data;
    expect(data.buffer).not.toBe(stream.buffer);
    stream.fill(0); // a receive buffer being reused must not change what was decoded
    expect([...out[0].entries[0].data]).toEqual([1, 1, 2, 3]);
  });

  it("refuses a frame over the limit as soon as its header arrives", () => {
    const decoder = new FrameDecoder(100);
    const header = Buffer.alloc(FRAME_HEADER_BYTES);
    header.writeUInt32BE(101);
    expect(() => decoder.push(header, () => {})).toThrow(FrameError);
    expect(() => decoder.push(header, () => {})).toThrow(/failed/);
  });

  it("refuses an oversized frame after delivering the frames before it", () => {
    const decoder = new FrameDecoder(1_000);
    const big = encodeFrame({ data: Buffer.alloc(2_000) });
    const got: unknown[] = [];
    expect(() =>
      decoder.push(Buffer.concat([encodeFrame({ a: 1 }), big]), (b) => got.push(b)),
    ).toThrow(/exceeds the limit of 1000/);
    expect(got).toEqual([{ a: 1 }]);
  });

  it("refuses empty and undecodable frames without quoting them at length", () => {
    expect(() => new FrameDecoder(100).push(Buffer.alloc(4), () => {})).toThrow(/empty frame/);
    const garbage = Buffer.from([0, 0, 0, 3, 0xc1, 0xc1, 0xc1]); // 0xc1 is never used
    expect(() => new FrameDecoder(100).push(garbage, () => {})).toThrow(FrameError);
    const trailing = Buffer.concat([Buffer.from([0, 0, 0, 200]), Buffer.alloc(200, 1)]);
    let error: unknown;
    try {
      new FrameDecoder(1_000).push(trailing, () => {});
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(FrameError);
    expect((error as Error).message.length).toBeLessThan(120);
  });
});
