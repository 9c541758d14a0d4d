/**
 * Per-connection state: which instance is selected and with what permission, the protocol
 * version, the session encryption key, the MULTI queue and WATCHed keys, subscriptions, and the
 * bookkeeping CLIENT LIST shows. The key given to USEKEY lives only here: it never enters an Op,
 * a log, a snapshot or a file.
 */

import type { Reply } from "../engine/reply.ts";
import type { Instance } from "../instances/instance.ts";
import type { SessionNotices } from "../instances/registry.ts";
import type { CompiledUser } from "../security/acl/check.ts";
import {
  type Access,
  ANONYMOUS,
  type Credentials,
  type Principal,
  sessionAccess,
} from "../security/authorization.ts";
import type { TableEntry } from "./context.ts";
import type { Traits } from "./table.ts";

/** A command resolved against the table, as MULTI queues it (and dispatch passes it on). */
export interface QueuedCommand {
  spec: TableEntry;
  traits: Traits;
  /** "GET", or "CLIENT|SETNAME" for a subcommand. */
  name: string;
  args: Buffer[];
}

export class Session {
  readonly id: number;
  readonly addr: string;
  readonly laddr: string;
  readonly createdAt = Date.now();
  lastActive = Date.now();
  name: string | null = null;
  libName: string | null = null;
  libVersion: string | null = null;
  proto: 2 | 3 = 2;
  instance: Instance | null = null;
  /** Access to the selected instance, decided at SELECT (and again when its security changes). */
  perm: Access = "none";
  /**
   * Who the session is: the admin, an access key, an ACL user, or anonymous
   * (src/security/authorization.ts).
   */
  principal: Principal = ANONYMOUS;
  /**
   * The ACL rules that apply: the user's, the default user's for an anonymous session, null when
   * none do (the admin, an access key) or when an anonymous session must authenticate first.
   * Taken again whenever the catalog's users version differs from `rulesVersion` (./acl-gate.ts).
   */
  rules: CompiledUser | null = null;
  rulesVersion = -1;
  /** A key given to AUTH before SELECT, tried when a private instance is selected. */
  presentedKey: string | null = null;
  /** The key the current instance was opened with (re-checked when its security changes). */
  selectKey: string | null = null;
  /** The session encryption key (USEKEY), 32 bytes. */
  encKey: Uint8Array | null = null;
  /**
   * READONLY (as in Redis Cluster): reads on this connection are served from the node's local
   * state, which may lag the leader, instead of waiting for a read index.
   */
  readOnlyReplica = false;
  multi: QueuedCommand[] | null = null;
  /**
   * An interactive transaction open on an instance (SQL.BEGIN): the engine's value for it, which
   * only the engine reads (src/engine/contract.ts, TransactionCapability). Leaving the instance
   * ends it, uncommitted.
   */
  tx: { instance: Instance; state: object } | null = null;
  /** Set while a command that opens a transaction waits for its read index. */
  txOpening = false;
  multiFailed = false;
  watched: { instance: Instance; key: string }[] = [];
  watchDirty = false;
  readonly channels = new Set<string>();
  readonly patterns = new Set<string>();
  authFailures = 0;
  lastCommand = "NULL";
  closed = false;
  /** Set while a blocking command waits; cancels the wait when the client goes away. */
  cancelBlock: (() => void) | null = null;
  /** Delivers an out-of-band reply (pub/sub message) to the client. */
  push: (reply: Reply) => void = () => {};
  /** Closes the connection after the current replies are written. */
  close: () => void = () => {};

  constructor(id: number, addr: string, laddr: string) {
    this.id = id;
    this.addr = addr;
    this.laddr = laddr;
  }

  get subscriptionCount(): number {
    return this.channels.size + this.patterns.size;
  }

  unwatchAll(): void {
    for (const w of this.watched) w.instance.unwatch(w.key, this);
    this.watched = [];
    this.watchDirty = false;
  }

  /** Leaves the selected instance (and anything tied to it). */
  deselect(): void {
    this.unwatchAll();
    this.tx = null;
    this.instance = null;
    this.perm = "none";
  }
}

/**
 * How the sessions follow instance changes: a closed instance is left by every session on it; a
 * change of visibility or keys re-checks each session with the key it selected the instance with.
 */
export function sessionNotices(sessions: () => Session[], creds: Credentials): SessionNotices {
  return {
    closed(inst) {
      for (const s of sessions()) if (s.instance === inst) s.deselect();
    },
    securityChanged(inst) {
      for (const s of sessions()) {
        if (s.instance !== inst) continue;
        const perm = sessionAccess(creds, inst, s.principal, s.rules, s.selectKey);
        if (perm === "none") s.deselect();
        else s.perm = perm;
      }
    },
  };
}
