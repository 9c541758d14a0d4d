/**
 * The GEO searches: GEOSEARCH, GEOSEARCHSTORE and the older GEORADIUS family, which Redis runs
 * through one routine (georadiusGeneric) and which this file follows step for step, because the
 * order of its checks decides which error a bad command gets and the order it visits cells
 * decides the order of unsorted results and which members COUNT … ANY returns.
 *
 * A search resolves its centre and shape, asks ../geohash.ts for the 9 cells to visit, reads
 * each cell's score range from the sorted set in (score, member) order, keeps the members inside
 * the shape, sorts by distance when asked (stably, or with Redis's partial quicksort under COUNT,
 * so ties break as in Redis), and answers the members (with distance, hash and coordinates on
 * request) or stores them, scored by geohash or by distance, in a destination. The storing forms are writes, applied in Raft log order; nothing here draws
 * randomness or reads the clock, so every replica stores the same set.
 */

import { Double, type Reply } from "../../../engine/reply.ts";
import { err, syntaxError } from "../../../errors.ts";
import { formatCoord, formatDistance, toFixedExact } from "../geo-format.ts";
import { cellScores, decodeScore, distanceIfInside, type Shape, searchCells } from "../geohash.ts";
import type { Keyspace } from "../keyspace.ts";
import { parseInteger, word } from "../parse.ts";
import { pqsort } from "../pqsort.ts";
import type { SortedSet, ZItem } from "../sorted-set.ts";
import { bufOf, keyOf } from "../types.ts";
import type { KvExec } from "./spec.ts";
import { storeZset } from "./zsets-range.ts";

// ---- Arguments, shared with GEOADD: Redis's parsing and error strings -------------------------

/** A float argument as Redis's getDoubleFromObject reads it (strtod, no overflow, no NaN). */
export function geoFloat(b: Buffer, message = "value is not a valid float"): number {
  const s = b.toString("latin1");
  const fail = () => err(message);
  if (s.length === 0 || /^\s/.test(s)) throw fail();
  const lower = s.toLowerCase();
  if (/^[+-]?(inf|infinity)$/.test(lower)) return lower.startsWith("-") ? -Infinity : Infinity;
  if (lower.includes("nan")) throw fail();
  if (!/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/.test(lower) && !/^[+-]?0x[0-9a-f]+$/.test(lower)) {
    throw fail();
  }
  const n = lower.includes("0x") ? Number.parseInt(lower, 16) : Number(lower);
  if (!Number.isFinite(n) || Number.isNaN(n)) throw fail();
  // strtod's underflow (ERANGE with a zero result) is an error for Redis too.
  if (n === 0 && /[1-9]/.test(lower.split("e")[0])) throw fail();
  return n;
}

/** [lon, lat] from two arguments, checked against the geohash limits (extractLongLatOrReply). */
export function parseLonLat(lonArg: Buffer, latArg: Buffer): [number, number] {
  const lon = geoFloat(lonArg);
  const lat = geoFloat(latArg);
  if (lon < -180 || lon > 180 || lat < -85.05112878 || lat > 85.05112878) {
    throw err(`invalid longitude,latitude pair ${toFixedExact(lon, 6)},${toFixedExact(lat, 6)}`);
  }
  return [lon, lat];
}

/** Metres per unit (extractUnitOrReply). */
export function parseUnit(b: Buffer): number {
  switch (word(b)) {
    case "M":
      return 1;
    case "KM":
      return 1000;
    case "FT":
      return 0.3048;
    case "MI":
      return 1609.34;
    default:
      throw err("unsupported unit provided. please use M, KM, FT, MI");
  }
}

/** [lon, lat] of a member, or the "could not decode" error Redis gives for a missing one. */
function memberLonLat(z: SortedSet, member: Buffer): [number, number] {
  const score = z.score(keyOf(member));
  if (score === undefined) throw err("could not decode requested zset member");
  return decodeScore(score);
}

/** COUNT's argument: any 64-bit integer (counts beyond 2^53 mean "all" anyway). */
function parseCount(b: Buffer): number {
  const s = b.toString("latin1");
  if (/^-?[1-9][0-9]{15,18}$/.test(s)) {
    const n = BigInt(s);
    if (n <= 0x7fffffffffffffffn && n >= -0x8000000000000000n) {
      return n > 0n ? Number.MAX_SAFE_INTEGER : -1;
    }
  }
  return parseInteger(b);
}

