/**
 * TLS of the node-to-node transport (./transport.ts): how its connections are opened and
 * accepted, which certificates they take, and how a failed handshake is told in a log line.
 *
 * Why a file of its own: everything here is about certificates and sockets, nothing about frames
 * or peers, and the rule that ties a certificate to a node is easier to check in one place.
 *
 * Trust: every connection is TLS 1.3 with a certificate on both sides, verified against the
 * cluster CA, so anything the CA did not sign is refused before a frame is read. The CA decides
 * who belongs to the cluster; the certificate's subject CN decides which member it is: node
 * `<id>` holds a certificate whose CN is exactly `herodb node <id>` (what `herodb certs` writes).
 * The dialing side checks it during the handshake: `dialPeer` adds to the usual host-name check
 * that the server's certificate names the node it meant to reach (a stale address where another
 * node now listens fails there). The accepting side reads the client's CN after the handshake
 * and compares it with the id the client claims in its hello (./transport-accept.ts). So no
 * holder of a cluster certificate can speak for another node.
 *
 * Logs: a handshake the server refuses is reported with the remote address and the reason in
 * words. Only a certificate's CN, escaped and clipped, ever reaches a log line; never the
 * certificate or a key.
 */
import type { Socket } from "node:net";
import { isIP } from "node:net";
import {
  checkServerIdentity,
  connect,
  createServer,
  type PeerCertificate,
  type Server,
  type TLSSocket,
} from "node:tls";
import { HeroError } from "../errors.ts";
import { HANDSHAKE_TIMEOUT_MS } from "./peer-link.ts";
import type { PeerTls } from "./transport.ts";

/** Idle time before TCP keepalive probes start (a silently dead peer is noticed). */
const KEEPALIVE_DELAY_MS = 10_000;
/** Longest CN quoted in a log line or a refusal (the remote side chose the text). */
const MAX_LOGGED_CN = 80;
/** The CN of node `<id>`'s certificate: no leading zeros, no spaces beyond the single ones. */
const NODE_CN = /^herodb node ([1-9][0-9]{0,15})$/;
/** TLS verification results that mean "not signed by the CA we trust". */
const UNTRUSTED = new Set([
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "CERT_SIGNATURE_FAILURE",
]);

/** The subject CN node `id`'s certificate must carry. */
export function nodeCertName(id: number): string {
  return `herodb node ${id}`;
}

/** The node a certificate CN names, or null when the CN is not exactly `herodb node <id>`. */
export function nodeIdOfName(cn: string | undefined): number | null {
  const m = cn === undefined ? null : NODE_CN.exec(cn);
  const id = m === null ? Number.NaN : Number(m[1]);
  return Number.isSafeInteger(id) ? id : null;
}

/** A certificate's subject CN; undefined when it has none, or several (ambiguous). */
function commonName(cert: PeerCertificate | null | undefined): string | undefined {
  const cn: unknown = cert?.subject?.CN;
  return typeof cn === "string" ? cn : undefined;
}

/** The subject CN of the certificate the other end of `sock` presented. */
export function peerName(sock: TLSSocket): string | undefined {
  return commonName(sock.getPeerCertificate());
}

/** A CN fit for a log line: clipped (it is the remote side's text; the logger escapes it). */
export function loggedName(cn: string | undefined): string | undefined {
  return cn !== undefined && cn.length > MAX_LOGGED_CN ? `${cn.slice(0, MAX_LOGGED_CN)}…` : cn;
}

/** Why a certificate with CN `cn` is not node `id`'s, or null when it names exactly that node. */
export function notCertificateOf(cn: string | undefined, id: number): string | null {
  if (nodeIdOfName(cn) === id) return null;
  const expected = JSON.stringify(nodeCertName(id));
  if (cn === undefined) return `the certificate has no single CN, expected ${expected}`;
  return `the certificate's CN is ${JSON.stringify(loggedName(cn))}, expected ${expected}`;
}

/** "host:port" or "[v6]:port". */
function parseAddress(address: string): { host: string; port: number } {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(address) ?? /^([^:]+):(\d+)$/.exec(address);
  const port = m === null ? 0 : Number(m[2]);
  if (m === null || port < 1 || port > 65_535) {
    throw new HeroError("ERR", `not a host:port address: ${address}`);
  }
  return { host: m[1], port };
}

/** Socket options every peer connection gets once its handshake is done. */
export function tune(sock: TLSSocket): void {
  sock.setNoDelay(true);
  sock.setKeepAlive(true, KEEPALIVE_DELAY_MS);
}

/**
 * An mTLS connection to `address` (throws for a malformed address). The server's certificate
 * must be signed by the CA, name the host dialed (the default identity check) and, when `node`
 * is given, name that node; otherwise the socket fails with an 'error' saying why.
 */
export function dialPeer(address: string, tls: PeerTls, node?: number): TLSSocket {
  const { host, port } = parseAddress(address);
  const sock = connect({
    host,
    port,
    // SNI takes names only; an IP address is still checked against the certificate's IP SANs.
    servername: isIP(host) === 0 ? host : undefined,
    cert: tls.cert,
    key: tls.key,
    ca: tls.ca,
    minVersion: "TLSv1.3",
    checkServerIdentity: (hostname, cert) => {
      const error = checkServerIdentity(hostname, cert);
      if (error !== undefined || node === undefined) return error;
      const why = notCertificateOf(commonName(cert), node);
      return why === null ? undefined : new Error(`another node answered: ${why}`);
    },
  });
  sock.once("secureConnect", () => tune(sock));
  return sock;
}

/** The peer listener: TLS 1.3 only, a client certificate signed by the CA required. */
export function createPeerServer(tls: PeerTls): Server {
  const server = createServer({
    cert: tls.cert,
    key: tls.key,
    ca: tls.ca,
    requestCert: true,
    rejectUnauthorized: true,
    minVersion: "TLSv1.3",
    handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
    noDelay: true,
    keepAlive: true,
    keepAliveInitialDelay: KEEPALIVE_DELAY_MS,
  });
  // Reading the address caches it on the raw socket, for tlsFailure().
  server.prependListener("connection", (raw: Socket) => void raw.remoteAddress);
  return server;
}

/**
 * Who a failed TLS handshake with a client came from, and why it failed, in words fit for a log
 * line. Node destroys a socket whose client certificate fails verification before reporting it,
 * so its own address is gone by then; the raw TCP socket underneath still has it when it was
 * read at accept (createPeerServer).
 */
export function tlsFailure(
  err: Error & { reason?: string },
  sock: TLSSocket,
): { remote: string; reason: string } {
  const parent = (sock as unknown as { _parent?: Socket })._parent;
  const remote = sock.remoteAddress ?? parent?.remoteAddress ?? "unknown";
  const auth: unknown = sock.authorizationError;
  const code = typeof auth === "string" ? auth : (auth as { code?: string } | null)?.code;
  if (code !== undefined && UNTRUSTED.has(code)) {
    return { remote, reason: "certificate not signed by the cluster CA" };
  }
  if (code !== undefined) return { remote, reason: `certificate rejected (${code})` };
  // A TLS 1.3 client checks our certificate before sending its own: one that refuses it (a
  // dialer that finds another node at the address) just closes.
  if ((err as NodeJS.ErrnoException).code === "ECONNRESET") {
    return { remote, reason: "the client left during the handshake (refused this certificate?)" };
  }
  // OpenSSL messages carry a source location after the reason; the reason alone says it.
  return { remote, reason: err.reason ?? err.message.split("\n")[0] };
}
