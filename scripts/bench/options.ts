/**
 * The pieces every benchmark mode's option parser shares: a positive integer, and `--only`'s
 * list of target names (kept in the mode's own order). Errors carry the mode's usage text.
 */
export function positiveInt(flag: string, v: string | undefined, usage: string): number {
  const n = Number(v);
  if (Number.isInteger(n) && n > 0) return n;
  throw new Error(`${flag} needs a positive integer\n${usage}`);
}

export function onlyTargets<N extends string>(
  value: string | undefined,
  names: readonly N[],
  usage: string,
): N[] {
  const given = (value ?? "").split(",");
  const bad = given.find((n) => !names.includes(n as N));
  if (bad !== undefined) throw new Error(`--only takes ${names.join(", ")}\n${usage}`);
  return names.filter((n) => given.includes(n));
}