/** Which command runs the routine; their argument layouts and options differ. */
export type SearchKind = "radius" | "radius_ro" | "bymember" | "bymember_ro" | "search" | "store";

interface Found {
  item: ZItem;
  lon: number;
  lat: number;
  dist: number;
}

/** The members inside a shape, cell by cell in Redis's order, stopping at `limit` if not 0. */
function collect(z: SortedSet, shape: Shape, limit: number): Found[] {
  const found: Found[] = [];
  const cells = searchCells(shape);
  let last = -1;
  for (let i = 0; i < cells.length; i++) {
    const cell = cells[i];
    if (cell === null) continue;
    const prev = last >= 0 ? cells[last] : null;
    if (prev && prev.bits === cell.bits && prev.step === cell.step) continue;
    if (found.length > 0 && limit > 0 && found.length >= limit) break;
    const [min, max] = cellScores(cell);
    const end = z.endByScore(max, true);
    for (let r = z.firstByScore(min, false); r < end; r++) {
      const item = z.at(r)!;
      const [lon, lat] = decodeScore(item.score);
      const dist = distanceIfInside(shape, lon, lat);
      if (dist !== undefined) found.push({ item, lon, lat, dist });
      if (found.length > 0 && limit > 0 && found.length >= limit) break;
    }
    last = i;
  }
  return found;
}

