/**
 * Errors as typed values.
 *
 * Every failure a user can cause is a HeroError with a stable code. Code deep inside the server
 * throws (or returns) HeroError; each protocol edge maps it exactly once: the RESP layer writes
 * `-<PREFIX> <message>`, the JSON-RPC layer builds an error object with a numeric code. Nothing
 * else formats errors, and nothing outside those edges sees a stack trace.
 */

export type ErrorCode =
  | "ERR" // generic Redis-style error
  | "SYNTAX" // syntax error in a command's arguments
  | "WRONGTYPE"
  | "NOPERM" // the session's permission does not allow the command
  | "NOAUTH" // authentication is required first
  | "WRONGPASS" // an access key or secret did not match
  | "EXECABORT"
  | "NOINSTANCE" // no instance is selected or the index does not exist
  | "UNSUPPORTED" // backend type or feature not available
  | "INVALID_PARAMS" // control-plane parameters failed validation
  | "UNAUTHORIZED" // control-plane call without the admin secret
  | "CONFLICT" // control-plane state conflict (name taken, …)
  | "PROTOCOL" // malformed request stream
  | "LIMIT" // an input limit was exceeded
  | "ENCRYPTION" // missing, wrong or unusable session key
  | "NOPROTO" // HELLO with an unsupported protocol version
  | "TRYAGAIN" // the write certainly did not apply (no leader, shutting down): retry
  | "CLUSTERDOWN" // no leader reachable for the instance's group: retry later
  | "TIMEOUT" // a write was not confirmed in time: it may or may not have applied
  | "SERIALIZATION" // a transaction conflicted with a concurrent commit: run it again
  | "INVALIDOBJ" // a stored value is damaged (a corrupt HyperLogLog)
  | "INTERNAL";

export class HeroError extends Error {
  readonly code: ErrorCode;
  /** Extra structured detail for JSON-RPC `data` (never secrets). */
  readonly data: unknown;
  constructor(code: ErrorCode, message: string, data?: unknown) {
    super(message);
    this.code = code;
    this.data = data;
  }
}

export const err = (message: string): HeroError => new HeroError("ERR", message);
export const syntaxError = (): HeroError => new HeroError("SYNTAX", "syntax error");
export const wrongType = (): HeroError =>
  new HeroError("WRONGTYPE", "Operation against a key holding the wrong kind of value");
export const notInteger = (): HeroError =>
  new HeroError("ERR", "value is not an integer or out of range");
export const notFloat = (): HeroError => new HeroError("ERR", "value is not a valid float");
export const wrongArity = (name: string): HeroError =>
  new HeroError("ERR", `wrong number of arguments for '${name.toLowerCase()}' command`);

/** The RESP error prefix of a code (the first word after '-'). */
export function respPrefix(code: ErrorCode): string {
  switch (code) {
    case "WRONGTYPE":
    case "NOPERM":
    case "NOAUTH":
    case "WRONGPASS":
    case "EXECABORT":
    case "NOPROTO":
    case "TRYAGAIN":
    case "CLUSTERDOWN":
    case "TIMEOUT":
    case "SERIALIZATION":
    case "INVALIDOBJ":
      return code;
    default:
      return "ERR";
  }
}
