/**
 * The pieces every benchmark mode's option parser shares: a positive integer, and `--only`'s
 * list of target names (kept in the mode's own order). Errors carry the mode's usage text.
 * Also how many requests a redis-benchmark run makes at a pipeline depth (run.ts, tls.ts).
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

/**
 * Requests per run at a pipeline depth: `--requests` at -P 1, more with deeper pipelines (x4 at
 * -P 16), so a deep-pipeline run lasts about a second rather than a fraction of one, long enough
 * that one scheduling hiccup of this shared machine does not decide its figure.
 */
export function requestsAt(requests: number, pipeline: number): number {
  return requests * Math.max(1, Math.min(4, Math.floor(pipeline / 4)));
}
