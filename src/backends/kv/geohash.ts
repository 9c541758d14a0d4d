/**
 * The geohash arithmetic behind the GEO commands, pure and deterministic (GEOADD and
 * GEOSEARCHSTORE run in Raft apply), written to give bit-for-bit the numbers Redis 7 gives.
 *
 * A point is stored as a sorted-set score: a 52-bit integer interleaving 26 bits of latitude
 * (even bit positions) and 26 bits of longitude (odd positions), each the fixed-point offset of
 * the coordinate within -180..180 / -85.05112878..85.05112878. Decoding gives the centre of the
 * cell. Distances are haversine on a sphere of Redis's radius. A search covers the cell of the
 * right size around the centre and its 8 neighbours, then filters by exact distance
 * (./commands/geo-search.ts). Every formula keeps Redis's operation order, since the doubles it
 * produces are printed to 17 decimals. Interleaving works on two 32-bit halves (plain numbers);
 * the rare cell arithmetic of a search uses BigInt.
 */

export const LON_MIN = -180;
export const LON_MAX = 180;
export const LAT_MIN = -85.05112878;
export const LAT_MAX = 85.05112878;
export const STEP_MAX = 26;
export const EARTH_RADIUS_M = 6372797.560856;
const MERCATOR_MAX = 20037726.37;
const D_R = Math.PI / 180.0;

const degRad = (a: number): number => a * D_R;
const radDeg = (a: number): number => a / D_R;

export interface Range {
  min: number;
  max: number;
}
export const LON_RANGE: Range = { min: LON_MIN, max: LON_MAX };
export const LAT_RANGE: Range = { min: LAT_MIN, max: LAT_MAX };
/** The standard geohash ranges, which GEOHASH re-encodes with. */
export const STD_LAT_RANGE: Range = { min: -90, max: 90 };

/** A cell: its interleaved bits (2 * step of them) and its step. */
export interface Cell {
  bits: bigint;
  step: number;
}

export interface Area {
  lon: Range;
  lat: Range;
}

/** Spreads the 16 low bits of v to the even positions of a 32-bit word. */
function spread16(v: number): number {
  let x = v & 0xffff;
  x = (x | (x << 8)) & 0x00ff00ff;
  x = (x | (x << 4)) & 0x0f0f0f0f;
  x = (x | (x << 2)) & 0x33333333;
  x = (x | (x << 1)) & 0x55555555;
  return x >>> 0;
}

/** Gathers the even bits of a 32-bit word into 16 bits. */
function gather16(v: number): number {
  let x = v & 0x55555555;
  x = (x | (x >>> 1)) & 0x33333333;
  x = (x | (x >>> 2)) & 0x0f0f0f0f;
  x = (x | (x >>> 4)) & 0x00ff00ff;
  x = (x | (x >>> 8)) & 0x0000ffff;
  return x >>> 0;
}

const TWO32 = 2 ** 32;

/** Interleaves two uint32 (lat in even bits, lon in odd) into [hi, lo] 32-bit halves. */
function interleave(lat: number, lon: number): [number, number] {
  const lo = (spread16(lat) | (spread16(lon) << 1)) >>> 0;
  const hi = (spread16(lat >>> 16) | (spread16(lon >>> 16) << 1)) >>> 0;
  return [hi, lo];
}

/** C's double → uint32_t conversion for the values encode produces (0..2^32). */
const toU32 = (d: number): number => Math.trunc(d) >>> 0;

/**
 * Encodes a point with a step of 1..32 in the given ranges; undefined when it is outside them
 * or outside the Web-Mercator limits (geohashEncode's checks).
 */
