/**
 * The catalog as group 0's state machine, and the writes of the catalog file that follow it.
 *
 * A change travels through the log as an op whose only argument is the change sealed with the
 * DB0 data key, so the log holds nothing of the catalog in clear. Apply opens it, runs it on a
 * copy and hands the copy to the catalog, which adopts it and tells its listeners; the reply is
 * the JSON of the result or the change's error. The file is rewritten after applies, one write
 * for a burst of them, and records the applied index from which a restart replays the log; until
 * a write has landed, `flush` reports the older index, so the log is not compacted past what the
 * file holds. The catalog's data stays in the catalog: this module sees it only through the two
 * functions of a CatalogHost.
 */

import type { ApplyResult, Op, StateMachine } from "../engine/contract.ts";
import type { Reply } from "../engine/reply.ts";
import { snapshotBytes, snapshotOfBytes } from "../engine/snapshot.ts";
import { HeroError } from "../errors.ts";
import { applyChange, type CatalogChange } from "./catalog-changes.ts";
import { catalogProblem } from "./catalog-data.ts";
import { type CatalogKeys, utf8 } from "./catalog-keys.ts";
import type { CatalogStore } from "./catalog-store.ts";
import type { CatalogData } from "./types.ts";

const CHANGE_AD = utf8("herodb-ts db0 change v1");
const SNAPSHOT_AD = utf8("herodb-ts db0 snapshot v1");

/** A change as the log carries it: group 0's op, sealed for `keys`' data key. */
export function sealedChangeOp(keys: CatalogKeys, change: CatalogChange): Op {
  const sealed = keys.sealJson(change, CHANGE_AD);
  return { cmd: "DB0", args: [Buffer.from(sealed)], now: Date.now() };
}

/** How the machine reaches the catalog it runs: its current data, and adopting new data. */
export interface CatalogHost {
  data(): CatalogData;
  /** Make `data` the catalog, then tell listeners (`change`, or null after a snapshot). */
  adopt(data: CatalogData, change: CatalogChange | null): void;
}

export class CatalogMachine {
  #keys: CatalogKeys;
  #store: CatalogStore;
  #host: CatalogHost;
  /** The Raft index (group 0) the data reflects, and the one the file holds. */
  #applied: number;
  #durable: number;
  #persisting: Promise<void> = Promise.resolve();
  #persistQueued = false;
  #persistFailure: unknown = null;

  constructor(keys: CatalogKeys, store: CatalogStore, host: CatalogHost, applied: number) {
    this.#keys = keys;
    this.#store = store;
    this.#host = host;
    this.#applied = applied;
    this.#durable = applied;
  }

  /** The Raft index (group 0) of the last change applied here. */
  get appliedIndex(): number {
    return this.#applied;
  }

  /** The StateMachine view that group 0 drives. */
  stateMachine(): StateMachine {
    const result = (reply: Reply): ApplyResult => ({ reply, touched: [], flushed: false });
    const self = this;
    return {
      get appliedIndex() {
        return self.#applied;
      },
      applyAll: (ops, index) => {
        if (index <= this.#applied) return ops.map(() => result(null));
        const results = ops.map((op) => result(this.#applySealed(op)));
        this.#applied = index;
        this.#schedulePersist();
        return results;
      },
      flush: async () => {
        if (this.#durable < this.#applied) this.#schedulePersist();
        await this.#persisting;
        if (this.#durable < this.#applied && this.#persistFailure !== null) {
          throw this.#persistFailure;
        }
        return this.#durable;
      },
      // The catalog is small: its snapshot is one sealed JSON document.
      snapshot: async () =>
        snapshotOfBytes(this.#applied, this.#keys.sealJson(this.#host.data(), SNAPSHOT_AD)),
      restore: async (snap) => {
        const data = this.#keys.openJson(await snapshotBytes(snap), SNAPSHOT_AD);
        const problem = data === null ? "it does not open" : catalogProblem(data);
        if (problem !== null)
          throw new HeroError("INTERNAL", `catalog snapshot refused: ${problem}`);
        this.#applied = snap.index;
        this.#host.adopt(data as CatalogData, null);
        this.#schedulePersist();
        await this.#persisting;
        if (this.#durable < snap.index) throw this.#persistFailure;
      },
    };
  }

  /** One replicated change: its reply (the result's JSON, or its error). */
  #applySealed(op: Op): Reply {
    const change =
      op.cmd === "DB0" && op.args.length === 1
        ? (this.#keys.openJson(op.args[0], CHANGE_AD) as CatalogChange | null)
        : null;
    if (change === null) {
      // Same log, same key on every node: this is damage or a node started with another secret.
      return new HeroError("INTERNAL", "a catalog change in the log cannot be opened; skipped");
    }
    const draft = structuredClone(this.#host.data());
    try {
      const r = applyChange(draft, change, Math.floor(op.now / 1000));
      this.#host.adopt(draft, change);
      return Buffer.from(JSON.stringify(r));
    } catch (e) {
      if (e instanceof HeroError) return e;
      throw e;
    }
  }

  #schedulePersist(): void {
    if (this.#persistQueued) return;
    this.#persistQueued = true;
    this.#persisting = this.#persisting.then(async () => {
      this.#persistQueued = false;
      const applied = this.#applied;
      try {
        await this.#store.write(this.#host.data(), applied);
        this.#durable = applied;
      } catch (e) {
        // The log still holds every change; flush() reports the failure (compaction waits).
        this.#persistFailure = e;
      }
    });
  }
}
