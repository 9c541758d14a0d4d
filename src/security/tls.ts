/**
 * TLS material and the rules every TLS endpoint of the server shares: loading a certificate, its
 * key and the CA that signs the other side's, the options a TLS 1.3 server or client is built
 * with, reading a certificate's subject CN, and telling a failed handshake in a log line.
 *
 * Why a module of its own: the node-to-node transport (src/cluster/transport-tls.ts) and the
 * listeners clients reach (RESP on --tls-port, HTTPS: ./client-tls.ts) both use it; keeping what is generic here, apart from the rules
 * of any one user (which node a certificate names, how a peer is dialed), makes both easy to
 * check. It imports nothing from the cluster, RESP or API layers.
 *
 * How: the material is the PEM bytes of three files, read once at start-up; a file that cannot
 * be read is a start-up error naming the flag that gave it. Servers and clients speak TLS 1.3
 * only and verify the other side's certificate against the CA. Certificate names follow one
 * rule, `herodb node <id>` for node `<id>` (what `herodb certs` writes, what the transport
 * checks), kept here so both take it from one place.
 *
 * Logs: a handshake a server refuses is told as the remote address and the reason in words. Only
 * a certificate's CN, clipped here (and escaped by whoever quotes it), ever reaches a log line;
 * never a certificate or a key.
 */
import { readFileSync } from "node:fs";
import type { Socket } from "node:net";
import type { ConnectionOptions, PeerCertificate, Server, TLSSocket, TlsOptions } from "node:tls";
import { HeroError } from "../errors.ts";

/** A certificate, its private key, and the CA the other side's certificate must be signed by. */
export interface TlsMaterial {
  cert: Buffer | string;
  key: Buffer | string;
  ca: Buffer | string;
}

/** A file to read, and what to call it in an error (the flag that named it, e.g. `--tls-cert`). */
export interface TlsFile {
  flag: string;
  path: string;
}

/** Longest CN quoted in a log line or a refusal (the remote side chose the text). */
const MAX_LOGGED_CN = 80;
/** The CN of node `<id>`'s certificate: no leading zeros, no spaces beyond the single ones. */
const NODE_CN = /^herodb node ([1-9][0-9]{0,15})$/;
/** What OpenSSL says when the first bytes are not a TLS handshake. */
const NOT_TLS = /wrong version number|http request|unknown protocol|packet length too long/i;
/** TLS verification results that mean "not signed by the CA we trust". */
const UNTRUSTED_CA_CODES = new Set([
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "CERT_SIGNATURE_FAILURE",
]);

/**
 * Reads the certificate, key and CA files, in that order; the first that cannot be read throws
 * a HeroError naming its flag, its path and why (`--tls-cert /x.crt cannot be read: ENOENT`).
 */