export function encodeCell(
  lon: number,
  lat: number,
  step: number,
  lonRange: Range = LON_RANGE,
  latRange: Range = LAT_RANGE,
): Cell | undefined {
  if (lon > LON_MAX || lon < LON_MIN || lat > LAT_MAX || lat < LAT_MIN) return undefined;
  if (lat < latRange.min || lat > latRange.max || lon < lonRange.min || lon > lonRange.max) {
    return undefined;
  }
  let latOffset = (lat - latRange.min) / (latRange.max - latRange.min);
  let lonOffset = (lon - lonRange.min) / (lonRange.max - lonRange.min);
  latOffset *= 2 ** step;
  lonOffset *= 2 ** step;
  const [hi, lo] = interleave(toU32(latOffset), toU32(lonOffset));
  return { bits: (BigInt(hi) << 32n) | BigInt(lo), step };
}

/** The score GEOADD stores for a valid point (geohashEncodeWGS84 at step 26, as a double). */
export function encodeScore(lon: number, lat: number): number {
  if (lon > LON_MAX || lon < LON_MIN || lat > LAT_MAX || lat < LAT_MIN) {
    throw new RangeError("coordinates out of range");
  }
  const latOffset = ((lat - LAT_MIN) / (LAT_MAX - LAT_MIN)) * 2 ** STEP_MAX;
  const lonOffset = ((lon - LON_MIN) / (LON_MAX - LON_MIN)) * 2 ** STEP_MAX;
  const [hi, lo] = interleave(toU32(latOffset), toU32(lonOffset));
  return hi * TWO32 + lo;
}

/** C's (uint64_t) cast of a score, split into [hi, lo] 32-bit halves. */
function scoreHalves(score: number): [number, number] {
  if (!Number.isFinite(score) || score <= -1) {
    // Out of uint64 range: x86-64 gives the "indefinite" value; any fixed choice is fine.
    const n = BigInt.asUintN(64, Number.isFinite(score) ? BigInt(Math.trunc(score)) : 0n);
    return [Number(n >> 32n), Number(n & 0xffffffffn)];
  }
  const t = Math.trunc(score);
  if (t >= 2 ** 64) return [0, 0];
  const hi = Math.floor(t / TWO32);
  return [hi >>> 0, (t - hi * TWO32) >>> 0];
}

/** The area of a cell (geohashDecode). */
export function decodeCell(
  latBits: number,
  lonBits: number,
  step: number,
  lonRange: Range = LON_RANGE,
  latRange: Range = LAT_RANGE,
): Area {
  const latScale = latRange.max - latRange.min;
  const lonScale = lonRange.max - lonRange.min;
  const div = 2 ** step;
  const latNext = (latBits + 1) >>> 0;
  const lonNext = (lonBits + 1) >>> 0;
  return {
    lat: {
      min: latRange.min + ((latBits * 1.0) / div) * latScale,
      max: latRange.min + ((latNext * 1.0) / div) * latScale,
    },
    lon: {
      min: lonRange.min + ((lonBits * 1.0) / div) * lonScale,
      max: lonRange.min + ((lonNext * 1.0) / div) * lonScale,
    },
  };
}

/** The lat and lon fixed-point parts of a cell's bits (deinterleave64). */
export function splitCell(bits: bigint): { lat: number; lon: number } {
  const hi = Number((bits >> 32n) & 0xffffffffn);
  const lo = Number(bits & 0xffffffffn);
  return splitHalves(hi, lo);
}

function splitHalves(hi: number, lo: number): { lat: number; lon: number } {
  return {
    lat: ((gather16(hi) << 16) | gather16(lo)) >>> 0,
    lon: ((gather16(hi >>> 1) << 16) | gather16(lo >>> 1)) >>> 0,
  };
}

/** The area of a cell given as a Cell. */
export function cellArea(c: Cell): Area {
  const { lat, lon } = splitCell(c.bits);
  return decodeCell(lat, lon, c.step);
}

/** [lon, lat] of a score: the centre of its step-26 cell, clamped to the valid ranges. */
export function decodeScore(score: number): [number, number] {
  const [hi, lo] = scoreHalves(score);
  const { lat, lon } = splitHalves(hi, lo);
  const a = decodeCell(lat, lon, STEP_MAX);
  let x = (a.lon.min + a.lon.max) / 2;
  if (x > LON_MAX) x = LON_MAX;
  if (x < LON_MIN) x = LON_MIN;
  let y = (a.lat.min + a.lat.max) / 2;
  if (y > LAT_MAX) y = LAT_MAX;
  if (y < LAT_MIN) y = LAT_MIN;
  return [x, y];
}

