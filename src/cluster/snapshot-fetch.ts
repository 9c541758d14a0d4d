/**
 * Receiving a snapshot that a leader sent as a reference to its file (a lagging or new member of
 * a group, after the leader's log was compacted). The Raft message carries only where the file
 * is; this node asks the leader for it over a connection of its own and writes it, chunk by
 * chunk, to a file in its log store's directory, with flow control both ways (see
 * fetchStream), so neither node ever holds the snapshot in memory. Once the file is complete and
 * its checksum right, the message is stepped into the group with the reference rewritten to the
 * local file; the state machine then restores from that file as a stream and the log store
 * adopts it as the group's snapshot (by renaming it, no copy).
 *
 * While a fetch for a group runs, or until the group has applied what it fetched, further
 * snapshot messages for the group are ignored: the leader repeats them on every heartbeat while
 * the follower has not caught up, and one transfer at a time is enough. Progress is reported
 * every few seconds; a failed transfer is logged and retried when the leader next sends.
 */
import { open, unlink } from "node:fs/promises";
import { join } from "node:path";
import type { Message } from "../raft/types.ts";
import { INCOMING_PREFIX } from "./log-store.ts";
import { checkSnapshotFile } from "./snapshot-files.ts";

/** How long a transfer may go without receiving a chunk. */
const IDLE_MS = 15_000;
/** How long a fetched snapshot holds off further fetches of its group if it is not applied. */
const HOLD_MS = 60_000;
const PROGRESS_EVERY_MS = 2_000;

export interface FetchHost {
  /** The log store's directory, where incoming files are written. */
  dir: string;
  addressOf(node: number): string | undefined;
  stream(
    address: string,
    body: unknown,
    consume: (chunk: Uint8Array) => Promise<void>,
    idleMs: number,
  ): Promise<void>;
  /** Steps a message into its group (the group may have gone meanwhile). */
  step(groupId: number, m: Message): void;
  /** The group's applied index (0 when it is not open here). */
  applied(groupId: number): number;
  progress(message: string): void;
}

interface Transfer {
  index: number;
  /** When the fetched message was stepped (0 while the transfer runs). */
  steppedAt: number;
}

export class SnapshotFetcher {
  private readonly host: FetchHost;
  private readonly transfers = new Map<number, Transfer>();
  private counter = 0;

  constructor(host: FetchHost) {
    this.host = host;
  }

  /** A snapshot message whose snapshot is a file of node `from`. */
  receive(groupId: number, m: Message): void {
    const snap = m.snapshot;
    if (snap?.file === undefined) return;
    const t = this.transfers.get(groupId);
    if (t !== undefined) {
      const done = this.host.applied(groupId) >= t.index;
      const stale = t.steppedAt > 0 && performance.now() - t.steppedAt > HOLD_MS;
      if (!done && !stale) return;
    }
    const transfer: Transfer = { index: snap.meta.index, steppedAt: 0 };
    this.transfers.set(groupId, transfer);
    this.fetch(groupId, m).then(
      () => {
        transfer.steppedAt = performance.now();
      },
      (e: unknown) => {
        if (this.transfers.get(groupId) === transfer) this.transfers.delete(groupId);
        this.host.progress(
          `group ${groupId}: snapshot transfer from node ${m.from} failed (${(e as Error).message}); the leader will send it again`,
        );
      },
    );
  }

  private async fetch(groupId: number, m: Message): Promise<void> {
    const snap = m.snapshot as NonNullable<Message["snapshot"]>;
    const file = snap.file as NonNullable<typeof snap.file>;
    const address = this.host.addressOf(m.from);
    if (address === undefined) throw new Error(`no address for node ${m.from}`);
    const path = join(this.host.dir, `${INCOMING_PREFIX}${groupId}-${++this.counter}.snap`);
    const mib = (n: number) => (n / 1024 / 1024).toFixed(1);
    this.host.progress(
      `group ${groupId}: receiving snapshot at index ${snap.meta.index} from node ${m.from} (${mib(file.bytes)} MiB)`,
    );
    const h = await open(path, "w", 0o600);
    let got = 0;
    let lastReport = performance.now();
    try {
      try {
        await this.host.stream(
          address,
          { t: "snapshotFile", g: groupId, seq: file.seq },
          async (chunk) => {
            if (got + chunk.byteLength > file.bytes) throw new Error("more bytes than announced");
            await h.write(chunk, 0, chunk.byteLength, got);
            got += chunk.byteLength;
            const now = performance.now();
            if (now - lastReport >= PROGRESS_EVERY_MS) {
              lastReport = now;
              this.host.progress(
                `group ${groupId}: snapshot ${mib(got)} of ${mib(file.bytes)} MiB received`,
              );
            }
          },
          IDLE_MS,
        );
        await h.sync();
      } finally {
        await h.close();
      }
      if (got !== file.bytes) throw new Error(`got ${got} of ${file.bytes} bytes`);
      await checkSnapshotFile(path);
    } catch (e) {
      await unlink(path).catch(() => {});
      throw e;
    }
    this.host.progress(`group ${groupId}: snapshot at index ${snap.meta.index} received`);
    this.host.step(groupId, {
      ...m,
      snapshot: { ...snap, file: { group: groupId, seq: 0, bytes: got, path } },
    });
  }
}
