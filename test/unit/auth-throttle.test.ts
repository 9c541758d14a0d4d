import { describe, expect, it } from "vitest";
import { AuthThrottle, failureDelayMs, hostOf } from "../../src/security/auth-throttle.ts";

describe("auth throttle", () => {
  it("counts failures per address across connections and forgets them after a quiet period", () => {
    const t = new AuthThrottle(1000);
    expect(t.fail("10.0.0.1", 0)).toBe(1);
    expect(t.fail("10.0.0.1", 10)).toBe(2);
    expect(t.fail("10.0.0.2", 20)).toBe(1);
    expect(t.fail("10.0.0.1", 500)).toBe(3);
    expect(t.fail("10.0.0.1", 2000)).toBe(1);
  });

  it("stays bounded, dropping the oldest addresses first", () => {
    const t = new AuthThrottle(60_000, 2);
    t.fail("a", 0);
    t.fail("b", 1);
    t.fail("a", 2);
    t.fail("c", 3); // evicts b, the least recently failed
    expect(t.fail("a", 4)).toBe(3);
    expect(t.fail("b", 5)).toBe(1);
  });

  it("delays from the fourth failure, doubling up to 5 s", () => {
    expect([1, 2, 3, 4, 5, 6, 20].map(failureDelayMs)).toEqual([0, 0, 0, 100, 200, 400, 5000]);
  });

  it("takes the host of host:port, IPv6 included", () => {
    expect(hostOf("127.0.0.1:5000")).toBe("127.0.0.1");
    expect(hostOf("::1:6000")).toBe("::1");
  });
});