const ALPHABET = "0123456789bcdefghjkmnpqrstuvwxyz";

/** The 11-character standard geohash GEOHASH answers for a score. */
export function geohashString(score: number): string {
  const [x, y] = decodeScore(score);
  const cell = encodeCell(x, y, STEP_MAX, LON_RANGE, STD_LAT_RANGE);
  const bits = cell?.bits ?? 0n;
  let out = "";
  for (let i = 0; i < 10; i++) out += ALPHABET[Number((bits >> BigInt(52 - (i + 1) * 5)) & 0x1fn)];
  return `${out}0`;
}

// ---- Distances ------------------------------------------------------------------------------

/** Haversine great-circle distance in metres (geohashGetDistance). */
export function distance(lon1: number, lat1: number, lon2: number, lat2: number): number {
  const lat1r = degRad(lat1);
  const lon1r = degRad(lon1);
  const lat2r = degRad(lat2);
  const lon2r = degRad(lon2);
  const u = Math.sin((lat2r - lat1r) / 2);
  const v = Math.sin((lon2r - lon1r) / 2);
  return (
    2.0 * EARTH_RADIUS_M * Math.asin(Math.sqrt(u * u + Math.cos(lat1r) * Math.cos(lat2r) * v * v))
  );
}

// ---- Neighbours and search areas --------------------------------------------------------------

const ODD = 0xaaaaaaaaaaaaaaaan;
const EVEN = 0x5555555555555555n;

/** Moves a cell one step east (d > 0) or west along the longitude (odd) bits. */
function moveX(c: Cell, d: number): Cell {
  const x = c.bits & ODD;
  const y = c.bits & EVEN;
  const shift = BigInt(64 - c.step * 2);
  const zz = EVEN >> shift;
  let nx = d > 0 ? x + (zz + 1n) : (x | zz) - (zz + 1n);
  nx = BigInt.asUintN(64, nx) & (ODD >> shift);
  return { bits: nx | y, step: c.step };
}

/** Moves a cell one step north (d > 0) or south along the latitude (even) bits. */
function moveY(c: Cell, d: number): Cell {
  const x = c.bits & ODD;
  const y = c.bits & EVEN;
  const shift = BigInt(64 - c.step * 2);
  const zz = ODD >> shift;
  let ny = d > 0 ? y + (zz + 1n) : (y | zz) - (zz + 1n);
  ny = BigInt.asUintN(64, ny) & (EVEN >> shift);
  return { bits: x | ny, step: c.step };
}

/** The 8 neighbours of a cell, wrapping around at the edges of the ranges. */
export interface Neighbours {
  north: Cell;
  south: Cell;
  east: Cell;
  west: Cell;
  northEast: Cell;
  northWest: Cell;
  southEast: Cell;
  southWest: Cell;
}

export function neighbours(c: Cell): Neighbours {
  return {
    east: moveX(c, 1),
    west: moveX(c, -1),
    south: moveY(c, -1),
    north: moveY(c, 1),
    northWest: moveY(moveX(c, -1), 1),
    northEast: moveY(moveX(c, 1), 1),
    southEast: moveY(moveX(c, 1), -1),
    southWest: moveY(moveX(c, -1), -1),
  };
}

/** The step whose cells are about the size of a search radius (geohashEstimateStepsByRadius). */
export function estimateStep(rangeMeters: number, lat: number): number {
  if (rangeMeters === 0) return 26;
  let step = 1;
  let r = rangeMeters;
  while (r < MERCATOR_MAX) {
    r *= 2;
    step++;
  }
  step -= 2;
  if (lat > 66 || lat < -66) {
    step--;
    if (lat > 80 || lat < -80) step--;
  }
  return Math.min(26, Math.max(1, step));
}

