/**
 * Redis's partial quicksort (pqsort.c, Bentley & McIlroy's "Engineering a Sort Function" with
 * the recursion pruned to the ranks asked for), so that GEOSEARCH … COUNT n picks the same
 * members as Redis when several are at the same distance: which of the tied ones come first
 * depends on this exact algorithm (its pivots, its swaps), not just on the comparator. Results
 * outside the ranks asked for are left in no particular order, as in Redis.
 */

type Cmp<T> = (a: T, b: T) => number;

/** Sorts `arr` in place well enough that ranks lo..hi (inclusive) hold their sorted values. */
export function pqsort<T>(arr: T[], cmp: Cmp<T>, lo: number, hi: number): void {
  sortPart(arr, 0, arr.length, cmp, lo, hi);
}

function sortPart<T>(arr: T[], start: number, count: number, cmp: Cmp<T>, lo: number, hi: number) {
  const swap = (i: number, j: number) => {
    const t = arr[i];
    arr[i] = arr[j];
    arr[j] = t;
  };
  const vecswap = (i: number, j: number, n: number) => {
    for (let k = 0; k < n; k++) swap(i + k, j + k);
  };
  const med3 = (a: number, b: number, c: number): number =>
    cmp(arr[a], arr[b]) < 0
      ? cmp(arr[b], arr[c]) < 0
        ? b
        : cmp(arr[a], arr[c]) < 0
          ? c
          : a
      : cmp(arr[b], arr[c]) > 0
        ? b
        : cmp(arr[a], arr[c]) < 0
          ? a
          : c;
  // Whether the ranks asked for lie wholly on one side of [s, s + len).
  const outside = (s: number, len: number) =>
    (lo < s && hi < s) || (lo >= s + len && hi >= s + len);

  let a = start;
  let n = count;
  for (;;) {
    if (n < 7) {
      for (let pm = a + 1; pm < a + n; pm++) {
        for (let pl = pm; pl > a && cmp(arr[pl - 1], arr[pl]) > 0; pl--) swap(pl, pl - 1);
      }
      return;
    }
    let pm = a + Math.floor(n / 2);
    if (n > 7) {
      let pl = a;
      let pn = a + n - 1;
      if (n > 40) {
        const d = Math.floor(n / 8);
        pl = med3(pl, pl + d, pl + 2 * d);
        pm = med3(pm - d, pm, pm + d);
        pn = med3(pn - 2 * d, pn - d, pn);
      }
      pm = med3(pl, pm, pn);
    }
    swap(a, pm);
    let pa = a + 1;
    let pb = a + 1;
    let pc = a + n - 1;
    let pd = a + n - 1;
    for (;;) {
      let c: number;
      while (pb <= pc && (c = cmp(arr[pb], arr[a])) <= 0) {
        if (c === 0) swap(pa++, pb);
        pb++;
      }
      while (pb <= pc && (c = cmp(arr[pc], arr[a])) >= 0) {
        if (c === 0) swap(pc, pd--);
        pc--;
      }
      if (pb > pc) break;
      swap(pb++, pc--);
    }
    const pn = a + n;
    let r = Math.min(pa - a, pb - pa);
    vecswap(a, pb - r, r);
    r = Math.min(pd - pc, pn - pd - 1);
    vecswap(pb, pn - r, r);
    r = pb - pa;
    if (r > 1 && !outside(a, r)) sortPart(arr, a, r, cmp, lo, hi);
    r = pd - pc;
    if (r <= 1) return;
    a = pn - r;
    n = r;
    if (outside(a, n)) return;
  }
}
