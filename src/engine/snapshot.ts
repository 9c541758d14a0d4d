/**
 * Snapshots as streams: an engine hands over its whole state at one applied index as a sequence
 * of chunks, and installs a snapshot from one, so neither side needs the whole snapshot in memory
 * at once (an engine may stream straight from its files). The bytes are the engine's own format;
 * the Raft runtime stores and ships them without looking inside.
 *
 * The helpers turn a byte array into a source and back, for state machines whose snapshots are
 * small (the catalog) and for tests.
 */

/** A consistent copy of a state machine's whole state at `index`, read as chunks. */
export interface SnapshotSource {
  /** The applied index the state is at. */
  readonly index: number;
  /**
   * The bytes were taken at another index (a backup, restored later): install them as the state
   * at `index` instead of checking that the index they record is `index`.
   */
  readonly rebased?: boolean;
  /** The state's bytes, in order. Iterate it once; reading to the end releases what it holds. */
  chunks(): AsyncIterable<Uint8Array>;
  /** Releases what the source holds when it will not be read to the end (safe to repeat). */
  close?(): void;
}

/** A source over bytes already in memory. */
export function snapshotOfBytes(index: number, data: Uint8Array): SnapshotSource {
  return {
    index,
    async *chunks() {
      yield data;
    },
  };
}

/** A source over chunks already in memory. */
export function snapshotOfChunks(index: number, parts: readonly Uint8Array[]): SnapshotSource {
  return {
    index,
    async *chunks() {
      yield* parts;
    },
  };
}

/** Every byte of a source, in one array (for small snapshots and tests). */
export async function snapshotBytes(source: SnapshotSource): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let size = 0;
  for await (const c of source.chunks()) {
    parts.push(c);
    size += c.byteLength;
  }
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}
