/**
 * `herodb certs`: the certificates cluster nodes need to authenticate each other over mutual TLS,
 * and one for clients of the TLS ports (client.crt, CN `herodb client`), made without openssl, so
 * that setting up TLS needs nothing beyond this project.
 *
 * One private CA signs every node certificate, and each node trusts exactly that CA: a node's
 * certificate is both a server and a client certificate (`serverAuth` + `clientAuth`), because
 * every node both accepts connections from its peers and opens connections to them. Nodes hold
 * the same SANs (localhost, 127.0.0.1, ::1 and every --hosts entry) so any node can serve at any
 * of the cluster's addresses. Which node a certificate belongs to is its subject CN,
 * `herodb node <i>` (`nodeCertName`, src/security/tls.ts): the transport lets a certificate speak
 * only for the node it names (src/cluster/transport-tls.ts), so node<i>.crt is for the node
 * started with --node-id <i>.
 *
 * Keys are RSA 2048 from node:crypto (native and fast; node-forge's pure-JS key generation takes
 * seconds), converted to forge objects only to build and sign (SHA-256) the X.509 structures,
 * which node:crypto cannot do.
 *
 * Re-running on the same directory reuses its CA and adds only the missing node files, so a
 * cluster can grow (`--nodes 5` after `--nodes 3`) and no existing key or certificate is ever
 * overwritten: files are created exclusively, keys with mode 0600 in a 0700 directory. A key is
 * written before its certificate, so an interrupted run leaves a lone file that the next run
 * reports instead of silently pairing it with something new.
 */
import { createPrivateKey, generateKeyPairSync, randomBytes, X509Certificate } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { isIP } from "node:net";
import { join } from "node:path";
import forge from "node-forge";
import { makeDirs } from "../make-dir.ts";
import { nodeCertName } from "../security/tls.ts";

export const CERTS_HELP = `herodb certs: write a cluster CA and per-node certificates for mutual TLS

Usage: herodb certs --out DIR --nodes N [--hosts h1,h2,...]

  --out DIR        where to write ca.crt, ca.key, node<i>.crt, node<i>.key, and
                   client.crt, client.key for clients of --tls-port (created 0700)
  --nodes N        how many node certificates (1-64)
  --hosts LIST     extra names or IP addresses every node certificate is valid for
                   (always valid for localhost, 127.0.0.1 and ::1)
  -h, --help       this text

An existing CA in DIR is reused and existing files are never overwritten: running again with a
larger --nodes adds the missing node certificates, signed by the same CA (pass the same --hosts
again: it applies to the certificates written by that run).
`;

const CA_NAME = "HeroDB-TS cluster CA";
/** The subject of the client certificate (it names no node, so the transport never takes it). */
const CLIENT_NAME = "herodb client";
const MAX_NODES = 64;
const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;
/** Apple's limit for TLS server certificates, the strictest common client. */
const NODE_VALIDITY_DAYS = 825;
const CA_VALIDITY_YEARS = 10;
const DEFAULT_HOSTS = ["localhost", "127.0.0.1", "::1"];

export interface Pem {
  cert: string;
  key: string;
}

export interface CertsRequest {
  /** Node numbers to issue certificates for (1-based). */
  nodes: number[];
  /** Extra SAN entries beyond localhost, 127.0.0.1 and ::1. */
  hosts?: string[];
  /** The CA to sign with; a new one is made when absent. */
  ca?: Pem;
  /** Also issue a client certificate (for redis-cli --cert, curl --cert…). */
  client?: boolean;
  now?: Date;
}

export interface GeneratedCerts {
  ca: Pem;
  caCreated: boolean;
  nodes: Array<Pem & { index: number }>;
  client?: Pem;
}

/** A failure to report as one line; `exitCode` 2 is a usage error, 1 anything else. */
export class CertsError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode: number) {
    super(message);
    this.exitCode = exitCode;
  }
}

/** 16 random bytes as a DER INTEGER: top bit clear (positive) and first byte non-zero (minimal). */
function serial(): string {
  const b = randomBytes(16);
  b[0] = (b[0] & 0x3f) | 0x40;
  return b.toString("hex");
}

function sanFor(host: string): { type: number; value?: string; ip?: string } {
  return isIP(host) ? { type: 7, ip: host } : { type: 2, value: host };
}

interface Signer {
  pem: Pem;
  cert: forge.pki.Certificate;
  key: forge.pki.rsa.PrivateKey;
}

/**
 * A fresh key pair and an unsigned certificate for it, valid from a minute ago (clock skew). The
 * key comes from node:crypto; forge gets it only to sign with.
 */
function newCert(cn: string, now: Date, notAfter: Date): Signer {
  const pem = generateKeyPairSync("rsa", {
    modulusLength: 2048,
    privateKeyEncoding: { type: "pkcs8", format: "pem" },
    publicKeyEncoding: { type: "spki", format: "pem" },
  }).privateKey;
  const key = forge.pki.privateKeyFromPem(pem);
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.setRsaPublicKey(key.n, key.e);
  cert.serialNumber = serial();
  cert.validity.notBefore = new Date(now.getTime() - MINUTE_MS);
  cert.validity.notAfter = notAfter;
  cert.setSubject([{ name: "commonName", value: cn }]);
  return { pem: { cert: "", key: pem }, cert, key };
}

