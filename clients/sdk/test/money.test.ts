import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { formatPaise, formatPercent, formatQty, groupIndian, onTick, parseRupees, snapToTick } from "../src/money";

describe("formatting", () => {
  it.each([
    [0, "0.00"], [5, "0.05"], [141300, "1,413.00"], [14130050, "1,41,300.50"], [-565200, "-5,652.00"],
    [100000000, "10,00,000.00"],
  ])("formats %i paise as %s", (paise, text) => expect(formatPaise(paise)).toBe(text));

  it("signs gains on request", () => {
    expect(formatPaise(70, { sign: true })).toBe("+0.70");
    expect(formatPaise(0, { sign: true })).toBe("0.00");
  });

  it("groups digits the Indian way", () => {
    expect(groupIndian("1234567")).toBe("12,34,567");
    expect(groupIndian("123")).toBe("123");
    expect(formatQty(150000)).toBe("1,50,000");
  });

  it("gives changes in percent of the reference", () => {
    expect(formatPercent(70, 141230)).toBe("+0.05%");
    expect(formatPercent(-1412, 141230)).toBe("-1.00%");
    expect(formatPercent(0, 0)).toBe("0.00%");
  });
});

describe("parseRupees", () => {
  it.each([
    ["1413", 141300], ["1,413.05", 141305], ["₹ 1413.5", 141350], ["0.1", 10], ["1413.", 141300],
  ])("reads %s as %i paise", (text, paise) => expect(parseRupees(text)).toBe(paise));

  it.each(["", "abc", "-5", "1.234", "1e3", "1.2.3"])("refuses %s", (text) => expect(parseRupees(text)).toBeNull());

  it("reads back whatever it formats, exactly", () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 10 ** 12 }), (paise) => {
      expect(parseRupees(formatPaise(paise))).toBe(paise);
    }));
  });
});

describe("snapToTick", () => {
  it("lands on the grid, within half a tick (nearest) or on the right side", () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 10 ** 9 }), fc.integer({ min: 1, max: 100 }), (p, tick) => {
      const nearest = snapToTick(p, tick);
      const down = snapToTick(p, tick, "down");
      const up = snapToTick(p, tick, "up");
      expect(onTick(nearest, tick) && onTick(down, tick) && onTick(up, tick)).toBe(true);
      expect(Math.abs(nearest - p)).toBeLessThanOrEqual(tick / 2);
      expect(down).toBeLessThanOrEqual(p);
      expect(up).toBeGreaterThanOrEqual(p);
      expect(up - down).toBeLessThanOrEqual(tick);
    }));
  });

  it("rounds a tie up", () => expect(snapToTick(141305, 10)).toBe(141310));
});
