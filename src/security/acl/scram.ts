/**
 * How ACL passwords are stored and checked.
 *
 * Users' passwords are chosen by people, so they are kept salted and stretched in the SCRAM-SHA-256
 * stored form (RFC 5802 / RFC 7677), which a leaked catalog does not turn into working passwords
 * cheaply and which would also let a SCRAM login verify a client without ever seeing its password:
 *
 *   SCRAM-SHA-256$<iterations>:<base64 salt>$<base64 StoredKey>:<base64 ServerKey>
 *   SaltedPassword = PBKDF2-HMAC-SHA256(password, salt, iterations, 32)
 *   StoredKey = SHA-256(HMAC(SaltedPassword, "Client Key"));  ServerKey = HMAC(SaltedPassword, "Server Key")
 *
 * Redis's own form, `#<64 hex>` (an unsalted SHA-256 of the password), is accepted too so users
 * exported from Redis keep working; it is stored as `SHA-256$<hex>` and shown as Redis shows it.
 * Checks at AUTH use the asynchronous PBKDF2 (Node's thread pool), so logging in does not stall
 * the event loop; the synchronous variant is for ACL SETUSER `<pass`, which is rare.
 */
import {
  createHash,
  createHmac,
  pbkdf2,
  pbkdf2Sync,
  randomBytes,
  timingSafeEqual,
} from "node:crypto";

export const SCRAM_PREFIX = "SCRAM-SHA-256$";
export const SHA256_PREFIX = "SHA-256$";
/** RFC 7677's recommended minimum, and what new passwords get. */
export const SCRAM_ITERATIONS = 4096;
/** Stored forms asking for more are refused: each AUTH would pay for them. */
export const MAX_SCRAM_ITERATIONS = 1_000_000;
const SALT_BYTES = 16;
const HEX64 = /^[0-9a-f]{64}$/;
const B64 = /^[A-Za-z0-9+/]+={0,2}$/;

type Secret = string | Uint8Array;

interface ScramForm {
  kind: "scram";
  iterations: number;
  salt: Buffer;
  storedKey: Buffer;
  serverKey: Buffer;
}
interface Sha256Form {
  kind: "sha256";
  digest: Buffer;
}
type StoredForm = ScramForm | Sha256Form;

const bytes = (p: Secret): Buffer =>
  typeof p === "string" ? Buffer.from(p, "utf8") : Buffer.from(p);

function decodeB64(s: string): Buffer | null {
  return B64.test(s) && s.length % 4 === 0 ? Buffer.from(s, "base64") : null;
}

/** The parsed stored form, or null when `stored` is malformed (which then never verifies). */
function parse(stored: string): StoredForm | null {
  if (stored.startsWith(SHA256_PREFIX)) {
    const hex = stored.slice(SHA256_PREFIX.length);
    return HEX64.test(hex) ? { kind: "sha256", digest: Buffer.from(hex, "hex") } : null;
  }
  if (!stored.startsWith(SCRAM_PREFIX)) return null;
  const m = /^(\d{1,7}):([^$:]+)\$([^$:]+):([^$:]+)$/.exec(stored.slice(SCRAM_PREFIX.length));
  if (m === null) return null;
  const iterations = Number(m[1]);
  const salt = decodeB64(m[2]);
  const storedKey = decodeB64(m[3]);
  const serverKey = decodeB64(m[4]);
  if (iterations < SCRAM_ITERATIONS || iterations > MAX_SCRAM_ITERATIONS) return null;
  if (salt === null || salt.length < 8 || salt.length > 64) return null;
  if (storedKey?.length !== 32 || serverKey?.length !== 32) return null;
  return { kind: "scram", iterations, salt, storedKey, serverKey };
}

function format(f: StoredForm): string {
  if (f.kind === "sha256") return SHA256_PREFIX + f.digest.toString("hex");
  const b = (x: Buffer) => x.toString("base64");
  return `${SCRAM_PREFIX}${f.iterations}:${b(f.salt)}$${b(f.storedKey)}:${b(f.serverKey)}`;
}

function scramKeys(salted: Buffer): { storedKey: Buffer; serverKey: Buffer } {
  const clientKey = createHmac("sha256", salted).update("Client Key").digest();
  return {
    storedKey: createHash("sha256").update(clientKey).digest(),
    serverKey: createHmac("sha256", salted).update("Server Key").digest(),
  };
}

/** The SCRAM stored form of `password` with a given salt and iteration count (deterministic). */
export function hashPasswordWith(password: Secret, salt: Uint8Array, iterations: number): string {
  const salted = pbkdf2Sync(bytes(password), salt, iterations, 32, "sha256");
  return format({ kind: "scram", iterations, salt: Buffer.from(salt), ...scramKeys(salted) });
}

/** The SCRAM stored form of `password` with a fresh random 16-byte salt. */
export function hashPassword(password: Secret): string {
  return hashPasswordWith(password, randomBytes(SALT_BYTES), SCRAM_ITERATIONS);
}

/**
 * The stored form a `#…`/`!…` rule names, or null when malformed: Redis's 64 lower-case hex
 * digits, or a SCRAM stored form (canonicalised, so equal forms compare equal as strings).
 */
export function storedFormOf(text: string): string | null {
  if (HEX64.test(text)) return SHA256_PREFIX + text;
  if (!text.startsWith(SCRAM_PREFIX)) return null;
  const f = parse(text);
  return f === null ? null : format(f);
}

/** How ACL LIST and ACL GETUSER show a stored form: Redis's bare hex, or the SCRAM form. */
export function displayForm(stored: string): string {
  return stored.startsWith(SHA256_PREFIX) ? stored.slice(SHA256_PREFIX.length) : stored;
}

function sameDigest(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

function check(f: StoredForm, password: Buffer, salted: Buffer | null): boolean {
  if (f.kind === "sha256") {
    return sameDigest(createHash("sha256").update(password).digest(), f.digest);
  }
  return salted !== null && sameDigest(scramKeys(salted).storedKey, f.storedKey);
}

/** Whether `password` matches the stored form (false for a malformed one). Blocks for PBKDF2. */
export function verifyPasswordSync(stored: string, password: Secret): boolean {
  const f = parse(stored);
  if (f === null) return false;
  const p = bytes(password);
  const salted = f.kind === "scram" ? pbkdf2Sync(p, f.salt, f.iterations, 32, "sha256") : null;
  return check(f, p, salted);
}

/** Whether `password` matches the stored form; PBKDF2 runs off the event loop. */
export async function verifyPassword(stored: string, password: Secret): Promise<boolean> {
  const f = parse(stored);
  if (f === null) return false;
  const p = bytes(password);
  let salted: Buffer | null = null;
  if (f.kind === "scram") {
    const { salt, iterations } = f;
    salted = await new Promise<Buffer>((resolve, reject) =>
      pbkdf2(p, salt, iterations, 32, "sha256", (e, key) => (e ? reject(e) : resolve(key))),
    );
  }
  return check(f, p, salted);
}

/**
 * Whether `password` logs in as a user with these fields, as Redis decides: a disabled user
 * never; a nopass user always; otherwise one of the stored forms must match.
 */
export async function checkCredentials(
  user: {
    readonly enabled: boolean;
    readonly nopass: boolean;
    readonly passwords: readonly string[];
  },
  password: Secret,
): Promise<boolean> {
  if (!user.enabled) return false;
  if (user.nopass) return true;
  for (const stored of user.passwords) if (await verifyPassword(stored, password)) return true;
  return false;
}
