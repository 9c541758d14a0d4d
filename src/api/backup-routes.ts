/**
 * Backups over HTTP, for `herodb backup` / `herodb restore` and for curl:
 *
 * - `GET /backup/<index>`: the backup file of the instance, streamed as it is taken
 *   (application/octet-stream, chunked).
 * - `POST /restore?instance=<index>` (replace it) or `POST /restore?name=<name>` (a new instance
 *   of the backup's type): the backup file as the body (application/octet-stream). It is stored
 *   in the data dir, checked whole, then restored (./backup-methods.ts has the rules).
 *
 * Both need `Authorization: Bearer <admin secret>` and are recorded in the audit log as
 * db_backup / db_restore calls over HTTP.
 */
import { createWriteStream } from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { HeroError } from "../errors.ts";
import { backupsOf } from "./backup-methods.ts";
import type { ControlPlane } from "./control-plane.ts";
import { rpcCodeFor } from "./errors.ts";
import { bearerToken, clientAddress } from "./http-caller.ts";

/** An error as JSON with the status a client can act on. */
function fail(reply: FastifyReply, e: unknown): FastifyReply {
  const he = e instanceof HeroError ? e : new HeroError("INTERNAL", "internal error");
  const status =
    he.code === "NOINSTANCE"
      ? 404
      : he.code === "INVALID_PARAMS" || he.code === "CONFLICT"
        ? 400
        : 500;
  return reply.code(status).send({ error: { code: rpcCodeFor(he.code), message: he.message } });
}

export function registerBackupRoutes(
  app: FastifyInstance,
  plane: ControlPlane,
  spool: string,
): void {
  // The restore body is a stream, not text: its own parser hands it over unread.
  app.addContentTypeParser("application/octet-stream", (_req, payload, done) =>
    done(null, payload),
  );

  /** Records the call in the audit log, as the JSON-RPC methods of the same names are. */
  const audit = (
    req: FastifyRequest,
    method: string,
    outcome: "ok" | "denied" | "error",
    instance?: number,
  ) =>
    plane.audit({
      event: "admin_call",
      outcome,
      client: clientAddress(req),
      method,
      ...(instance === undefined ? {} : { instance }),
      ...(outcome === "denied" ? { error: "-32002" } : {}),
    });

  const admitted = (req: FastifyRequest, reply: FastifyReply, method: string): boolean => {
    const token = bearerToken(req.headers.authorization);
    if (token !== null && plane.checkAdminSecret(token)) return true;
    audit(req, method, "denied");
    reply
      .code(401)
      .header("www-authenticate", 'Bearer realm="herodb"')
      .send({
        error: { code: -32002, message: "this needs Authorization: Bearer <admin secret>" },
      });
    return false;
  };

  app.get("/backup/:index", async (req, reply) => {
    if (!admitted(req, reply, "db_backup")) return reply;
    const index = Number((req.params as { index: string }).index);
    if (!Number.isSafeInteger(index) || index < 1) {
      return fail(
        reply,
        new HeroError("INVALID_PARAMS", "the instance index must be an integer ≥ 1"),
      );
    }
    // Headers go out with the first bytes; an error before them is answered as JSON.
    let started = false;
    const raw = reply.raw;
    try {
      await backupsOf(plane).backup(index, async (bytes) => {
        if (!started) {
          started = true;
          reply.hijack();
          raw.writeHead(200, {
            "content-type": "application/octet-stream",
            "content-disposition": `attachment; filename="instance-${index}.herodb-backup"`,
          });
        }
        if (!raw.write(bytes)) await new Promise((r) => raw.once("drain", r));
      });
      raw.end();
      audit(req, "db_backup", "ok", index);
      return reply;
    } catch (e) {
      audit(req, "db_backup", "error", index);
      if (!started) return fail(reply, e);
      raw.destroy(); // the client sees a cut stream, never a file that looks whole
      return reply;
    }
  });

  app.post("/restore", async (req, reply) => {
    if (!admitted(req, reply, "db_restore")) return reply;
    const q = req.query as { instance?: string; name?: string };
    const body = req.body as NodeJS.ReadableStream | undefined;
    if (body === undefined || typeof (body as { pipe?: unknown }).pipe !== "function") {
      return fail(
        reply,
        new HeroError("INVALID_PARAMS", "send the backup file as application/octet-stream"),
      );
    }
    const file = join(spool, `restore-upload-${process.pid}-${Date.now()}.part`);
    try {
      await pipeline(body, createWriteStream(file, { mode: 0o600 }));
      let target: { index: number } | { name?: string };
      if (q.instance !== undefined) {
        const index = Number(q.instance);
        if (!Number.isSafeInteger(index) || index < 1) {
          throw new HeroError("INVALID_PARAMS", "instance must be an integer ≥ 1");
        }
        target = { index };
      } else target = q.name === undefined ? {} : { name: q.name };
      const r = await backupsOf(plane).restore(file, target);
      audit(req, "db_restore", "ok", r.index);
      return reply.code(200).send({
        instance_index: r.index,
        name: r.name,
        snapshot_index: r.snapshotIndex,
        bytes: r.bytes,
      });
    } catch (e) {
      audit(req, "db_restore", "error");
      return fail(reply, e);
    } finally {
      await rm(file, { force: true });
    }
  });
}