/** Signs with SHA-256 and returns the PEM pair (forge writes CRLF; LF like every other PEM). */
function sign(made: Signer, by: forge.pki.rsa.PrivateKey): Pem {
  made.cert.sign(by, forge.md.sha256.create());
  made.pem.cert = forge.pki.certificateToPem(made.cert).replace(/\r\n/g, "\n");
  return made.pem;
}

function createCa(now: Date): Signer {
  const notAfter = new Date(now);
  notAfter.setUTCFullYear(now.getUTCFullYear() + CA_VALIDITY_YEARS);
  const ca = newCert(CA_NAME, now, notAfter);
  ca.cert.setIssuer(ca.cert.subject.attributes);
  ca.cert.setExtensions([
    { name: "basicConstraints", cA: true, critical: true },
    { name: "keyUsage", keyCertSign: true, cRLSign: true, critical: true },
    { name: "subjectKeyIdentifier" },
  ]);
  sign(ca, ca.key);
  return ca;
}

function createNode(index: number, hosts: string[], ca: Signer, now: Date): Pem {
  return createLeaf(nodeCertName(index), hosts, ca, now, { serverAuth: true, clientAuth: true });
}

/** A certificate for clients of the TLS ports: client authentication only, no host names. */
function createClient(ca: Signer, now: Date): Pem {
  return createLeaf(CLIENT_NAME, null, ca, now, { clientAuth: true });
}

function createLeaf(
  cn: string,
  hosts: string[] | null,
  ca: Signer,
  now: Date,
  usage: { serverAuth?: boolean; clientAuth?: boolean },
): Pem {
  // A reused CA may expire sooner than a fresh certificate would; outliving it is useless.
  const end = Math.min(now.getTime() + NODE_VALIDITY_DAYS * DAY_MS, +ca.cert.validity.notAfter);
  const node = newCert(cn, now, new Date(end));
  node.cert.setIssuer(ca.cert.subject.attributes);
  // The AKI must name the key id the CA declares, which an imported CA may derive differently.
  const ski = ca.cert.getExtension("subjectKeyIdentifier") as { subjectKeyIdentifier?: string };
  const keyIdentifier = ski?.subjectKeyIdentifier
    ? forge.util.hexToBytes(ski.subjectKeyIdentifier)
    : ca.cert.generateSubjectKeyIdentifier().getBytes();
  node.cert.setExtensions([
    { name: "basicConstraints", cA: false, critical: true },
    { name: "keyUsage", digitalSignature: true, keyEncipherment: true, critical: true },
    { name: "extKeyUsage", ...usage },
    ...(hosts === null
      ? []
      : [
          {
            name: "subjectAltName",
            altNames: [...new Set([...DEFAULT_HOSTS, ...hosts])].map(sanFor),
          },
        ]),
    { name: "subjectKeyIdentifier" },
    { name: "authorityKeyIdentifier", keyIdentifier },
  ]);
  return sign(node, ca.key);
}

/** Makes (or reuses) the CA and issues the requested node certificates; touches no files. */
export function generateCerts(req: CertsRequest): GeneratedCerts {
  const now = req.now ?? new Date();
  const ca = req.ca ? loadCa(req.ca) : createCa(now);
  return {
    ca: ca.pem,
    caCreated: req.ca === undefined,
    nodes: req.nodes.map((index) => ({ index, ...createNode(index, req.hosts ?? [], ca, now) })),
    ...(req.client === true ? { client: createClient(ca, now) } : {}),
  };
}

/** Parses an existing CA, refusing one that could not sign certificates its nodes would accept. */
function loadCa(pem: Pem): Signer {
  try {
    const x509 = new X509Certificate(pem.cert);
    if (!x509.ca) throw new Error("ca.crt is not a CA certificate");
    if (!x509.checkPrivateKey(createPrivateKey(pem.key)))
      throw new Error("ca.key does not belong to ca.crt");
    // forge reads only RSA keys, so a foreign ECDSA CA is refused here.
    const cert = forge.pki.certificateFromPem(pem.cert);
    return { pem, cert, key: forge.pki.privateKeyFromPem(pem.key) };
  } catch (e) {
    throw new CertsError(`cannot use the existing CA: ${(e as Error).message}`, 1);
  }
}

