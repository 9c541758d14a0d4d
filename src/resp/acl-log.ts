/**
 * ACL LOG: the recent refusals of this node (commands, keys and channels a user's rules denied,
 * and failed authentications), as Redis keeps them: newest first, at most `maxLen` entries, and
 * a refusal like one logged within the last minute (same reason, context, object and user)
 * counted on that entry instead of added.
 *
 * It lives in memory, per node, like Redis's: it answers "why was I refused here, just now?".
 * The durable record of refusals is the audit log.
 */
import { Double, MapReply, type Reply } from "../engine/reply.ts";

export type AclLogReason = "command" | "key" | "channel" | "auth";

export interface AclLogEntry {
  count: number;
  reason: AclLogReason;
  /** "toplevel", or "multi" for a command inside MULTI/EXEC. */
  context: string;
  /** The command (lower case), key or channel refused; "AUTH" for an authentication. */
  object: string;
  username: string;
  clientInfo: string;
  entryId: number;
  createdAt: number;
  updatedAt: number;
}

/** Refusals alike within this long count on one entry (Redis: 60 s). */
const GROUP_MS = 60_000;

export class AclLog {
  private entries: AclLogEntry[] = [];
  private nextId = 0;
  private readonly maxLen: number;

  constructor(maxLen = 128) {
    this.maxLen = maxLen;
  }

  add(e: Omit<AclLogEntry, "count" | "entryId" | "createdAt" | "updatedAt">, now: number): void {
    const same = this.entries.find(
      (x) =>
        x.reason === e.reason &&
        x.context === e.context &&
        x.object === e.object &&
        x.username === e.username &&
        now - x.updatedAt < GROUP_MS,
    );
    if (same !== undefined) {
      same.count++;
      same.updatedAt = now;
      same.clientInfo = e.clientInfo;
      // Newest first: a counted entry moves to the front.
      this.entries = [same, ...this.entries.filter((x) => x !== same)];
      return;
    }
    this.entries.unshift({
      ...e,
      count: 1,
      entryId: this.nextId++,
      createdAt: now,
      updatedAt: now,
    });
    if (this.entries.length > this.maxLen) this.entries.length = this.maxLen;
  }

  reset(): void {
    this.entries = [];
  }

  /** ACL LOG [count]: the newest `count` entries (10 by default), as Redis's maps. */
  reply(count: number, now: number): Reply[] {
    return this.entries
      .slice(0, count)
      .map(
        (e) =>
          new MapReply([
            "count",
            e.count,
            "reason",
            e.reason,
            "context",
            e.context,
            "object",
            e.object,
            "username",
            e.username,
            "age-seconds",
            new Double((now - e.createdAt) / 1000),
            "client-info",
            e.clientInfo,
            "entry-id",
            e.entryId,
            "timestamp-created",
            e.createdAt,
            "timestamp-last-updated",
            e.updatedAt,
          ]),
      );
  }
}
