/**
 * Redis's GEO commands. As in Redis, a geo set is an ordinary sorted set whose scores are 52-bit
 * geohashes (../geohash.ts), so ZRANGE, ZREM and the rest work on it unchanged and these
 * commands only translate: GEOADD encodes coordinates into scores, GEOPOS, GEODIST and GEOHASH
 * decode them. The searches (GEOSEARCH, GEORADIUS…) live in ./geo-search.ts.
 *
 * Replies follow Redis 7.0 to the byte: distances are bulk strings with 4 decimals in both
 * protocols; coordinates are printed to 17 decimals with trailing zeros trimmed, as bulk strings
 * for RESP2 and doubles for RESP3; a missing member is a null array in GEOPOS and a null in
 * GEOHASH and GEODIST. GEOADD is a write, applied in Raft log order: it is a pure function of
 * its arguments and the set.
 */

import type { Flag, KeySpec } from "../../../engine/command-spec.ts";
import { NULL_ARRAY, type Reply } from "../../../engine/reply.ts";
import { syntaxError } from "../../../errors.ts";
import { formatDistance } from "../geo-format.ts";
import { decodeScore, distance, encodeScore, geohashString } from "../geohash.ts";
import type { Keyspace } from "../keyspace.ts";
import { word } from "../parse.ts";
import { SortedSet } from "../sorted-set.ts";
import { bufOf, keyOf } from "../types.ts";
import { coordPair, parseLonLat, parseUnit, searchExec } from "./geo-search.ts";
import { KV_SCOPE, type KvCommand } from "./spec.ts";

/** GEOADD key [NX | XX] [CH] longitude latitude member [...]: Redis's rewrite into ZADD. */
function geoadd(ks: Keyspace, args: Buffer[], now: number): Reply {
  let nx = false;
  let xx = false;
  let ch = false;
  let i = 1;
  for (; i < args.length; i++) {
    const w = word(args[i]);
    if (w === "NX") nx = true;
    else if (w === "XX") xx = true;
    else if (w === "CH") ch = true;
    else break;
  }
  const rest = args.length - i;
  if (rest % 3 !== 0 || (nx && xx) || rest === 0) throw syntaxError();
  const pairs: { member: string; score: number }[] = [];
  for (; i < args.length; i += 3) {
    const [lon, lat] = parseLonLat(args[i], args[i + 1]);
    pairs.push({ member: keyOf(args[i + 2]), score: encodeScore(lon, lat) });
  }
  const key = keyOf(args[0]);
  let z = ks.read(key, "zset", now);
  if (z === undefined) {
    if (xx) return 0;
    z = ks.write(key, "zset", now, () => new SortedSet());
  }
  let added = 0;
  let updated = 0;
  for (const { member, score } of pairs) {
    const current = z.score(member);
    if (current === undefined) {
      if (xx) continue;
      z.set(member, score);
      added++;
    } else if (!nx && current !== score) {
      z.set(member, score);
      updated++;
    }
  }
  if (added + updated > 0) ks.touch(key);
  ks.deleteIfEmpty(key);
  return ch ? added + updated : added;
}

function geopos(ks: Keyspace, args: Buffer[], now: number): Reply {
  const z = ks.read(keyOf(args[0]), "zset", now);
  return args.slice(1).map((m): Reply => {
    const score = z?.score(keyOf(m));
    if (score === undefined) return NULL_ARRAY;
    const [lon, lat] = decodeScore(score);
    return coordPair(lon, lat);
  });
}

function geodist(ks: Keyspace, args: Buffer[], now: number): Reply {
  let toMeter = 1;
  if (args.length === 4) toMeter = parseUnit(args[3]);
  else if (args.length > 4) throw syntaxError();
  const z = ks.read(keyOf(args[0]), "zset", now);
  if (z === undefined) return null;
  const s1 = z.score(keyOf(args[1]));
  const s2 = z.score(keyOf(args[2]));
  if (s1 === undefined || s2 === undefined) return null;
  const [lon1, lat1] = decodeScore(s1);
  const [lon2, lat2] = decodeScore(s2);
  return bufOf(formatDistance(distance(lon1, lat1, lon2, lat2) / toMeter));
}

function geohash(ks: Keyspace, args: Buffer[], now: number): Reply {
  const z = ks.read(keyOf(args[0]), "zset", now);
  return args.slice(1).map((m): Reply => {
    const score = z?.score(keyOf(m));
    return score === undefined ? null : bufOf(geohashString(score));
  });
}

