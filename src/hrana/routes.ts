/**
 * libSQL's "Hrana over HTTP" (versions 2 and 3, JSON) on the HTTP port, one base URL per SQL
 * instance, so @libsql/client, and Drizzle, Kysely or Prisma through it, use an instance as
 * they would use a libSQL server.
 *
 * The base URL is `http://HOST:PORT/sql/<index or name>/libsql`. Clients resolve the
 * protocol's paths (`v2/pipeline`) against the base URL as a browser resolves a link, which
 * replaces its last segment: a base URL ending in the instance (`…/sql/3`) would lose it, so
 * the documented URL ends in a fixed word. `…/sql/3/libsql`, `…/sql/3/libsql/` and `…/sql/3/`
 * all work; `…/sql/3` lands on `/sql/v2/pipeline`, which answers how to write the URL.
 *
 * Auth is the bearer token: the admin secret, or an access key of the instance (a Read key runs
 * reads only), none for a public instance. Anything the protocol calls an HTTP error (a token
 * refused, an unknown instance or baton, a body without the protocol's shape) answers a JSON
 * `{message, code}` with its status, which drivers show as they are.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { Instance } from "../instances/instance.ts";
import { hashAccessKey } from "../security/access-keys.ts";
import type { AuditEvent } from "../security/audit.ts";
import { type AuthThrottle, failureDelayMs, hostOf } from "../security/auth-throttle.ts";
import {
  type Access,
  accessTo,
  type Credentials,
  type Principal,
  principalOf,
} from "../security/authorization.ts";
import { ProtocolError, readPipeline } from "./proto.ts";
import { SqlSession } from "./sql-session.ts";
import { runRequest } from "./stream-requests.ts";
import { type HranaStream, StreamTable } from "./streams.ts";

/** What the routes need from the server. */
export interface SqlHttpHost extends Credentials {
  /** The instance `ref` (an index or a name) names, once this node serves it. */
  instance(ref: string): Promise<Instance | undefined>;
  clock(): number;
  audit(ev: AuditEvent): void;
  authThrottle: AuthThrottle;
}

export interface SqlHttpOptions {
  /** Streams unused this long are closed, rolling back their transactions (default 10 s). */
  idleMs?: number;
  /** Open streams this node holds at most (default 1000). */
  maxStreams?: number;
  /** Largest pipeline body (default 16 MiB). */
  bodyLimit?: number;
}

export const SQL_HTTP_PREFIX = "/sql/";
const DEFAULT_BODY_LIMIT = 16 * 1024 * 1024;

class HttpFailure extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/**
 * A JSON body with exactly the content type drivers look for in errors (fastify would add a
 * charset to a string body; bytes are sent as typed).
 */
function sendJson(reply: FastifyReply, status: number, body: unknown): FastifyReply {
  return reply
    .code(status)
    .header("content-type", "application/json")
    .send(Buffer.from(JSON.stringify(body)));
}

const clientOf = (req: FastifyRequest): string =>
  `${req.socket.remoteAddress ?? "?"}:${req.socket.remotePort ?? "?"}`;

function tokenOf(req: FastifyRequest): string | null {
  const match = /^Bearer[ \t]+(.+)$/i.exec((req.headers.authorization ?? "").trim());
  return match === null ? null : match[1];
}

