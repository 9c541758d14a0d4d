/**
 * The control plane over HTTP: fastify, POST "/" with a JSON-RPC body.
 *
 * The body is taken as raw text (any content type, so `curl -d` without a header works) and
 * parsed by the dispatcher, which is how invalid JSON becomes -32700 instead of a fastify 400.
 * The bearer token is checked once per request, in constant time against the catalog's secret
 * tag; admin methods without it answer -32002 and HTTP 401. Bodies over the limit are refused
 * with 413 and a JSON-RPC error object, before any parsing.
 */

import type { TLSSocket, TlsOptions, Server as TlsServer } from "node:tls";
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply } from "fastify";
import { HeroError } from "../errors.ts";
import { log } from "../log.ts";
import {
  describeHandshakeFailure,
  keepRemoteAddresses,
  presentedUntrusted,
} from "../security/tls.ts";
import { registerBackupRoutes } from "./backup-routes.ts";
import type { ControlPlane } from "./control-plane.ts";
import { INVALID_REQUEST, PARSE_ERROR, UNAUTHORIZED } from "./errors.ts";
import { clientAddress, identify } from "./http-caller.ts";
import type { CallContext } from "./methods.ts";
import { type Probes, registerProbes } from "./probes.ts";
import { logInternalError, RpcDispatcher, type RpcReply } from "./rpc.ts";

export const DEFAULT_HTTP_HOST = "127.0.0.1";
export const DEFAULT_HTTP_PORT = 3000;
export const DEFAULT_BODY_LIMIT = 1024 * 1024;
/** Oversized uploads up to this size are drained so the client reads the 413. */
const DRAIN_LIMIT = 64 * 1024 * 1024;

export interface HttpOptions {
  plane: ControlPlane;
  host?: string;
  /** 0 picks a free port (see the returned `port`). */
  port?: number;
  bodyLimit?: number;
  /**
   * Serve HTTPS instead of HTTP with these options (src/security/client-tls.ts); `onServer` gets
   * the TLS server, whose context a certificate reload swaps.
   */
  tls?: { options: TlsOptions; onServer?: (server: TlsServer) => void };
  /** Reported in rpc.discover. */
  version?: string;
  /** Share one dispatcher with the Unix socket; one is built when absent. */
  dispatcher?: RpcDispatcher;
  /** GET /health, /ready and /metrics (./probes.ts); absent: no probes. */
  probes?: Probes;
  /** GET /backup/<index> and POST /restore (./backup-routes.ts), uploads spooled in this dir. */
  backupSpool?: string;
  /**
   * URL prefixes whose routes (registered by `configure`) have their own body limit, and how
   * they answer a body over it (in their protocol's form).
   */
  ownBodyLimits?: readonly OwnBodyLimit[];
  /** Register extra routes before the server starts listening. */
  configure?: (app: FastifyInstance) => void | Promise<void>;
}

export interface OwnBodyLimit {
  prefix: string;
  limit: number;
  tooLarge(reply: FastifyReply): FastifyReply;
}

export interface HttpServer {
  port: number;
  host: string;
  app: FastifyInstance;
  close(): Promise<void>;
}

function hasUnauthorized(reply: RpcReply): boolean {
  const list = reply === null ? [] : Array.isArray(reply) ? reply : [reply];
  return list.some((r) => r.error?.code === UNAUTHORIZED);
}

function errorBody(code: number, message: string): Record<string, unknown> {
  return { jsonrpc: "2.0", id: null, error: { code, message } };
}

function sendJson(reply: FastifyReply, status: number, body: unknown): FastifyReply {
  return reply.code(status).type("application/json; charset=utf-8").send(JSON.stringify(body));
}