export function loadTlsMaterial(files: { cert: TlsFile; key: TlsFile; ca: TlsFile }): TlsMaterial {
  const read = ({ flag, path }: TlsFile): Buffer => {
    try {
      return readFileSync(path);
    } catch (e) {
      throw new HeroError(
        "ERR",
        `${flag} ${path} cannot be read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      );
    }
  };
  return { cert: read(files.cert), key: read(files.key), ca: read(files.ca) };
}

/**
 * Options for a TLS 1.3 server presenting `material`; with `requireClientCert`, a client must
 * present a certificate signed by its CA or the handshake fails.
 */
export function serverTlsOptions(
  material: TlsMaterial,
  o: { requireClientCert: boolean },
): TlsOptions {
  return {
    cert: material.cert,
    key: material.key,
    ca: material.ca,
    requestCert: o.requireClientCert,
    rejectUnauthorized: true,
    minVersion: "TLSv1.3",
  };
}

/** Whether a client must present a certificate signed by the CA (Redis's tls-auth-clients). */
export type ClientCertPolicy = "yes" | "no" | "optional";

/**
 * Options for a server that clients reach (RESP on --tls-port, the HTTPS API): TLS 1.2 or later,
 * which every Redis client library, redis-cli and curl speak. With "yes" a client without a
 * certificate signed by the CA fails the handshake; with "optional" one is asked for, and the
 * listener refuses a connection that presented one the CA did not sign (Node cannot say "ask,
 * verify if given" in options alone: see `presentedUntrusted`).
 */
export function clientFacingTlsOptions(
  material: { cert: Buffer | string; key: Buffer | string; ca?: Buffer | string },
  policy: ClientCertPolicy,
): TlsOptions {
  return {
    cert: material.cert,
    key: material.key,
    ...(material.ca === undefined ? {} : { ca: material.ca }),
    requestCert: policy !== "no",
    rejectUnauthorized: policy === "yes",
    minVersion: "TLSv1.2",
  };
}

/** True when a client presented a certificate that does not verify (refuse it under "optional"). */
export function presentedUntrusted(sock: TLSSocket): boolean {
  if (sock.authorized) return false;
  const cert = sock.getPeerCertificate();
  return cert !== null && Object.keys(cert).length > 0;
}

/**
 * Options for a TLS 1.3 client presenting `material`, which accepts only a server certificate
 * signed by its CA (the caller adds where to connect and any identity check of its own).
 */
export function clientTlsOptions(material: TlsMaterial): ConnectionOptions {
  return { cert: material.cert, key: material.key, ca: material.ca, minVersion: "TLSv1.3" };
}

/** A certificate's subject CN; undefined when it has none, or several (ambiguous). */
export function certificateCommonName(
  cert: PeerCertificate | null | undefined,
): string | undefined {
  const cn: unknown = cert?.subject?.CN;
  return typeof cn === "string" ? cn : undefined;
}

/** The subject CN of the certificate the other end of `sock` presented. */
export function peerCommonName(sock: TLSSocket): string | undefined {
  return certificateCommonName(sock.getPeerCertificate());
}

/** A CN fit for a log line: clipped (it is the remote side's text; the logger escapes it). */
export function loggableCommonName(cn: string | undefined): string | undefined {
  return cn !== undefined && cn.length > MAX_LOGGED_CN ? `${cn.slice(0, MAX_LOGGED_CN)}…` : cn;
}

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

/**
 * Makes `server` remember each client's address from the moment it connects, which
 * describeHandshakeFailure needs: Node destroys a socket whose client certificate fails
 * verification before reporting it, so its own address is gone by then, but reading the address
 * at accept caches it on the raw TCP socket underneath.
 */
export function keepRemoteAddresses(server: Server): void {
  server.prependListener("connection", (raw: Socket) => void raw.remoteAddress);
}

/**
 * Who a failed TLS handshake with a client came from, and why it failed, in words fit for a log
 * line (the server's 'tlsClientError' event gives `err` and `sock`). `trustedCa` names the CA in
 * the reason for a certificate it did not sign (e.g. "the cluster CA"). Needs
 * keepRemoteAddresses on the server for the address of a client whose certificate was refused.
 */
export function describeHandshakeFailure(
  err: Error & { reason?: string },
  sock: TLSSocket,
  trustedCa: string,
): { remote: string; reason: string } {
  const parent = (sock as unknown as { _parent?: Socket })._parent;
  const remote = sock.remoteAddress ?? parent?.remoteAddress ?? "unknown";
  const auth: unknown = sock.authorizationError;
  const code = typeof auth === "string" ? auth : (auth as { code?: string } | null)?.code;
  if (code !== undefined && UNTRUSTED_CA_CODES.has(code)) {
    return { remote, reason: `certificate not signed by ${trustedCa}` };
  }
  if (code !== undefined) return { remote, reason: `certificate rejected (${code})` };
  // A TLS 1.3 client checks our certificate before sending its own: one that refuses it (say,
  // a client that expected another server at this address) just closes.
  if ((err as NodeJS.ErrnoException).code === "ECONNRESET") {
    return { remote, reason: "the client left during the handshake (refused this certificate?)" };
  }
  // OpenSSL messages carry a source location after the reason; the reason alone says it.
  const reason = err.reason ?? err.message.split("\n")[0];
  if (NOT_TLS.test(reason)) return { remote, reason: `not TLS (${reason}): a plain-text client?` };
  if (/peer did not return a certificate/.test(reason)) {
    return { remote, reason: "no client certificate, and one is required" };
  }
  return { remote, reason };
}
