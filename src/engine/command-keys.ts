/**
 * The keys a command names and what it does with each one's value (read, write or both), from
 * its table entry and its arguments: what ACL key selectors (`~pattern`, `%R~`, `%W~`) check
 * and COMMAND GETKEYS answers. The table says it once per command (KeySpec in
 * ./command-spec.ts); this reads it against an actual argument list.
 *
 * Keys are found the way Redis counts positions (the command name is 0): first the legacy range
 * first..last by step (a negative last counts from the end), then, for a spec with `numkeys`,
 * the n arguments after the count at that position, then any argument after one of the spec's
 * `writesAfter` words (GEORADIUS … STORE dest), written. Access comes from the spec's `access`
 * (one value, or one per key with the last repeating), else from the command's `write` flag.
 *
 * It never throws and never reads past the arguments: arity and syntax are the command's own
 * to report when it runs, so a short list or a count that is not a count yields the keys there
 * are. A count is read leniently (a leading + or zeros, which the commands refuse anyway): a
 * count a command accepts is always read as the same number, so no key escapes the check.
 */
import type { CommandSpec, KeyAccess } from "./command-spec.ts";

export interface CommandKey {
  key: Buffer;
  access: KeyAccess;
}

const COUNT_RE = /^[+-]?[0-9]+$/;

/** The count in a numkeys argument, 0 when it is missing, negative or not an integer. */
function countOf(arg: Buffer | undefined): number {
  if (arg === undefined || arg.length > 24) return 0;
  const s = arg.toString("latin1");
  if (!COUNT_RE.test(s)) return 0;
  const n = Number(s);
  return Math.max(n, 0); // -0 and negatives count no keys
}

/**
 * The key arguments of a command, in order, with what it does with each. `args` exclude the
 * command name, as dispatch holds them (args[0] is position 1); for a subcommand's entry they
 * start with the subcommand's name.
 */
export function commandKeys(
  spec: Pick<CommandSpec, "flags" | "keys">,
  args: readonly Buffer[],
): CommandKey[] {
  const ks = spec.keys;
  if (ks === undefined) return [];
  const end = args.length + 1; // one past the last position (the name is 0)
  const positions: number[] = [];
  if (ks.first > 0 && ks.step > 0) {
    const last = ks.last < 0 ? end + ks.last : ks.last;
    for (let p = ks.first; p <= last && p < end; p += ks.step) positions.push(p);
  }
  if (ks.numkeys !== undefined && ks.numkeys > 0 && ks.numkeys < end) {
    const from = ks.numkeys + 1;
    const to = Math.min(from + countOf(args[ks.numkeys - 1]), end);
    for (let p = from; p < to; p++) positions.push(p);
  }
  const fallback: KeyAccess = spec.flags.includes("write") ? "write" : "read";
  const access = ks.access ?? fallback;
  const reads = ks.readsWith !== undefined && hasWord(args, ks.readsWith);
  const keys: CommandKey[] = positions.map((p, i) => {
    const a =
      typeof access === "string" ? access : (access[Math.min(i, access.length - 1)] ?? fallback);
    return { key: args[p - 1], access: reads && a === "write" ? "both" : a };
  });
  if (ks.writesAfter !== undefined) {
    for (let i = 0; i + 1 < args.length; i++) {
      const word = args[i].length <= 16 ? args[i].toString("latin1").toUpperCase() : "";
      if (ks.writesAfter.includes(word)) keys.push({ key: args[++i], access: "write" });
    }
  }
  return keys;
}

/** Whether `word` (upper case) is one of the arguments, in any letter case. */
function hasWord(args: readonly Buffer[], word: string): boolean {
  for (const a of args) {
    if (a.length === word.length && a.toString("latin1").toUpperCase() === word) return true;
  }
  return false;
}