export async function startHttp(opts: HttpOptions): Promise<HttpServer> {
  const bodyLimit = opts.bodyLimit ?? DEFAULT_BODY_LIMIT;
  const dispatcher =
    opts.dispatcher ??
    new RpcDispatcher(opts.plane, { version: opts.version, onInternalError: logInternalError });
  const app = Fastify({
    logger: false,
    bodyLimit,
    requestTimeout: 30_000,
    connectionTimeout: 60_000,
    ...(opts.tls === undefined ? {} : { https: opts.tls.options }),
  }) as unknown as FastifyInstance;
  if (opts.tls !== undefined) guardTls(app.server as unknown as TlsServer, opts.tls.onServer);

  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "string" }, (_req, body, done) => done(null, body));

  app.setErrorHandler((error: FastifyError, _req, reply) => {
    if (error.statusCode === 413) {
      return sendJson(
        reply,
        413,
        errorBody(INVALID_REQUEST, `request body exceeds the limit of ${bodyLimit} bytes`),
      );
    }
    const status =
      error.statusCode !== undefined && error.statusCode < 500 ? error.statusCode : 500;
    const code = status === 500 ? -32603 : INVALID_REQUEST;
    return sendJson(
      reply,
      status,
      errorBody(code, status === 500 ? "internal error" : error.message),
    );
  });

  // A body declared too large is refused before it is parsed. The upload is read and discarded
  // (up to DRAIN_LIMIT) before answering: closing while the client is still sending makes it see
  // a broken pipe instead of the 413.
  app.addHook("onRequest", (req, reply, done) => {
    const declared = Number(req.headers["content-length"] ?? 0);
    // A restore's body is a backup file, streamed to disk: the JSON-RPC limit is not for it.
    const own = opts.ownBodyLimits?.find((o) => req.url.startsWith(o.prefix));
    if (!(declared > (own?.limit ?? bodyLimit)) || req.url.startsWith("/restore")) {
      done();
      return;
    }
    const answer = () =>
      own !== undefined
        ? own.tooLarge(reply.header("connection", "close"))
        : sendJson(
            reply.header("connection", "close"),
            413,
            errorBody(INVALID_REQUEST, `request body exceeds the limit of ${bodyLimit} bytes`),
          );
    if (declared > DRAIN_LIMIT) {
      answer();
      return;
    }
    req.raw.once("end", answer);
    req.raw.once("error", () => req.raw.destroy());
    req.raw.resume();
  });

  app.setNotFoundHandler((req, reply) =>
    sendJson(
      reply,
      404,
      errorBody(
        INVALID_REQUEST,
        `no route ${req.method} ${req.url}; POST / (JSON-RPC), GET /health, /ready, /metrics, libSQL at /sql/<instance>/libsql`,
      ),
    ),
  );

  const auth = opts.plane.authenticator;
  app.post("/", async (req, reply) => {
    const id = await identify(req.headers.authorization, auth, clientAddress(req));
    const users = auth.users;
    const call: CallContext = {
      client: clientAddress(req),
      transport: "http",
      principal: id.principal,
      presentedSecret: id.presented,
      userMayAdmin: users !== null && id.rules !== null && users.allowsCategory(id.rules, "admin"),
    };
    if (id.failedUser !== undefined) {
      opts.plane.audit({
        event: "auth_failure",
        outcome: "denied",
        client: call.client,
        user: id.failedUser,
        method: "http",
      });
    }
    const text = typeof req.body === "string" ? req.body : "";
    if (text.trim() === "") {
      return sendJson(reply, 200, errorBody(PARSE_ERROR, "Parse error: empty body"));
    }
    const result = await dispatcher.handleText(text, call);
    if (result === null) return reply.code(204).send();
    if (hasUnauthorized(result)) {
      reply.header("www-authenticate", 'Bearer realm="herodb"');
      return sendJson(reply, 401, result);
    }
    return sendJson(reply, 200, result);
  });

  if (opts.probes !== undefined) registerProbes(app, opts.probes);
  if (opts.backupSpool !== undefined) registerBackupRoutes(app, opts.plane, opts.backupSpool);
  if (opts.configure !== undefined) await opts.configure(app);

  const host = opts.host ?? DEFAULT_HTTP_HOST;
  try {
    await app.listen({ host, port: opts.port ?? DEFAULT_HTTP_PORT });
  } catch (e) {
    await app.close().catch(() => undefined);
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === "EADDRINUSE" ? "address already in use" : (code ?? (e as Error).message);
    throw new HeroError(
      "ERR",
      `HTTP API cannot listen on ${host}:${opts.port ?? DEFAULT_HTTP_PORT}: ${why}`,
    );
  }
  const address = app.server.address();
  const port = typeof address === "object" && address !== null ? address.port : (opts.port ?? 0);
  return { port, host, app, close: () => app.close() };
}

/**
 * Logs refused handshakes, and refuses a client certificate the CA did not sign when one is
 * optional (Node accepts it then; see presentedUntrusted).
 */
function guardTls(server: TlsServer, onServer?: (server: TlsServer) => void): void {
  keepRemoteAddresses(server);
  server.prependListener("secureConnection", (sock: TLSSocket) => {
    if (!presentedUntrusted(sock)) return;
    log.warn(
      { remote: sock.remoteAddress, reason: "client certificate not signed by the configured CA" },
      "HTTPS client refused",
    );
    sock.destroy();
  });
  server.on("tlsClientError", (err, sock) => {
    const { remote, reason } = describeHandshakeFailure(err, sock, "the configured CA");
    log.warn({ remote, reason }, "HTTPS client refused");
  });
  onServer?.(server);
}
