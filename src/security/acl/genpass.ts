/**
 * ACL GENPASS: a random password for a new user, as hex (Redis's output form), from the
 * operating system's CSPRNG. It is returned to the admin once and stored only hashed.
 */
import { randomBytes } from "node:crypto";
import { HeroError } from "../../errors.ts";

export const DEFAULT_GENPASS_BITS = 256;
const MAX_GENPASS_BITS = 4096;

/**
 * `bits` of randomness as hex, rounded up to whole hex digits (4 bits each), as Redis does:
 * 256 gives 64 digits, 5 gives 2. Throws Redis's error unless 0 < bits <= 4096.
 */
export function genpass(bits: number = DEFAULT_GENPASS_BITS): string {
  if (!Number.isInteger(bits) || bits <= 0 || bits > MAX_GENPASS_BITS) {
    throw new HeroError(
      "ERR",
      "ACL GENPASS argument must be the number of bits for the output password, a positive number up to 4096",
    );
  }
  const digits = Math.ceil(bits / 4);
  return randomBytes(Math.ceil(digits / 2))
    .toString("hex")
    .slice(0, digits);
}
