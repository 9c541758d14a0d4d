/**
 * Framing of the node-to-node transport (./transport.ts): every message between two nodes is one
 * frame, a 4-byte big-endian body length followed by the body encoded as MessagePack.
 *
 * Why a length prefix and not a streaming MessagePack decoder: the receiver learns a frame's size
 * before its bytes, so it can refuse an oversized frame (a corrupt or hostile length) without
 * buffering it, and it decodes each frame exactly once, when it is complete, instead of retrying
 * a partial decode on every TCP chunk.
 *
 * Encoding: one Packr for the process, in plain-map mode (no record extension), so a frame
 * decodes on its own, whatever connection or decoder it reaches. Packr writes each body into a
 * slab it keeps between calls and can leave room in front of it, so the header costs no copy.
 *
 * Decoding (FrameDecoder) is incremental and linear in the bytes received: chunks are kept as
 * they arrive and only looked at when a whole frame is present. A frame inside one chunk is
 * decoded in place (a view, no copy), and binary fields in it are then copied out, so a small
 * entry kept in a Raft log cache does not pin the whole TCP chunk it came in. A frame spread
 * over several chunks is copied once into its own buffer, and its binary fields are views of it
 * (a snapshot is not copied a second time).
 */
import { Packr, RESERVE_START_SPACE, Unpackr } from "msgpackr";

/** Bytes of the length prefix in front of every frame body. */
export const FRAME_HEADER_BYTES = 4;

/** A control frame: a map with its kind in `t` ("hello", "refused", "request", …). */
export type Frame = Record<string, unknown>;

export function isFrame(body: unknown): body is Frame {
  return typeof body === "object" && body !== null && !Array.isArray(body);
}

/** A frame that cannot be accepted (too large, empty, or not MessagePack): the connection ends. */
export class FrameError extends Error {}

const packr = new Packr({ useRecords: false });
/** For frames that are views of a shared chunk: binary fields are copied out of it. */
const copyingUnpackr = new Unpackr({ useRecords: false, copyBuffers: true });
/** For frames in a buffer of their own: binary fields may stay views of it. */
const viewingUnpackr = new Unpackr({ useRecords: false });

/**
 * One frame (header + body) for `body`. Throws what MessagePack throws for a value it cannot
 * encode. The buffer may share its memory with other frames, never its bytes.
 */
export function encodeFrame(body: unknown): Buffer {
  const frame = packr.pack(body, RESERVE_START_SPACE | FRAME_HEADER_BYTES);
  frame.writeUInt32BE(frame.length - FRAME_HEADER_BYTES, 0);
  return frame;
}

/** Body length of an encoded frame (what the receiver compares with its limit). */
export function frameBodyBytes(frame: Buffer): number {
  return frame.length - FRAME_HEADER_BYTES;
}

/** Decoder errors can quote the decoded data; a log line needs only their gist. */
function gist(e: unknown): string {
  const message = e instanceof Error ? e.message : String(e);
  return message.length > 80 ? `${message.slice(0, 80)}…` : message;
}

/** Turns a byte stream (TCP chunks of any size) back into frame bodies, in order. */
export class FrameDecoder {
  private readonly maxFrameBytes: number;
  /** Received chunks not yet fully consumed; the first from `offset` on. */
  private chunks: Buffer[] = [];
  private offset = 0;
  /** Unconsumed bytes across `chunks`. */
  private buffered = 0;
  /** Body length of the frame whose header has been read, or -1 while waiting for a header. */
  private need = -1;
  private failed = false;

  constructor(maxFrameBytes: number) {
    this.maxFrameBytes = maxFrameBytes;
  }

  /**
   * Adds received bytes and calls `onFrame` for each frame they complete, in order. Throws
   * FrameError for an oversized, empty or undecodable frame (after delivering the frames before
   * it); the stream cannot be resynchronised after that, so further pushes throw too.
   */
  push(chunk: Buffer, onFrame: (body: unknown) => void): void {
    if (this.failed) throw new FrameError("frame stream already failed");
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    for (;;) {
      if (this.need < 0) {
        if (this.buffered < FRAME_HEADER_BYTES) return;
        const length = this.readHeader();
        if (length > this.maxFrameBytes) {
          this.failed = true;
          throw new FrameError(
            `frame of ${length} bytes exceeds the limit of ${this.maxFrameBytes}`,
          );
        }
        if (length === 0) {
          this.failed = true;
          throw new FrameError("empty frame");
        }
        this.need = length;
      }
      if (this.buffered < this.need) return;
      const length = this.need;
      this.need = -1;
      const first = this.chunks[0];
      let body: unknown;
      try {
        if (first.length - this.offset >= length) {
          const view = first.subarray(this.offset, this.offset + length);
          this.consume(length);
          // A frame that is the whole chunk pins nothing else: its fields may stay views.
          body = (view.length === first.length ? viewingUnpackr : copyingUnpackr).unpack(view);
        } else {
          body = viewingUnpackr.unpack(this.take(length));
        }
      } catch (e) {
        this.failed = true;
        throw new FrameError(`undecodable frame: ${gist(e)}`);
      }
      onFrame(body);
    }
  }

  /** Bytes received but not yet part of a delivered frame (for tests and diagnostics). */
  get pendingBytes(): number {
    return this.buffered + (this.need >= 0 ? FRAME_HEADER_BYTES : 0);
  }

  private readHeader(): number {
    const first = this.chunks[0];
    let length: number;
    if (first.length - this.offset >= FRAME_HEADER_BYTES) {
      length = first.readUInt32BE(this.offset);
    } else {
      // The header itself is split across chunks (rare, and only four bytes to copy).
      const header = this.take(FRAME_HEADER_BYTES);
      return header.readUInt32BE(0);
    }
    this.consume(FRAME_HEADER_BYTES);
    return length;
  }

  /** Drops `n` bytes that lie within the first chunk. */
  private consume(n: number): void {
    this.offset += n;
    this.buffered -= n;
    if (this.offset === this.chunks[0].length) {
      this.chunks.shift();
      this.offset = 0;
    }
  }

  /** Copies the next `n` bytes (spanning chunks) into a buffer of their own and drops them. */
  private take(n: number): Buffer {
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    let used = 0;
    while (filled < n) {
      const chunk = this.chunks[used];
      const count = Math.min(chunk.length - this.offset, n - filled);
      chunk.copy(out, filled, this.offset, this.offset + count);
      filled += count;
      this.offset += count;
      if (this.offset === chunk.length) {
        used++;
        this.offset = 0;
      }
    }
    // One splice for all the chunks used up, however many a large frame spanned.
    if (used > 0) this.chunks.splice(0, used);
    this.buffered -= n;
    return out;
  }
}
