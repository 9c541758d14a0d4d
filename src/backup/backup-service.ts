/**
 * Online backup and restore of instances, for the control plane (db_backup, db_restore, the HTTP
 * streams under /backup and /restore, and through them `herodb backup` / `herodb restore`).
 *
 * Backup: in a cluster the instance first waits for its read index (the copy holds every write
 * acknowledged before the backup began, whichever node serves it), then the engine hands over a
 * consistent snapshot at its applied index, streamed into the backup file (./backup-file.ts)
 * without stopping writes.
 *
 * Restore: the file is checked whole first (format, digest, that it fits the target: same command
 * family, same encryption). An instance with a Raft group gets the backup through its log as
 * restore ops (src/cluster/restore-stage.ts), so every replica replaces its state at the same log
 * index; one without (in-memory on a single server) is replaced directly. Into a new instance,
 * the instance is created first, with the type the backup came from unless another is given.
 */
import { createHash, randomBytes } from "node:crypto";
import { kinds } from "../backends/kinds.ts";
import { RESTORE_CHUNK, RESTORE_CHUNK_BYTES, RESTORE_COMMIT } from "../cluster/restore-stage.ts";
import type { BackendType, InstanceRecord } from "../db0/types.ts";
import type { Op } from "../engine/contract.ts";
import { HeroError } from "../errors.ts";
import type { Instance } from "../instances/instance.ts";
import { namespaceOf } from "../instances/instance.ts";
import { BACKUP_FORMAT, type BackupHeader, openBackup, writeBackup } from "./backup-file.ts";

export interface BackupHost {
  instance(index: number): Instance | undefined;
  /** Creates (and opens) an instance the way db_createInstance does. */
  createInstance(params: {
    name: string;
    backend: BackendType;
    encrypted: boolean;
  }): Promise<InstanceRecord>;
  /** Resolves with the instance once this node serves it (a cluster opens it shortly after). */
  awaitInstance(index: number): Promise<Instance | undefined>;
  version: string;
}

export interface RestoreTarget {
  /** Replace this instance's state… */
  index?: number;
  /** …or create an instance with this name (and this type; default: the backup's). */
  name?: string;
  backend?: BackendType;
}

export interface RestoreResult {
  index: number;
  name: string;
  /** The backup's own snapshot index and its size. */
  snapshotIndex: number;
  bytes: number;
}

/** Restore pieces proposed at once (the log keeps their order). */
const WINDOW = 8;

export class BackupService {
  private readonly host: BackupHost;

  constructor(host: BackupHost) {
    this.host = host;
  }

  private live(index: number): Instance {
    const inst = this.host.instance(index);
    if (inst === undefined) throw new HeroError("NOINSTANCE", `no instance with index ${index}`);
    return inst;
  }

  /** Streams a backup of instance `index` into `sink`; resolves with its header and size. */
  async backup(
    index: number,
    sink: (bytes: Uint8Array) => Promise<void>,
    progress?: (bytes: number) => void,
  ): Promise<{ header: BackupHeader; bytes: number }> {
    const inst = this.live(index);
    const barrier = inst.replicator?.readBarrier() ?? null;
    if (barrier !== null) await barrier;
    const snapshot = await inst.engine.snapshot();
    const header: BackupHeader = {
      format: BACKUP_FORMAT,
      kind: inst.record.backend.kind,
      family: inst.family,
      name: inst.record.name,
      index: inst.index,
      encrypted: inst.record.encrypted,
      snapshotIndex: snapshot.index,
      createdAt: new Date().toISOString(),
      version: this.host.version,
    };
    const bytes = await writeBackup(header, snapshot, sink, progress);
    return { header, bytes };
  }

  /** Checks the backup at `path` and restores it into `target`. */
  async restore(path: string, target: RestoreTarget): Promise<RestoreResult> {
    const opened = await openBackup(path);
    const h = opened.header;
    let inst: Instance;
    if (target.index !== undefined) {
      inst = this.live(target.index);
      this.checkFits(h, inst);
    } else {
      const name = target.name ?? h.name;
      const backend = target.backend ?? defaultBackend(h.kind, name);
      const record = await this.host.createInstance({ name, backend, encrypted: h.encrypted });
      const created = await this.host.awaitInstance(record.index);
      if (created === undefined) {
        throw new HeroError("INTERNAL", `instance ${record.index} was created but is not served`);
      }
      inst = created;
      this.checkFits(h, inst);
    }
    if (inst.replicator === null) {
      await inst.restoreLocal((at) => opened.source(at));
    } else {
      await this.throughLog(inst, opened.source(0));
    }
    return {
      index: inst.index,
      name: inst.record.name,
      snapshotIndex: h.snapshotIndex,
      bytes: opened.bytes,
    };
  }

  private checkFits(h: BackupHeader, inst: Instance): void {
    if (h.family !== inst.family) {
      throw new HeroError(
        "INVALID_PARAMS",
        `the backup holds a ${h.kind} instance (${h.family} commands); instance ${inst.index} is ${namespaceOf(inst.record)} (${inst.family})`,
      );
    }
    if (h.encrypted !== inst.record.encrypted) {
      throw new HeroError(
        "INVALID_PARAMS",
        `the backup is of an ${h.encrypted ? "encrypted" : "unencrypted"} instance; instance ${inst.index} is ${inst.record.encrypted ? "encrypted" : "not encrypted"}`,
      );
    }
  }

  /** Sends the snapshot through the instance's Raft group as restore pieces and a commit. */
  private async throughLog(
    inst: Instance,
    source: { chunks(): AsyncIterable<Uint8Array>; close?(): void },
  ): Promise<void> {
    const id = randomBytes(16).toString("hex");
    const digest = createHash("sha256");
    const inFlight: Promise<unknown>[] = [];
    let seq = 0;
    const send = async (piece: Buffer) => {
      digest.update(piece);
      const op: Op = {
        cmd: RESTORE_CHUNK,
        args: [Buffer.from(id), Buffer.from(String(seq++)), piece],
        now: Date.now(),
      };
      inFlight.push(Promise.resolve(inst.write(op)).then(failOnError));
      if (inFlight.length >= WINDOW) await inFlight.shift();
    };
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    try {
      for await (const chunk of source.chunks()) {
        let c = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
        while (c.length > 0) {
          const take = Math.min(c.length, RESTORE_CHUNK_BYTES - pendingBytes);
          pending.push(Buffer.from(c.subarray(0, take)));
          pendingBytes += take;
          c = c.subarray(take);
          if (pendingBytes === RESTORE_CHUNK_BYTES) {
            await send(Buffer.concat(pending));
            pending = [];
            pendingBytes = 0;
          }
        }
      }
      if (pendingBytes > 0 || seq === 0) await send(Buffer.concat(pending));
      await Promise.all(inFlight);
    } finally {
      source.close?.();
    }
    const commit: Op = {
      cmd: RESTORE_COMMIT,
      args: [Buffer.from(id), Buffer.from(String(seq)), Buffer.from(digest.digest("hex"))],
      now: Date.now(),
    };
    failOnError(await inst.write(commit));
  }
}

function failOnError(reply: unknown): unknown {
  if (reply instanceof HeroError) throw reply;
  return reply;
}

/** The type a backup of `kind` is restored as, with a path named after the instance if it needs one. */
function defaultBackend(kind: string, name: string): BackendType {
  const descriptor = kinds.get(kind);
  if (descriptor === undefined) {
    throw new HeroError(
      "UNSUPPORTED",
      `the backup holds a ${kind} instance, a type this server does not serve`,
    );
  }
  return descriptor.path === "required" ? { kind, path: name } : { kind };
}
