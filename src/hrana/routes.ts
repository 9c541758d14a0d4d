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
 * Auth is the bearer token: the admin secret, an access key of the instance (a Read key runs
 * reads only), an ACL user's token (user_token) or Basic with a user's name and password (its
 * `db:` rules and command rules apply, as on RESP), none for a public instance. Anything the protocol calls an HTTP error (a token
 * refused, an unknown instance or baton, a body without the protocol's shape) answers a JSON
 * `{message, code}` with its status, which drivers show as they are.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { OwnBodyLimit } from "../api/http.ts";
import { clientAddress, type HttpAuthenticator, identify } from "../api/http-caller.ts";
import { logInternalError } from "../api/rpc.ts";
import type { Instance } from "../instances/instance.ts";
import { hashAccessKey } from "../security/access-keys.ts";
import type { CompiledUser } from "../security/acl/check.ts";
import { DEFAULT_USER_NAME } from "../security/acl/user.ts";
import type { AuditEvent } from "../security/audit.ts";
import { type AuthThrottle, failureDelayMs, hostOf } from "../security/auth-throttle.ts";
import {
  type Access,
  accessTo,
  type Credentials,
  type Principal,
  principalOf,
} from "../security/authorization.ts";
import { ProtocolError, readCursor, readPipeline } from "./proto.ts";
import { SqlSession } from "./sql-session.ts";
import { runBatch, runRequest } from "./stream-requests.ts";
import { type HranaStream, StreamTable } from "./streams.ts";

/** What the routes need from the server. */
export interface SqlHttpHost extends Credentials {
  /** Who a request's Authorization header names (the admin, a user, or another token). */
  auth: HttpAuthenticator;
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

const DEFAULT_BODY_LIMIT = 16 * 1024 * 1024;

/** The HTTP server's early check of a declared body size, for these routes. */
export function sqlHttpBodyLimit(limit = DEFAULT_BODY_LIMIT): OwnBodyLimit {
  return {
    prefix: "/sql/",
    limit,
    tooLarge: (reply) =>
      sendJson(reply, 413, {
        message: `the request body exceeds ${limit} bytes`,
        code: "TOO_LARGE",
      }),
  };
}

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

  /**
   * Who the request comes from and its access to the instance, with the ACL rules that apply
   * (a user's, or the default user's for a request without credentials); refused tokens are
   * audited and slowed down.
   */
  async function authorize(
    req: FastifyRequest,
    inst: Instance,
  ): Promise<{ principal: Principal; access: Access; rules: CompiledUser | null }> {
    const id = await identify(req.headers.authorization, host.auth, clientAddress(req));
    const token = id.otherToken;
    const users = host.auth.users;
    let principal = id.principal;
    let rules = id.rules;
    if (token !== null) principal = principalOf(host, token);
    else if (principal.kind === "anonymous" && users !== null) {
      if (users.defaultNeedsAuth() && !id.presented) {
        throw new HttpFailure(401, "UNAUTHORIZED", "authentication required: send a token");
      }
      rules = users.rulesOf(DEFAULT_USER_NAME) ?? null;
    }
    const access =
      id.presented && principal.kind === "anonymous"
        ? "none"
        : accessTo(host, inst, principal, rules);
    if (access !== "none") return { principal, access, rules };
    if (!id.presented) {
      throw new HttpFailure(
        401,
        "UNAUTHORIZED",
        `instance ${inst.index} is private: send "Authorization: Bearer <access key>"`,
      );
    }
    const client = clientAddress(req);
    host.audit({
      event: token === null ? "auth_failure" : "instance_auth_failure",
      client,
      instance: inst.index,
      ...(token === null ? {} : { keyHash: hashAccessKey(token) }),
      ...(principal.kind === "user" ? { user: principal.name } : {}),
      ...(id.failedUser !== undefined ? { user: id.failedUser } : {}),
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

  /** A request body read by `read`, a protocol error becoming HTTP 400. */
  function bodyOf<T>(req: FastifyRequest, read: (text: string) => T): T {
    try {
      return read(typeof req.body === "string" ? req.body : "");
    } catch (e) {
      if (e instanceof ProtocolError) throw new HttpFailure(400, "PROTOCOL", e.message);
      throw e;
    }
  }

  /**
   * The stream a request runs on: a new one (baton null) or the baton's, checked against the
   * request's instance and token. `passing`: the request closes a new stream at its end.
   */
  async function streamOf(
    req: FastifyRequest,
    baton: string | null,
    passing: boolean,
  ): Promise<HranaStream> {
    const inst = await instanceOf((req.params as { db: string }).db);
    // The stream belongs to the credential that opened it, whatever its kind.
    const token = req.headers.authorization ?? null;
    const { principal, access, rules } = await authorize(req, inst);
    if (baton === null) {
      const session = new SqlSession(inst, principal, access, host.clock);
      session.rules = rules;
      const stream = streams.open(session, token, passing);
      if (stream === null) {
        throw new HttpFailure(
          503,
          "TOO_MANY_STREAMS",
          "too many open streams on this node (or for this token): close some, or retry later",
        );
      }
      return stream;
    }
    const stream = streams.take(baton);
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
    stream.session.rules = rules;
    return stream;
  }

  /** Runs `work` on the stream; its outcome and the stream's next baton. */
  async function using<T>(
    stream: HranaStream,
    work: () => Promise<T>,
  ): Promise<[T, string | null]> {
    let result: T;
    try {
      result = await work();
    } catch (e) {
      stream.closed = true;
      stream.session.close();
      streams.release(stream);
      throw e;
    }
    return [result, streams.release(stream)];
  }

  async function pipeline(req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const body = bodyOf(req, readPipeline);
    const passing = body.baton === null && body.requests.at(-1)?.type === "close";
    const stream = await streamOf(req, body.baton, passing);
    const [results, baton] = await using(stream, async () => {
      const out: unknown[] = [];
      for (const r of body.requests) out.push(await runRequest(stream, r));
      return out;
    });
    return sendJson(reply, 200, { baton, base_url: null, results });
  }

  /**
   * Hrana 3's cursor: one batch whose results stream back as lines of JSON, the first naming
   * the stream's next baton, then each executed step's columns, rows and end (or its error).
   */
  async function cursor(req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const body = bodyOf(req, readCursor);
    const stream = await streamOf(req, body.baton, false);
    const [outcome, baton] = await using(stream, () => runBatch(stream, body.steps));
    const lines: unknown[] = [{ baton, base_url: null }];
    outcome.step_results.forEach((r, step) => {
      const error = outcome.step_errors[step];
      if (error !== null) lines.push({ type: "step_error", step, error });
      if (r === null) return;
      lines.push({ type: "step_begin", step, cols: r.cols });
      for (const row of r.rows as unknown[]) lines.push({ type: "row", row });
      lines.push({
        type: "step_end",
        affected_row_count: r.affected_row_count,
        last_insert_rowid: r.last_insert_rowid,
      });
    });
    const text = `${lines.map((l) => JSON.stringify(l)).join("\n")}\n`;
    return reply.code(200).header("content-type", "text/plain").send(Buffer.from(text));
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

  void app.register(
    async (scope) => {
      scope.setErrorHandler((error: Error & { statusCode?: number }, req, reply) => {
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
        logInternalError(`libsql ${req.method} ${req.url.split("?")[0]}`, error);
        return sendJson(reply, 500, { message: "internal error", code: "INTERNAL" });
      });
      scope.setNotFoundHandler((req, reply) =>
        sendJson(reply, 404, {
          message: `no libSQL route ${req.method} ${req.url.split("?")[0].slice(0, 200)}: the client's URL is http://HOST:PORT/sql/<index or name>/libsql`,
          code: "NOT_FOUND",
        }),
      );
      for (const base of ["/:db", "/:db/libsql"]) {
        for (const version of ["v2", "v3"]) {
          scope.get(`${base}/${version}`, versionCheck);
          scope.post(`${base}/${version}/pipeline`, { bodyLimit }, pipeline);
        }
        scope.post(`${base}/v3/cursor`, { bodyLimit }, cursor);
      }
      for (const version of ["v2", "v3"]) {
        scope.post(`/${version}/pipeline`, wrongUrl);
      }
    },
    { prefix: "/sql" },
  );

  return { close: () => streams.close() };
}
