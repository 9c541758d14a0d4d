/**
 * The sorted set behind Redis ZSETs: a Map from member to score for O(1) ZSCORE, plus an array
 * kept ordered by (score, member) for ranks and ranges. Inserts and removals are a binary search
 * plus a splice (memmove), which is fast for the sizes a single Node process serves; the order is
 * exactly Redis's: by score, ties broken by member bytes (members are latin1 strings, so JS string
 * comparison is byte comparison).
 */

export interface ZItem {
  member: string;
  score: number;
}

function cmp(aScore: number, aMember: string, b: ZItem): number {
  if (aScore !== b.score) return aScore < b.score ? -1 : 1;
  if (aMember === b.member) return 0;
  return aMember < b.member ? -1 : 1;
}

export class SortedSet {
  private readonly scores = new Map<string, number>();
  private readonly order: ZItem[] = [];

  get size(): number {
    return this.order.length;
  }

  score(member: string): number | undefined {
    return this.scores.get(member);
  }

  has(member: string): boolean {
    return this.scores.has(member);
  }

  /** Index of the first item not less than (score, member). */
  private lowerBound(score: number, member: string): number {
    let lo = 0;
    let hi = this.order.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cmp(score, member, this.order[mid]) > 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Adds or updates a member; returns true when the member is new. */
  set(member: string, score: number): boolean {
    const old = this.scores.get(member);
    if (old !== undefined) {
      if (old === score) return false;
      this.order.splice(this.lowerBound(old, member), 1);
    }
    this.scores.set(member, score);
    this.order.splice(this.lowerBound(score, member), 0, { member, score });
    return old === undefined;
  }

  delete(member: string): boolean {
    const old = this.scores.get(member);
    if (old === undefined) return false;
    this.scores.delete(member);
    this.order.splice(this.lowerBound(old, member), 1);
    return true;
  }

  /** 0-based rank in ascending order, undefined when absent. */
  rank(member: string): number | undefined {
    const s = this.scores.get(member);
    if (s === undefined) return undefined;
    return this.lowerBound(s, member);
  }

  at(rank: number): ZItem | undefined {
    return this.order[rank];
  }

  /** Items with ranks start..stop inclusive (already clamped by the caller). */
  range(start: number, stop: number): ZItem[] {
    return this.order.slice(start, stop + 1);
  }

  /** First rank whose score is >= min (or > min when exclusive). */
  firstByScore(min: number, exclusive: boolean): number {
    let lo = 0;
    let hi = this.order.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const s = this.order[mid].score;
      if (s < min || (exclusive && s === min)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** One past the last rank whose score is <= max (or < max when exclusive). */
  endByScore(max: number, exclusive: boolean): number {
    let lo = 0;
    let hi = this.order.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const s = this.order[mid].score;
      if (s < max || (!exclusive && s === max)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  items(): readonly ZItem[] {
    return this.order;
  }
}
