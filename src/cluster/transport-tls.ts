/**
 * TLS of the node-to-node transport (./transport.ts): how its connections are opened and
 * accepted, and the rule that ties a certificate to a node. The generic part (TLS material,
 * TLS 1.3 options, reading a CN, telling a failed handshake in a log line) is
 * ../security/tls.ts; what is here is the cluster's use of it.
 *
 * Why a file of its own: everything here is about certificates and sockets, nothing about frames
 * or peers, and the rule that ties a certificate to a node is easier to check in one place.
 *
 * Trust: every connection is TLS 1.3 with a certificate on both sides, verified against the
 * cluster CA, so anything the CA did not sign is refused before a frame is read. The CA decides
 * who belongs to the cluster; the certificate's subject CN decides which member it is: node
 * `<id>` holds a certificate whose CN is exactly `herodb node <id>` (`nodeCertName`, what
 * `herodb certs` writes). The dialing side checks it during the handshake: `dialPeer` adds to the
 * usual host-name check that the server's certificate names the node it meant to reach (a stale
 * address where another node now listens fails there). The accepting side reads the client's CN
 * after the handshake and compares it with the id the client claims in its hello
 * (./transport-accept.ts). So no holder of a cluster certificate can speak for another node.
 *
 * Logs: a handshake the server refuses is reported with the remote address and the reason in
 * words. Only a certificate's CN, escaped and clipped, ever reaches a log line; never the
 * certificate or a key.
 */
import { isIP } from "node:net";
import { checkServerIdentity, connect, createServer, type Server, type TLSSocket } from "node:tls";
import { HeroError } from "../errors.ts";
import {
  certificateCommonName,
  clientTlsOptions,
  describeHandshakeFailure,
  keepRemoteAddresses,
  loggableCommonName,
  nodeCertName,
  nodeIdOfName,
  serverTlsOptions,
  type TlsMaterial,
} from "../security/tls.ts";
import { HANDSHAKE_TIMEOUT_MS } from "./peer-link.ts";

/** Idle time before TCP keepalive probes start (a silently dead peer is noticed). */
const KEEPALIVE_DELAY_MS = 10_000;

/** Why a certificate with CN `cn` is not node `id`'s, or null when it names exactly that node. */
export function notCertificateOf(cn: string | undefined, id: number): string | null {
  if (nodeIdOfName(cn) === id) return null;
  const expected = JSON.stringify(nodeCertName(id));
  if (cn === undefined) return `the certificate has no single CN, expected ${expected}`;
  return `the certificate's CN is ${JSON.stringify(loggableCommonName(cn))}, expected ${expected}`;
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
export function dialPeer(address: string, tls: TlsMaterial, node?: number): TLSSocket {
  const { host, port } = parseAddress(address);
  const sock = connect({
    ...clientTlsOptions(tls),
    host,
    port,
    // SNI takes names only; an IP address is still checked against the certificate's IP SANs.
    servername: isIP(host) === 0 ? host : undefined,
    checkServerIdentity: (hostname, cert) => {
      const error = checkServerIdentity(hostname, cert);
      if (error !== undefined || node === undefined) return error;
      const why = notCertificateOf(certificateCommonName(cert), node);
      return why === null ? undefined : new Error(`another node answered: ${why}`);
    },
  });
  sock.once("secureConnect", () => tune(sock));
  return sock;
}

/** The peer listener: TLS 1.3 only, a client certificate signed by the CA required. */
export function createPeerServer(tls: TlsMaterial): Server {
  const server = createServer({
    ...serverTlsOptions(tls, { requireClientCert: true }),
    handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
    noDelay: true,
    keepAlive: true,
    keepAliveInitialDelay: KEEPALIVE_DELAY_MS,
  });
  // For peerHandshakeFailure(): the address of a client whose certificate is refused.
  keepRemoteAddresses(server);
  return server;
}

/**
 * Who a failed TLS handshake with a peer came from, and why it failed, in words fit for a log
 * line (for a listener made by createPeerServer).
 */
export function peerHandshakeFailure(
  err: Error & { reason?: string },
  sock: TLSSocket,
): { remote: string; reason: string } {
  return describeHandshakeFailure(err, sock, "the cluster CA");
}