/** The fixed part of a geo command's table entry. */
function geoSpec(
  name: string,
  arity: number,
  flags: readonly Flag[],
  [first, last, step]: [number, number, number],
  access?: KeySpec["access"],
): Pick<KvCommand, "name" | "group" | "arity" | "flags" | "keys" | "scope"> {
  const keys: KeySpec =
    access === undefined ? { first, last, step } : { first, last, step, access };
  return { name, group: "geo", arity, flags, keys, scope: KV_SCOPE };
}

/** GEORADIUS(BYMEMBER): the source is read; a STORE or STOREDIST destination is written. */
function geoStoreSpec(name: string, arity: number) {
  const spec = geoSpec(name, arity, ["write"], [1, 1, 1], "read");
  return { ...spec, keys: { ...spec.keys!, writesAfter: ["STORE", "STOREDIST"] } };
}

const RADIUS_OPTIONS =
  "[WITHCOORD] [WITHDIST] [WITHHASH] [COUNT count [ANY]] [ASC | DESC] [STORE key | STOREDIST key]";
const RADIUS_RO_OPTIONS = "[WITHCOORD] [WITHDIST] [WITHHASH] [COUNT count [ANY]] [ASC | DESC]";
const FROM_BY =
  "<FROMMEMBER member | FROMLONLAT longitude latitude> " +
  "<BYRADIUS radius <M | KM | FT | MI> | BYBOX width height <M | KM | FT | MI>>";

export const geoCommands: KvCommand[] = [
  {
    ...geoSpec("GEOADD", -5, ["write"], [1, 1, 1]),
    syntax: "key [NX | XX] [CH] longitude latitude member [longitude latitude member ...]",
    summary: "Adds members with their coordinates to a geo set (a sorted set of geohashes).",
    exec: geoadd,
  },
  {
    ...geoSpec("GEODIST", -4, ["readonly"], [1, 1, 1]),
    syntax: "key member1 member2 [M | KM | FT | MI]",
    summary: "Returns the distance between two members of a geo set.",
    exec: geodist,
  },
  {
    ...geoSpec("GEOHASH", -2, ["readonly"], [1, 1, 1]),
    syntax: "key [member [member ...]]",
    summary: "Returns the standard 11-character geohash of members of a geo set.",
    exec: geohash,
  },
  {
    ...geoSpec("GEOPOS", -2, ["readonly"], [1, 1, 1]),
    syntax: "key [member [member ...]]",
    summary: "Returns the longitude and latitude of members of a geo set.",
    exec: geopos,
  },
  {
    // A write in Redis too: STORE and STOREDIST may name a destination.
    ...geoStoreSpec("GEORADIUS", -6),
    syntax: `key longitude latitude radius <M | KM | FT | MI> ${RADIUS_OPTIONS}`,
    summary: "Queries a geo set for members within a radius of a point (see GEOSEARCH).",
    exec: searchExec("radius"),
  },
  {
    ...geoStoreSpec("GEORADIUSBYMEMBER", -5),
    syntax: `key member radius <M | KM | FT | MI> ${RADIUS_OPTIONS}`,
    summary: "Queries a geo set for members within a radius of a member (see GEOSEARCH).",
    exec: searchExec("bymember"),
  },
  {
    ...geoSpec("GEORADIUS_RO", -6, ["readonly"], [1, 1, 1]),
    syntax: `key longitude latitude radius <M | KM | FT | MI> ${RADIUS_RO_OPTIONS}`,
    summary: "Read-only GEORADIUS: queries members within a radius of a point.",
    exec: searchExec("radius_ro"),
  },
  {
    ...geoSpec("GEORADIUSBYMEMBER_RO", -5, ["readonly"], [1, 1, 1]),
    syntax: `key member radius <M | KM | FT | MI> ${RADIUS_RO_OPTIONS}`,
    summary: "Read-only GEORADIUSBYMEMBER: queries members within a radius of a member.",
    exec: searchExec("bymember_ro"),
  },
  {
    ...geoSpec("GEOSEARCH", -7, ["readonly"], [1, 1, 1]),
    syntax: `key ${FROM_BY} [ASC | DESC] [COUNT count [ANY]] [WITHCOORD] [WITHDIST] [WITHHASH]`,
    summary: "Queries a geo set for members inside a circle or a box around a member or a point.",
    exec: searchExec("search"),
  },
  {
    ...geoSpec("GEOSEARCHSTORE", -8, ["write"], [1, 2, 1], ["write", "read"]),
    syntax: `destination source ${FROM_BY} [ASC | DESC] [COUNT count [ANY]] [STOREDIST]`,
    summary: "Like GEOSEARCH, but stores the members (scored by geohash or distance) in a key.",
    exec: searchExec("store"),
  },
];
