/**
 * db_backup and db_restore: backups written to and read from paths on the server (the HTTP
 * streams under /backup and /restore in ./backup-routes.ts carry them to and from a client).
 * They live in the one method table (./methods.ts) and are answered by the BackupService the
 * composition root hands the control plane (src/backup/backup-service.ts).
 */
import { open, rm } from "node:fs/promises";
import { resolve } from "node:path";
import { parseBackendJson } from "../backends/backend-json.ts";
import type { BackupService } from "../backup/backup-service.ts";
import { HeroError } from "../errors.ts";
import type { ControlPlane } from "./control-plane.ts";
import {
  CONFLICT,
  INTERNAL,
  INVALID_PARAMS,
  NO_SUCH_INSTANCE,
  REQUEST_FAILED,
  UNAUTHORIZED,
  UNSUPPORTED_BACKEND,
} from "./errors.ts";
import type { MethodSpec } from "./methods.ts";

export function backupsOf(plane: ControlPlane): BackupService {
  if (plane.backups === null) throw new HeroError("UNSUPPORTED", "backups are not available here");
  return plane.backups;
}

/** Writes a backup of `index` to `path` (never over an existing file). */
export async function backupToFile(
  plane: ControlPlane,
  index: number,
  path: string,
): Promise<{ bytes: number; snapshotIndex: number }> {
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(path, "wx", 0o600);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new HeroError(
      code === "EEXIST" ? "CONFLICT" : "INVALID_PARAMS",
      code === "EEXIST"
        ? `${path} exists: a backup never overwrites a file`
        : `cannot create ${path}: ${code}`,
    );
  }
  let ok = false;
  try {
    const r = await backupsOf(plane).backup(index, async (b) => {
      await fh.write(b);
    });
    await fh.sync();
    ok = true;
    return { bytes: r.bytes, snapshotIndex: r.header.snapshotIndex };
  } finally {
    await fh.close().catch(() => {});
    // A backup that failed midway leaves no file that could be mistaken for one.
    if (!ok) await rm(path, { force: true });
  }
}

const path = {
  name: "path",
  required: true,
  description:
    "A file path on the server (relative paths are taken from the server's working directory).",
  schema: { type: "string", minLength: 1, maxLength: 4096 },
} as const;

export const BACKUP_METHODS: readonly MethodSpec[] = [
  {
    name: "db_backup",
    summary: "Write a consistent backup of an instance to a file on the server.",
    description:
      "Online: writes continue meanwhile. In a cluster the backup holds every write acknowledged " +
      "before the call. Values of encrypted instances stay sealed. The file is checked whole by " +
      "db_restore (format, SHA-256). GET /backup/<index> streams the same bytes over HTTP.",
    params: [
      {
        name: "instance_index",
        required: true,
        description: "Index of the instance.",
        schema: { type: "integer", minimum: 1 },
      },
      path,
    ],
    result: {
      name: "backup",
      description: "Where it was written, its size and the log index its state is at.",
      schema: {
        type: "object",
        properties: {
          path: { type: "string" },
          bytes: { type: "integer" },
          snapshot_index: { type: "integer" },
        },
      },
    },
    admin: true,
    audited: true,
    errors: [
      { code: INVALID_PARAMS, message: "a param is malformed, or the path cannot be created" },
      { code: NO_SUCH_INSTANCE, message: "no instance has that index" },
      { code: CONFLICT, message: "the file exists: a backup never overwrites one" },
      { code: REQUEST_FAILED, message: "the instance could not reach its read index (cluster)" },
      UNAUTHORIZED,
      INTERNAL,
    ],
    handler: async (a, { plane }) => {
      const file = resolve(a.path as string);
      const r = await backupToFile(plane, a.instance_index as number, file);
      return { path: file, bytes: r.bytes, snapshot_index: r.snapshotIndex };
    },
  },
  {
    name: "db_restore",
    summary: "Restore a backup file on the server into an instance, or into a new one.",
    description:
      "The file is checked whole before anything changes; a damaged or foreign file is refused. " +
      "With instance_index the instance's state is replaced (same command family and encryption " +
      "as the backup); without it a new instance is created (name, and backend_type, default the " +
      "backup's). Through the instance's Raft group, so every replica gets it. POST /restore " +
      "takes the file over HTTP.",
    params: [
      path,
      {
        name: "instance_index",
        required: false,
        description: "Replace this instance's state.",
        schema: { type: "integer", minimum: 1 },
      },
      {
        name: "name",
        required: false,
        description: "Name of the new instance (default: the backed-up instance's name).",
        schema: { type: "string", minLength: 1, maxLength: 128 },
      },
      {
        name: "backend_type",
        required: false,
        description: "Type of the new instance (default: the backup's).",
        schema: {},
      },
    ],
    result: {
      name: "restored",
      description: "The instance restored into, and the backup's snapshot index and size.",
      schema: {
        type: "object",
        properties: {
          instance_index: { type: "integer" },
          name: { type: "string" },
          snapshot_index: { type: "integer" },
          bytes: { type: "integer" },
        },
      },
    },
    admin: true,
    audited: true,
    errors: [
      {
        code: INVALID_PARAMS,
        message:
          "a param is malformed, the file is not a usable backup (damaged, foreign, another " +
          "format) or does not fit the instance (other command family or encryption)",
      },
      { code: NO_SUCH_INSTANCE, message: "no instance has that index" },
      { code: CONFLICT, message: "an instance with the new name exists" },
      { code: UNSUPPORTED_BACKEND, message: "the backup's type is not served here" },
      { code: REQUEST_FAILED, message: "the restore could not go through the instance's log" },
      UNAUTHORIZED,
      INTERNAL,
    ],
    handler: async (a, { plane }) => {
      if (
        a.instance_index !== undefined &&
        (a.name !== undefined || a.backend_type !== undefined)
      ) {
        throw new HeroError(
          "INVALID_PARAMS",
          "give instance_index (replace it) or name/backend_type (a new instance), not both",
        );
      }
      const backend = a.backend_type === undefined ? undefined : parseBackendJson(a.backend_type);
      const r = await backupsOf(plane).restore(resolve(a.path as string), {
        ...(a.instance_index === undefined ? {} : { index: a.instance_index as number }),
        ...(a.name === undefined ? {} : { name: a.name as string }),
        ...(backend === undefined ? {} : { backend }),
      });
      return {
        instance_index: r.index,
        name: r.name,
        snapshot_index: r.snapshotIndex,
        bytes: r.bytes,
      };
    },
  },
];
