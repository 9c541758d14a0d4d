/**
 * The TLS that clients meet: the certificate the RESP TLS port and the HTTPS API present, the CA
 * their client certificates must be signed by, and rereading those files without a restart.
 *
 * Why: certificates expire and are renewed by tools (certbot, cert-manager, a cron job) that
 * replace the files and signal the server. A restart would drop every connection; instead each
 * TLS server registered here gets a new secure context (Node's `setSecureContext`), which only
 * new handshakes use, so connections already open go on untouched.
 *
 * How: `load` reads the files once at start (an unreadable one is a start-up error naming its
 * flag); `reload` reads them all again, checks the certificate and key belong together, and only
 * then swaps the context of every server, so a half-written renewal leaves the old one in place.
 */
import { createPrivateKey, X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import type { TlsOptions, Server as TlsServer } from "node:tls";
import { HeroError } from "../errors.ts";
import { type ClientCertPolicy, clientFacingTlsOptions } from "./tls.ts";

export interface ClientTlsFiles {
  certFile: string;
  keyFile: string;
  caFile: string | null;
  authClients: ClientCertPolicy;
}

/** What a server needs of Node's TLS server: only new handshakes see a swapped context. */
type ContextHolder = Pick<TlsServer, "setSecureContext">;

export class ClientTls {
  private readonly files: ClientTlsFiles;
  private current: TlsOptions;
  private readonly servers: ContextHolder[] = [];

  private constructor(files: ClientTlsFiles, options: TlsOptions) {
    this.files = files;
    this.current = options;
  }

  /** Reads the files; throws a HeroError naming the first that cannot be used. */
  static load(files: ClientTlsFiles): ClientTls {
    return new ClientTls(files, readOptions(files));
  }

  /** The options a new TLS server is built with. */
  options(): TlsOptions {
    return this.current;
  }

  /** Whether clients must present a certificate ("yes"), may ("optional"), or are not asked. */
  get policy(): ClientCertPolicy {
    return this.files.authClients;
  }

  /** Registers a server whose context `reload` swaps. */
  serve(server: ContextHolder): void {
    this.servers.push(server);
  }

  /**
   * Rereads the files and gives every registered server the new context; throws (keeping the old
   * context everywhere) when a file cannot be read or the key does not match the certificate.
   */
  reload(): void {
    const next = readOptions(this.files);
    for (const s of this.servers) s.setSecureContext(next);
    this.current = next;
  }
}

function readOptions(f: ClientTlsFiles): TlsOptions {
  const cert = readPem("--tls-cert-file", f.certFile);
  const key = readPem("--tls-key-file", f.keyFile);
  const ca = f.caFile === null ? undefined : readPem("--tls-ca-cert-file", f.caFile);
  let matches: boolean;
  try {
    matches = new X509Certificate(cert).checkPrivateKey(createPrivateKey(key));
  } catch (e) {
    throw new HeroError("ERR", `${f.certFile} or ${f.keyFile} is not PEM: ${firstLine(e)}`);
  }
  if (!matches) {
    throw new HeroError("ERR", `--tls-key-file ${f.keyFile} is not the key of ${f.certFile}`);
  }
  if (ca !== undefined) {
    try {
      new X509Certificate(ca);
    } catch (e) {
      throw new HeroError(
        "ERR",
        `--tls-ca-cert-file ${f.caFile} is not a PEM certificate: ${firstLine(e)}`,
      );
    }
  }
  return clientFacingTlsOptions({ cert, key, ...(ca === undefined ? {} : { ca }) }, f.authClients);
}

function readPem(flag: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new HeroError(
      "ERR",
      `${flag} ${path} cannot be read: ${(e as NodeJS.ErrnoException).code ?? firstLine(e)}`,
    );
  }
}

const firstLine = (e: unknown): string => String((e as Error).message ?? e).split("\n")[0];