/** georadiusGeneric: `args` exclude the command name. */
function search(ks: Keyspace, args: Buffer[], now: number, kind: SearchKind): Reply {
  const isSearch = kind === "search" || kind === "store";
  const noStore = kind === "radius_ro" || kind === "bymember_ro";
  const srcIndex = kind === "store" ? 1 : 0;
  const z = ks.read(keyOf(args[srcIndex]), "zset", now);
  let storeKey: Buffer | undefined;
  let storeDist = false;
  let lon = 0;
  let lat = 0;
  let conversion = 1;
  let radius = 0;
  let width = 0;
  let height = 0;
  let type: "radius" | "box" = "radius";
  let base: number;
  const distanceArgs = (at: number) => {
    radius = geoFloat(args[at], "need numeric radius");
    if (radius < 0) throw err("radius cannot be negative");
    conversion = parseUnit(args[at + 1]);
  };
  if (kind === "radius" || kind === "radius_ro") {
    base = 5;
    [lon, lat] = parseLonLat(args[1], args[2]);
    distanceArgs(3);
  } else if (kind === "bymember" || kind === "bymember_ro") {
    base = 4;
    if (z !== undefined) {
      [lon, lat] = memberLonLat(z, args[1]);
      distanceArgs(2);
    }
  } else {
    base = kind === "store" ? 2 : 1;
    if (kind === "store") storeKey = args[0];
  }

  let withDist = false;
  let withHash = false;
  let withCoord = false;
  let fromMember = false;
  let fromLoc = false;
  let byRadius = false;
  let byBox = false;
  let sort: "none" | "asc" | "desc" = "none";
  let any = false;
  let count = 0;
  const remaining = args.length - base;
  for (let i = 0; i < remaining; i++) {
    const at = base + i;
    const w = word(args[at]);
    if (w === "WITHDIST") withDist = true;
    else if (w === "WITHHASH") withHash = true;
    else if (w === "WITHCOORD") withCoord = true;
    else if (w === "ANY") any = true;
    else if (w === "ASC") sort = "asc";
    else if (w === "DESC") sort = "desc";
    else if (w === "COUNT" && i + 1 < remaining) {
      count = parseCount(args[at + 1]);
      if (count <= 0) throw err("COUNT must be > 0");
      i++;
    } else if ((w === "STORE" || w === "STOREDIST") && i + 1 < remaining && !noStore && !isSearch) {
      storeKey = args[at + 1];
      storeDist = w === "STOREDIST";
      i++;
    } else if (w === "STOREDIST" && kind === "store") {
      storeDist = true;
    } else if (w === "FROMMEMBER" && i + 1 < remaining && isSearch && !fromLoc) {
      if (z !== undefined) [lon, lat] = memberLonLat(z, args[at + 1]);
      fromMember = true;
      i++;
    } else if (w === "FROMLONLAT" && i + 2 < remaining && isSearch && !fromMember) {
      [lon, lat] = parseLonLat(args[at + 1], args[at + 2]);
      fromLoc = true;
      i += 2;
    } else if (w === "BYRADIUS" && i + 2 < remaining && isSearch && !byBox) {
      distanceArgs(at + 1);
      type = "radius";
      byRadius = true;
      i += 2;
    } else if (w === "BYBOX" && i + 3 < remaining && isSearch && !byRadius) {
      width = geoFloat(args[at + 1], "need numeric width");
      height = geoFloat(args[at + 2], "need numeric height");
      if (height < 0 || width < 0) throw err("height or width cannot be negative");
      conversion = parseUnit(args[at + 3]);
      type = "box";
      byBox = true;
      i += 3;
    } else {
      throw syntaxError();
    }
  }

  if (storeKey !== undefined && (withDist || withHash || withCoord)) {
    const who = kind === "store" ? "GEOSEARCHSTORE" : "STORE option in GEORADIUS";
    throw err(`${who} is not compatible with WITHDIST, WITHHASH and WITHCOORD options`);
  }
  const cmdName = kind === "store" ? "geosearchstore" : "geosearch";
  if (isSearch && !(fromMember || fromLoc)) {
    throw err(`exactly one of FROMMEMBER or FROMLONLAT can be specified for ${cmdName}`);
  }
  if (isSearch && !(byRadius || byBox)) {
    throw err(`exactly one of BYRADIUS and BYBOX can be specified for ${cmdName}`);
  }
  if (any && count === 0) throw err("the ANY argument requires COUNT argument");

  if (z === undefined) {
    if (storeKey === undefined) return [];
    ks.delete(keyOf(storeKey), now);
    return 0;
  }
  if (count !== 0 && sort === "none" && !any) sort = "asc";

  const shape: Shape =
    type === "radius"
      ? { type, lon, lat, conversion, radius }
      : { type, lon, lat, conversion, width, height };
  const found = collect(z, shape, any ? count : 0);
  if (found.length === 0 && storeKey === undefined) return [];
  const returnedCount = count === 0 || found.length < count ? found.length : count;
  if (sort !== "none") {
    // Redis's comparators answer only -1, 0 or 1 and never order ties; all results go through
    // glibc's qsort (a merge sort, so stable), a COUNT through Redis's own partial quicksort.
    const asc = (a: Found, b: Found) => (a.dist > b.dist ? 1 : a.dist === b.dist ? 0 : -1);
    const cmp = sort === "asc" ? asc : (a: Found, b: Found) => -asc(a, b);
    if (returnedCount === found.length) found.sort(cmp);
    else pqsort(found, cmp, 0, returnedCount - 1);
  }
  const returned = found.slice(0, returnedCount);

  if (storeKey !== undefined) {
    const items = returned.map((f) => ({
      member: f.item.member,
      score: storeDist ? f.dist / conversion : f.item.score,
    }));
    return storeZset(ks, storeKey, items, now);
  }
  const options = (withDist ? 1 : 0) + (withHash ? 1 : 0) + (withCoord ? 1 : 0);
  return returned.map((f): Reply => {
    const member = bufOf(f.item.member);
    if (options === 0) return member;
    const row: Reply[] = [member];
    if (withDist) row.push(bufOf(formatDistance(f.dist / conversion)));
    if (withHash) row.push(Math.trunc(f.item.score));
    if (withCoord) row.push(coordPair(f.lon, f.lat));
    return row;
  });
}

/** [lon, lat] as Redis answers coordinates: bulk strings in RESP2, doubles in RESP3. */
export function coordPair(lon: number, lat: number): Reply[] {
  return [new Double(lon, formatCoord(lon)), new Double(lat, formatCoord(lat))];
}

/** The implementation of one of the search commands. */
export const searchExec =
  (kind: SearchKind): KvExec =>
  (ks, args, now) =>
    search(ks, args, now, kind);