const HOST_NAME = /^(\*\.)?[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?$/;

function parseOptions(argv: string[]): { out: string; nodes: number; hosts: string[] } | "help" {
  let out: string | undefined;
  let nodes: string | undefined;
  const hosts: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    let arg = argv[i];
    if (arg === "-h" || arg === "--help") return "help";
    let value: string | undefined;
    const eq = arg.indexOf("=");
    if (arg.startsWith("--") && eq > 0) {
      value = arg.slice(eq + 1);
      arg = arg.slice(0, eq);
    }
    if (arg !== "--out" && arg !== "--nodes" && arg !== "--hosts")
      throw new CertsError(`unknown option '${arg}' (see herodb certs --help)`, 2);
    if (value === undefined) {
      value = argv[++i];
      if (value === undefined) throw new CertsError(`option ${arg} needs a value`, 2);
    }
    if (arg === "--out") out = value;
    else if (arg === "--nodes") nodes = value;
    else hosts.push(...value.split(",").map((h) => h.trim()));
  }
  if (out === undefined || out === "")
    throw new CertsError("missing --out DIR (see herodb certs --help)", 2);
  if (nodes === undefined) throw new CertsError("missing --nodes N (see herodb certs --help)", 2);
  const n = /^[0-9]{1,3}$/.test(nodes) ? Number(nodes) : Number.NaN;
  if (!(n >= 1 && n <= MAX_NODES))
    throw new CertsError(`--nodes must be an integer from 1 to ${MAX_NODES}, got '${nodes}'`, 2);
  for (const h of hosts) {
    // A zone id (fe80::1%eth0) means nothing to a peer, so it cannot be a SAN.
    const ok = isIP(h) ? !h.includes("%") : h.length <= 253 && HOST_NAME.test(h);
    if (!ok && h !== "") throw new CertsError(`--hosts: '${h}' is not a host name or IP`, 2);
  }
  return { out, nodes: n, hosts: hosts.filter((h) => h !== "") };
}

/** Which of a key/certificate pair exists; a lone half is an interrupted run or a mistake. */
function pairState(dir: string, base: string): "none" | "both" {
  const [crt, key] = [`${base}.crt`, `${base}.key`];
  const has = [crt, key].filter((name) => existsSync(join(dir, name)));
  if (has.length === 1) {
    const lacks = has[0] === crt ? key : crt;
    throw new CertsError(`${dir} has ${has[0]} but no ${lacks}: restore it or remove ${has[0]}`, 1);
  }
  return has.length === 2 ? "both" : "none";
}

const ioMessage = (e: unknown) =>
  (e as NodeJS.ErrnoException).code ?? (e instanceof Error ? e.message : String(e));

function makeDir(dir: string): void {
  try {
    makeDirs(dir, 0o700);
  } catch (e) {
    throw new CertsError(`cannot create ${(e as Error).message}`, 1);
  }
}

function writeOut(dir: string, name: string, data: string, mode: number): void {
  const path = join(dir, name);
  try {
    // "wx": never replace a file, even one that appeared since we looked.
    writeFileSync(path, data, { mode, flag: "wx" });
  } catch (e) {
    throw new CertsError(`cannot write ${path}: ${ioMessage(e)}`, 1);
  }
  process.stdout.write(`wrote ${path}\n`);
}

/** Runs `herodb certs` with the arguments after "certs"; returns the process exit code. */
export function runCerts(argv: string[]): number {
  try {
    const opts = parseOptions(argv);
    if (opts === "help") {
      process.stdout.write(CERTS_HELP);
      return 0;
    }
    const dir = opts.out;
    makeDir(dir);
    let ca: Pem | undefined;
    try {
      const read = (name: string) => readFileSync(join(dir, name), "utf8");
      if (pairState(dir, "ca") === "both") ca = { cert: read("ca.crt"), key: read("ca.key") };
    } catch (e) {
      if (e instanceof CertsError) throw e;
      throw new CertsError(`cannot read the CA in ${dir}: ${ioMessage(e)}`, 1);
    }
    const all = Array.from({ length: opts.nodes }, (_, i) => i + 1);
    const missing = all.filter((i) => pairState(dir, `node${i}`) === "none");
    const needClient = pairState(dir, "client") === "none";
    const made = generateCerts({ nodes: missing, hosts: opts.hosts, ca, client: needClient });
    if (made.caCreated) {
      process.stdout.write(`created CA in ${dir}\n`);
      writeOut(dir, "ca.key", made.ca.key, 0o600);
      writeOut(dir, "ca.crt", made.ca.cert, 0o644);
    } else {
      process.stdout.write(`using existing CA in ${dir}\n`);
    }
    for (const node of made.nodes) {
      writeOut(dir, `node${node.index}.key`, node.key, 0o600);
      writeOut(dir, `node${node.index}.crt`, node.cert, 0o644);
    }
    if (made.client !== undefined) {
      writeOut(dir, "client.key", made.client.key, 0o600);
      writeOut(dir, "client.crt", made.client.cert, 0o644);
    }
    if (missing.length === 0 && made.client === undefined)
      process.stdout.write(`nothing to do: node1..node${opts.nodes} already exist\n`);
    return 0;
  } catch (e) {
    const [message, code] =
      e instanceof CertsError ? [e.message, e.exitCode] : [`unexpected error: ${ioMessage(e)}`, 1];
    process.stderr.write(`herodb certs: ${message}\n`);
    return code;
  }
}
