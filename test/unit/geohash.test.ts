/**
 * The geohash arithmetic of the GEO commands (src/backends/kv/geohash.ts) and their number
 * printing (src/backends/kv/geo-format.ts): scores, decoded cell centres, the standard geohash
 * string, neighbours, search cells, distances and exact decimals, against values read from a
 * real Redis 7.0 (the Sicily example of the docs and the corners of the coordinate range).
 */
import { describe, expect, it } from "vitest";
import { formatCoord, formatDistance, toFixedExact } from "../../src/backends/kv/geo-format.ts";
import {
  cellArea,
  cellScores,
  decodeScore,
  distance,
  distanceIfInside,
  encodeCell,
  encodeScore,
  estimateStep,
  geohashString,
  neighbours,
  searchCells,
} from "../../src/backends/kv/geohash.ts";
import { pqsort } from "../../src/backends/kv/pqsort.ts";

const PALERMO = 3479099956230698;
const CATANIA = 3479447370796909;

describe("encode and decode", () => {
  it("gives Redis's scores for the Sicily example", () => {
    expect(encodeScore(13.361389, 38.115556)).toBe(PALERMO);
    expect(encodeScore(15.087269, 37.502669)).toBe(CATANIA);
  });

  it("decodes the centre of the cell, printed as Redis prints it", () => {
    const [lon, lat] = decodeScore(PALERMO);
    expect(formatCoord(lon)).toBe("13.36138933897018433");
    expect(formatCoord(lat)).toBe("38.11555639549629859");
    const [lon2, lat2] = decodeScore(CATANIA);
    expect(formatCoord(lon2)).toBe("15.08726745843887329");
    expect(formatCoord(lat2)).toBe("37.50266842333162032");
  });

  it("handles the corners of the range as Redis does", () => {
    expect(encodeScore(-180, -85.05112878)).toBe(0);
    // lon 180 and the top latitude overflow 26 bits: bits 52 and 53.
    expect(encodeScore(180, 85.05112878)).toBe(13510798882111488);
    const [lon, lat] = decodeScore(13510798882111488);
    expect(formatCoord(lon)).toBe("180");
    expect(formatCoord(lat)).toBe("85.0511287799999991");
    const [lon0, lat0] = decodeScore(0);
    expect(formatCoord(lon0)).toBe("-179.99999731779098511");
    expect(formatCoord(lat0)).toBe("-85.05112751263942528");
    expect(() => encodeScore(181, 0)).toThrow();
    expect(encodeCell(0, 86, 26)).toBeUndefined();
  });

  it("re-encodes with the standard latitude range for GEOHASH", () => {
    expect(geohashString(PALERMO)).toBe("sqc8b49rny0");
    expect(geohashString(CATANIA)).toBe("sqdtr74hyu0");
  });

  it("round-trips a grid of points to within a cell", () => {
    for (let lon = -179.5; lon <= 179.5; lon += 17.25) {
      for (let lat = -84.5; lat <= 84.5; lat += 13.5) {
        const [x, y] = decodeScore(encodeScore(lon, lat));
        expect(Math.abs(x - lon)).toBeLessThan(360 / 2 ** 26);
        expect(Math.abs(y - lat)).toBeLessThan(171 / 2 ** 26);
      }
    }
  });
});