/** Registers the routes (call before the server listens); returns what to close at shutdown. */
export function registerSqlHttp(
  app: FastifyInstance,
  host: SqlHttpHost,
  opts: SqlHttpOptions = {},
): { close(): void } {
  const streams = new StreamTable(opts.idleMs ?? 10_000, opts.maxStreams ?? 1000);
  const bodyLimit = opts.bodyLimit ?? DEFAULT_BODY_LIMIT;

  async function instanceOf(ref: string): Promise<Instance> {
    const inst = await host.instance(ref);
    if (inst === undefined) {
      throw new HttpFailure(
        404,
        "NOT_FOUND",
        `no SQL instance '${ref.slice(0, 128)}' on this server`,
      );
    }
    if (!inst.serves("sql")) {
      throw new HttpFailure(
        400,
        "NOT_SQL",
        `instance ${inst.index} is not a SQL instance: libSQL's protocol serves SQL instances`,
      );
    }
    return inst;
  }

  /** The token's access to the instance; refused tokens are audited and slowed down. */
  async function authorize(
    req: FastifyRequest,
    inst: Instance,
    token: string | null,
  ): Promise<{ principal: Principal; access: Access }> {
    const principal = principalOf(host, token);
    const access = accessTo(host, inst, principal);
    if (access !== "none") return { principal, access };
    if (token === null) {
      throw new HttpFailure(
        401,
        "UNAUTHORIZED",
        `instance ${inst.index} is private: send "Authorization: Bearer <access key>"`,
      );
    }
    const client = clientOf(req);
    host.audit({
      event: "instance_auth_failure",
      client,
      instance: inst.index,
      keyHash: hashAccessKey(token),
      method: "libsql",
      outcome: "denied",
    });
    const delay = failureDelayMs(host.authThrottle.fail(hostOf(client), host.clock()));
    if (delay > 0) await new Promise((r) => setTimeout(r, delay));
    throw new HttpFailure(
      401,
      "UNAUTHORIZED",
      `the token gives no access to instance ${inst.index}`,
    );
  }

  async function pipeline(req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const ref = (req.params as { db: string }).db;
    const inst = await instanceOf(ref);
    const token = tokenOf(req);
    const { principal, access } = await authorize(req, inst, token);
    let body: ReturnType<typeof readPipeline>;
    try {
      body = readPipeline(typeof req.body === "string" ? req.body : "");
    } catch (e) {
      if (e instanceof ProtocolError) throw new HttpFailure(400, "PROTOCOL", e.message);
      throw e;
    }
    let stream: HranaStream | null | undefined;
    if (body.baton === null) {
      const session = new SqlSession(inst, principal, access, host.clock);
      stream = streams.open(session, token);
      if (stream === null) {
        throw new HttpFailure(
          503,
          "TOO_MANY_STREAMS",
          "too many open streams on this node: retry later",
        );
      }
    } else {
      stream = streams.take(body.baton);
      if (stream === undefined) {
        throw new HttpFailure(
          400,
          "STREAM_EXPIRED",
          "the baton is unknown: the stream was closed, expired after being idle, or is in use",
        );
      }
      if (stream.session.instance !== inst || stream.token !== token) {
        stream.closed = true;
        stream.session.close();
        streams.release(stream);
        throw new HttpFailure(
          400,
          "STREAM_MISMATCH",
          "the baton belongs to another instance or token",
        );
      }
      // Access is decided for every request: a key removed meanwhile stops working now.
      stream.session.principal = principal;
      stream.session.access = access;
    }
    const results: unknown[] = [];
    try {
      for (const r of body.requests) results.push(await runRequest(stream, r));
    } catch (e) {
      stream.closed = true;
      stream.session.close();
      streams.release(stream);
      throw e;
    }
    const baton = streams.release(stream);
    return sendJson(reply, 200, { baton, base_url: null, results });
  }

  const versionCheck = async (req: FastifyRequest, reply: FastifyReply) => {
    await instanceOf((req.params as { db: string }).db);
    return reply.code(200).header("content-type", "text/plain").send("ok");
  };

  const wrongUrl = (_req: FastifyRequest, reply: FastifyReply) =>
    sendJson(reply, 404, {
      message:
        "the URL has no instance: use http://HOST:PORT/sql/<index or name>/libsql as the client's URL (a URL ending in the instance, …/sql/3, loses it when the client adds v2/pipeline)",
      code: "NOT_FOUND",
    });

  void app.register(async (scope) => {
    scope.setErrorHandler((error: Error & { statusCode?: number }, _req, reply) => {
      if (error instanceof HttpFailure) {
        return sendJson(reply, error.status, { message: error.message, code: error.code });
      }
      if (error.statusCode === 413) {
        return sendJson(reply, 413, {
          message: `the request body exceeds ${bodyLimit} bytes`,
          code: "TOO_LARGE",
        });
      }
      if (error.statusCode !== undefined && error.statusCode < 500) {
        return sendJson(reply, error.statusCode, { message: error.message, code: "BAD_REQUEST" });
      }
      return sendJson(reply, 500, { message: "internal error", code: "INTERNAL" });
    });
    for (const base of ["/sql/:db", "/sql/:db/libsql"]) {
      for (const version of ["v2", "v3"]) {
        scope.get(`${base}/${version}`, versionCheck);
        scope.post(`${base}/${version}/pipeline`, { bodyLimit }, pipeline);
      }
    }
    for (const version of ["v2", "v3"]) {
      scope.post(`/sql/${version}/pipeline`, wrongUrl);
    }
  });

  return { close: () => streams.close() };
}
