/**
 * The HTTP probes beside the JSON-RPC endpoint, for load balancers, Kubernetes and Prometheus:
 *
 * - `GET /health`: the process is up and serving HTTP (liveness). No secret.
 * - `GET /ready`: the node can serve: its catalog is loaded (true once HTTP listens) and every
 *   Raft group on it knows a leader and has applied everything it knows committed. 503 with the
 *   reasons otherwise. No secret.
 * - `GET /metrics`: Prometheus text. Open unless a metrics token is configured, then it needs
 *   `Authorization: Bearer <token>` (a token of its own, so a scraper never holds the admin
 *   secret).
 */
import { timingSafeEqual } from "node:crypto";
import type { FastifyInstance } from "fastify";
import { bearerToken } from "./http-caller.ts";

export interface Probes {
  /** Why the node is not ready (empty when it is). */
  notReady(): string[];
  metrics(): Promise<string>;
  metricsContentType: string;
  /** When set, /metrics needs this bearer token. */
  metricsToken?: string;
}

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

export function registerProbes(app: FastifyInstance, probes: Probes): void {
  app.get("/health", async (_req, reply) => reply.code(200).send({ status: "ok" }));

  app.get("/ready", async (_req, reply) => {
    const reasons = probes.notReady();
    if (reasons.length === 0) return reply.code(200).send({ status: "ready" });
    return reply.code(503).send({ status: "not ready", reasons });
  });

  app.get("/metrics", async (req, reply) => {
    const token = probes.metricsToken;
    if (token !== undefined) {
      const given = bearerToken(req.headers.authorization);
      if (given === null || !sameSecret(given, token)) {
        return reply
          .code(401)
          .header("www-authenticate", 'Bearer realm="herodb metrics"')
          .send({ error: "metrics need Authorization: Bearer <metrics token>" });
      }
    }
    const text = await probes.metrics();
    return reply.code(200).type(probes.metricsContentType).send(text);
  });
}