describe("neighbours and search cells", () => {
  it("moves one cell in each direction and back", () => {
    const c = encodeCell(13.36, 38.11, 10)!;
    const n = neighbours(c);
    const a = cellArea(c);
    expect(cellArea(n.east).lon.min).toBeCloseTo(a.lon.max, 9);
    expect(cellArea(n.west).lon.max).toBeCloseTo(a.lon.min, 9);
    expect(cellArea(n.north).lat.min).toBeCloseTo(a.lat.max, 9);
    expect(cellArea(n.south).lat.max).toBeCloseTo(a.lat.min, 9);
    expect(neighbours(n.east).west).toEqual(c);
    expect(neighbours(n.north).south).toEqual(c);
    expect(neighbours(n.northEast).southWest).toEqual(c);
  });

  it("wraps around the antimeridian", () => {
    const c = encodeCell(179.99, 0, 8)!;
    expect(cellArea(neighbours(c).east).lon.min).toBe(-180);
  });

  it("estimates steps like Redis and narrows them near the poles", () => {
    expect(estimateStep(0, 0)).toBe(26);
    expect(estimateStep(100_000, 0)).toBe(7);
    expect(estimateStep(100_000, 70)).toBe(6);
    expect(estimateStep(100_000, 81)).toBe(5);
    expect(estimateStep(1e9, 0)).toBe(1);
    expect(estimateStep(0.001, 0)).toBe(26);
  });

  it("lists the centre first, then N, S, E, W, NE, NW, SE, SW, dropping useless cells", () => {
    const shape = { type: "radius", lon: 15, lat: 37, conversion: 1000, radius: 200 } as const;
    const cells = searchCells(shape);
    expect(cells).toHaveLength(9);
    expect(cells[0]).toEqual(encodeCell(15, 37, cells[0]!.step));
    const [min, max] = cellScores(cells[0]!);
    expect(min).toBeLessThan(max);
  });

  it("covers both Sicily cities within 200 km of (15, 37)", () => {
    const shape = { type: "radius", lon: 15, lat: 37, conversion: 1000, radius: 200 } as const;
    const hits = searchCells(shape).filter((c) => {
      if (c === null) return false;
      const [min, max] = cellScores(c);
      return (min <= PALERMO && PALERMO < max) || (min <= CATANIA && CATANIA < max);
    });
    expect(hits.length).toBeGreaterThan(0);
  });
});

describe("distances", () => {
  it("is haversine on Redis's sphere", () => {
    const [x1, y1] = decodeScore(PALERMO);
    const [x2, y2] = decodeScore(CATANIA);
    expect(formatDistance(distance(x1, y1, x2, y2))).toBe("166274.1516");
    expect(formatDistance(distance(x1, y1, x2, y2) / 1000)).toBe("166.2742");
    expect(distance(x1, y1, x1, y1)).toBe(0);
  });

  it("checks circles and boxes the way Redis does", () => {
    const [x, y] = decodeScore(CATANIA);
    const circle = { type: "radius", lon: 15, lat: 37, conversion: 1000, radius: 100 } as const;
    expect(formatDistance(distanceIfInside(circle, x, y)! / 1000)).toBe("56.4413");
    expect(distanceIfInside({ ...circle, radius: 50 }, x, y)).toBeUndefined();
    const box = {
      type: "box",
      lon: 15,
      lat: 37,
      conversion: 1000,
      width: 20,
      height: 200,
    } as const;
    expect(distanceIfInside(box, x, y)).toBeDefined();
    expect(distanceIfInside({ ...box, height: 100 }, x, y)).toBeUndefined();
  });
});

describe("printing", () => {
  it("rounds the exact binary value half to even, like printf", () => {
    expect(toFixedExact(0.125, 2)).toBe("0.12");
    expect(toFixedExact(0.375, 2)).toBe("0.38");
    expect(toFixedExact(2.5, 0)).toBe("2");
    expect(toFixedExact(-1.5, 0)).toBe("-2");
    expect(toFixedExact(1e21, 4)).toBe("1000000000000000000000.0000");
    expect(toFixedExact(-0, 4)).toBe("-0.0000");
  });

  it("trims trailing zeros of coordinates and never prints -0", () => {
    expect(formatCoord(180)).toBe("180");
    expect(formatCoord(-0.5)).toBe("-0.5");
    expect(formatCoord(-1e-30)).toBe("0");
  });
});

describe("pqsort", () => {
  it("puts the asked-for ranks in sorted order, whatever the input", () => {
    let seed = 12345;
    const rnd = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (const n of [0, 1, 6, 7, 8, 40, 41, 200]) {
      for (const hi of [0, 3, Math.floor(n / 2), n - 1]) {
        if (hi < 0 || hi >= n) continue;
        const xs = Array.from({ length: n }, () => Math.floor(rnd() * 20));
        const sorted = [...xs].sort((a, b) => a - b);
        pqsort(xs, (a, b) => a - b, 0, hi);
        expect(xs.slice(0, hi + 1)).toEqual(sorted.slice(0, hi + 1));
        expect([...xs].sort((a, b) => a - b)).toEqual(sorted);
      }
    }
  });
});
