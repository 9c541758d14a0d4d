/**
 * Throw-away X.509 certificates for tests of the node-to-node TLS transport.
 *
 * Generated with the `openssl` command line (present on the test machines), so the tests depend
 * neither on `herodb certs` nor on an extra npm package. `testCa()` makes a self-signed CA (EC
 * P-256, valid for a day); `ca.issueNode(id)` signs a certificate for node `id` whose subject
 * CN is `herodb node <id>`, the name the transport holds a node to (as `herodb certs` writes
 * it), and `ca.issue(cn)` one with any other CN (for certificates that name no node). Their SANs
 * cover 127.0.0.1 and localhost and their extended key usage allows both TLS server and client
 * auth, as every node both accepts and dials. Everything is written to one temp directory that
 * `ca.cleanup()` removes; callers read the PEM strings and never touch the files.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface TestCert {
  cert: string;
  key: string;
  /** PEM of the CA that signed `cert`. */
  ca: string;
}

export interface TestCa {
  /** The CA certificate (PEM). */
  cert: string;
  /** Node `id`'s certificate (CN `herodb node <id>`), signed by this CA. */
  issueNode(id: number): TestCert;
  /** A certificate with subject CN `cn`, signed by this CA. */
  issue(cn: string): TestCert;
  cleanup(): void;
}

const NODE_EXTENSIONS = [
  "basicConstraints = critical, CA:FALSE",
  "keyUsage = critical, digitalSignature",
  "extendedKeyUsage = serverAuth, clientAuth",
  "subjectAltName = IP:127.0.0.1, DNS:localhost",
  "",
].join("\n");

function openssl(args: string[], cwd: string): void {
  execFileSync("openssl", args, { cwd, stdio: ["ignore", "ignore", "pipe"] });
}

/** A fresh CA in its own temp directory; `name` goes into its subject. */
export function testCa(name = "herodb-test-ca"): TestCa {
  const dir = mkdtempSync(join(tmpdir(), "herodb-certs-"));
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  openssl(
    [
      "req",
      "-x509",
      ...ec,
      "-keyout",
      "ca.key",
      "-out",
      "ca.crt",
      "-days",
      "1",
      "-subj",
      `/CN=${name}`,
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign",
    ],
    dir,
  );
  writeFileSync(join(dir, "node.ext"), NODE_EXTENSIONS);
  const caCert = readFileSync(join(dir, "ca.crt"), "utf8");
  let serial = 1;
  const issue = (cn: string): TestCert => {
    const base = `node-${serial}`;
    openssl(
      ["req", "-new", ...ec, "-keyout", `${base}.key`, "-out", `${base}.csr`, "-subj", `/CN=${cn}`],
      dir,
    );
    openssl(
      [
        "x509",
        "-req",
        "-in",
        `${base}.csr`,
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-set_serial",
        String(serial++),
        "-days",
        "1",
        "-extfile",
        "node.ext",
        "-out",
        `${base}.crt`,
      ],
      dir,
    );
    return {
      cert: readFileSync(join(dir, `${base}.crt`), "utf8"),
      key: readFileSync(join(dir, `${base}.key`), "utf8"),
      ca: caCert,
    };
  };
  return {
    cert: caCert,
    issueNode: (id) => issue(`herodb node ${id}`),
    issue,
    cleanup(): void {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
