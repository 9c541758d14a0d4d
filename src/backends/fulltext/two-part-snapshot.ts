/**
 * A full-text instance's snapshot holds two engines' snapshots (the indexes' SQLite file and the
 * key-value data), one after the other in one stream, each as it streams (neither is held in
 * memory): a header line `HERODB-FT2 <ft index> <kv index>\n`, then frames of
 * [kind byte 'F' or 'K'][u32 length][bytes], then one 'E' byte. The parts may stand at different
 * applied indexes (each engine recorded its own); the whole is at the lower one, and each engine
 * skips the log entries its part already holds.
 */
import type { SnapshotSource } from "../../engine/snapshot.ts";
import { HeroError } from "../../errors.ts";

const MAGIC = "HERODB-FT2";
const bad = (why: string) => new HeroError("ERR", `invalid full-text snapshot: ${why}`);

export function twoPartSnapshot(ft: SnapshotSource, kv: SnapshotSource): SnapshotSource {
  const frame = (kind: string, chunk: Uint8Array): Buffer => {
    const head = Buffer.alloc(5);
    head.write(kind, 0, "latin1");
    head.writeUInt32BE(chunk.byteLength, 1);
    return Buffer.concat([head, chunk]);
  };
  return {
    index: Math.min(ft.index, kv.index),
    async *chunks() {
      yield Buffer.from(`${MAGIC} ${ft.index} ${kv.index}\n`, "latin1");
      for await (const c of ft.chunks()) yield frame("F", c);
      for await (const c of kv.chunks()) yield frame("K", c);
      yield Buffer.from("E", "latin1");
    },
    close() {
      ft.close?.();
      kv.close?.();
    },
  };
}

/**
 * The two parts of such a stream, to be read in order (the full-text part to its end, then the
 * key-value part). A rebased source (a backup restored at its own index) puts both parts at it.
 */
export function splitTwoParts(source: SnapshotSource): {
  ft: () => Promise<SnapshotSource>;
  kv: () => SnapshotSource;
} {
  const it = source.chunks()[Symbol.asyncIterator]();
  let buf = Buffer.alloc(0);
  let done = false;
  const need = async (n: number): Promise<void> => {
    while (buf.length < n) {
      if (done) throw bad("it ends too soon");
      const r = await it.next();
      if (r.done) done = true;
      else buf = Buffer.concat([buf, Buffer.from(r.value)]);
    }
  };
  /** The next frame's payload while its kind is `kind`; null when another kind (or the end) comes. */
  const nextFrame = async (kind: string): Promise<Buffer | null> => {
    await need(1);
    const k = buf.toString("latin1", 0, 1);
    if (k !== kind) {
      if (k !== "F" && k !== "K" && k !== "E") throw bad(`unknown frame '${k}'`);
      return null;
    }
    await need(5);
    const len = buf.readUInt32BE(1);
    await need(5 + len);
    const payload = buf.subarray(5, 5 + len);
    buf = buf.subarray(5 + len);
    return payload;
  };
  const part = (kind: string, index: number): SnapshotSource => ({
    index,
    rebased: source.rebased,
    async *chunks() {
      for (;;) {
        const p = await nextFrame(kind);
        if (p === null) return;
        yield p;
      }
    },
  });
  let indexes: { ft: number; kv: number } | null = null;
  return {
    async ft() {
      await need(1);
      for (;;) {
        const nl = buf.indexOf(10);
        if (nl >= 0) {
          const [magic, a, b] = buf.toString("latin1", 0, nl).split(" ");
          if (magic !== MAGIC) throw bad("not a full-text instance's snapshot");
          indexes = { ft: Number(a), kv: Number(b) };
          if (!Number.isInteger(indexes.ft) || !Number.isInteger(indexes.kv))
            throw bad("bad header");
          buf = buf.subarray(nl + 1);
          break;
        }
        if (buf.length > 64) throw bad("not a full-text instance's snapshot");
        await need(buf.length + 1);
      }
      return part("F", source.rebased ? source.index : indexes.ft);
    },
    kv() {
      if (indexes === null) throw bad("the full-text part was not read first");
      return part("K", source.rebased ? source.index : indexes.kv);
    },
  };
}
