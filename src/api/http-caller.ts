/**
 * Who an HTTP request comes from, as every route of the HTTP port reads it: the bearer token of
 * its Authorization header, and the client address the audit log records.
 */
import type { FastifyRequest } from "fastify";

/** The token of `Authorization: Bearer <token>`, or null. */
export function bearerToken(header: string | undefined): string | null {
  if (header === undefined) return null;
  const match = /^Bearer[ \t]+(.+)$/i.exec(header.trim());
  return match === null ? null : match[1];
}

/** "address:port" of the request's client, for the audit log. */
export function clientAddress(req: FastifyRequest): string {
  return `${req.socket.remoteAddress ?? "?"}:${req.socket.remotePort ?? "?"}`;
}
