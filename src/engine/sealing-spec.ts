/**
 * How a command's arguments and replies carry values, for session encryption (USEKEY) on
 * encrypted instances: which arguments are values bound to which key, which are set members, and
 * how to open the reply. Commands declare it in their table entry; src/security/sealing.ts does
 * the cryptography. A command without a declaration is refused on encrypted instances.
 */
export interface Sealing {
  /** Argument positions of values to seal, each with the position of the key it belongs to. */
  values?: (args: Buffer[]) => Array<[value: number, key: number]>;
  /** Argument positions of set/sorted-set members (deterministic sealing). */
  members?: (args: Buffer[]) => number[];
  /**
   * How to open the reply: "value" a bulk bound to args[0]; "values" bulks (any nesting) bound to
   * args[0]; "mget" element i bound to args[i]; "hash" a field/value flat map bound to args[0];
   * "members" any sealed member anywhere; "keyed" [key, value or [values]] bound to reply[0].
   */
  reply?: ReplyMode | ((args: Buffer[]) => ReplyMode | undefined);
}

/**
 * "value" a bulk bound to args[0]; "values" bulks (any nesting) bound to args[0]; "mget" element
 * i bound to args[i]; "hash" a field/value flat map bound to args[0]; "scan-hash" an HSCAN reply
 * [cursor, [field, value…]]; "members" any sealed member anywhere; "keyed" [key, value or
 * [values]] bound to reply[0].
 */
export type ReplyMode = "value" | "values" | "mget" | "hash" | "scan-hash" | "members" | "keyed";

/** A command that carries no values and returns none: works on encrypted instances, no key needed. */
export const PLAIN: Sealing = {};

/** Values at start, start+step, … each bound to the key at args[0]. */
export const valuesFrom =
  (start: number, step = 1): Sealing["values"] =>
  (args) => {
    const out: Array<[number, number]> = [];
    for (let i = start; i < args.length; i += step) out.push([i, 0]);
    return out;
  };

/** MSET-style key/value pairs: the value at i is bound to the key at i - 1. */
export const keyValuePairs: Sealing["values"] = (args) => {
  const out: Array<[number, number]> = [];
  for (let i = 1; i < args.length; i += 2) out.push([i, i - 1]);
  return out;
};

/** Members at start, start+step, … */
export const membersFrom =
  (start: number, step = 1): Sealing["members"] =>
  (args) => {
    const out: number[] = [];
    for (let i = start; i < args.length; i += step) out.push(i);
    return out;
  };

/** ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member …: the members after the options. */
export const zaddMembers: Sealing["members"] = (args) => {
  const options = new Set(["NX", "XX", "GT", "LT", "CH", "INCR"]);
  let i = 1;
  while (i < args.length && options.has(args[i].toString("latin1").toUpperCase())) i++;
  const out: number[] = [];
  for (let m = i + 1; m < args.length; m += 2) out.push(m);
  return out;
};

/** Attaches sealing rules to a table entry. */
export const sealed = <T extends { sealing?: Sealing }>(spec: T, sealing: Sealing): T => ({
  ...spec,
  sealing,
});