/** A search shape: a circle of `radius` or a box `width` × `height`, in units of `conversion` m. */
export type Shape =
  | { type: "radius"; lon: number; lat: number; conversion: number; radius: number }
  | { type: "box"; lon: number; lat: number; conversion: number; width: number; height: number };

/** [minLon, minLat, maxLon, maxLat] around a shape (geohashBoundingBox). */
export function boundingBox(s: Shape): [number, number, number, number] {
  const height = s.conversion * (s.type === "radius" ? s.radius : s.height / 2);
  const width = s.conversion * (s.type === "radius" ? s.radius : s.width / 2);
  const latDelta = radDeg(height / EARTH_RADIUS_M);
  const lonDeltaTop = radDeg(width / EARTH_RADIUS_M / Math.cos(degRad(s.lat + latDelta)));
  const lonDeltaBottom = radDeg(width / EARTH_RADIUS_M / Math.cos(degRad(s.lat - latDelta)));
  const south = s.lat < 0;
  const lonDelta = south ? lonDeltaBottom : lonDeltaTop;
  return [s.lon - lonDelta, s.lat - latDelta, s.lon + lonDelta, s.lat + latDelta];
}

/**
 * The cells to scan for a shape, in Redis's order (centre, N, S, E, W, NE, NW, SE, SW), with
 * null for the ones that cannot hold a match (geohashCalculateAreasByShapeWGS84).
 */
export function searchCells(s: Shape): (Cell | null)[] {
  const [minLon, minLat, maxLon, maxLat] = boundingBox(s);
  let radiusMeters =
    s.type === "radius"
      ? s.radius
      : Math.sqrt((s.width / 2) * (s.width / 2) + (s.height / 2) * (s.height / 2));
  radiusMeters *= s.conversion;
  let step = estimateStep(radiusMeters, s.lat);
  let cell = encodeCell(s.lon, s.lat, step) ?? { bits: 0n, step };
  let n = neighbours(cell);
  let area = cellArea(cell);
  const north = cellArea(n.north);
  const south = cellArea(n.south);
  const east = cellArea(n.east);
  const west = cellArea(n.west);
  const decrease =
    north.lat.max < maxLat ||
    south.lat.min > minLat ||
    east.lon.max < maxLon ||
    west.lon.min > minLon;
  if (step > 1 && decrease) {
    step--;
    cell = encodeCell(s.lon, s.lat, step) ?? { bits: 0n, step };
    n = neighbours(cell);
    area = cellArea(cell);
  }
  const out: (Cell | null)[] = [
    cell,
    n.north,
    n.south,
    n.east,
    n.west,
    n.northEast,
    n.northWest,
    n.southEast,
    n.southWest,
  ];
  if (step >= 2) {
    const drop = (...idx: number[]) => {
      for (const i of idx) out[i] = null;
    };
    if (area.lat.min < minLat) drop(2, 8, 7);
    if (area.lat.max > maxLat) drop(1, 5, 6);
    if (area.lon.min < minLon) drop(4, 8, 6);
    if (area.lon.max > maxLon) drop(3, 7, 5);
  }
  return out;
}

/** [min, max) of the step-26 scores inside a cell. */
export function cellScores(c: Cell): [number, number] {
  const shift = BigInt(52 - c.step * 2);
  return [Number(c.bits << shift), Number((c.bits + 1n) << shift)];
}

/**
 * Whether a point is inside a shape and, if so, its distance in metres from the centre
 * (geoAppendIfWithinShape: a box compares the east-west and north-south legs separately).
 */
export function distanceIfInside(s: Shape, lon: number, lat: number): number | undefined {
  if (s.type === "radius") {
    const d = distance(s.lon, s.lat, lon, lat);
    return d > s.radius * s.conversion ? undefined : d;
  }
  const lonDistance = distance(lon, lat, s.lon, lat);
  const latDistance = distance(lon, lat, lon, s.lat);
  if (lonDistance > (s.width * s.conversion) / 2 || latDistance > (s.height * s.conversion) / 2) {
    return undefined;
  }
  return distance(s.lon, s.lat, lon, lat);
}
