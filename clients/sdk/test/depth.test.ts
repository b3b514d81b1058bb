import { crc32 } from "node:zlib";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { crc32Ascii, depthChecksum } from "../src/crc32";
import { DepthBook } from "../src/depth";
import type { DepthView } from "../src/generated";

describe("depth checksum", () => {
  it("gives the documented values", () => {
    expect(depthChecksum([[141250, 5], [141200, 12]], [[141300, 6], [141350, 2]])).toBe(408211950);
    expect(depthChecksum([], [])).toBe(1885708031);
  });

  it("is zlib's CRC-32", () => {
    fc.assert(fc.property(fc.string({ unit: fc.constantFrom(..."0123456789:|#") }), (text) => {
      expect(crc32Ascii(text)).toBe(crc32(text));
    }));
  });
});

type Side = Map<number, number>;
const level = fc.tuple(fc.integer({ min: 1, max: 40 }).map((p) => 141000 + p * 5),
                       fc.integer({ min: 0, max: 9 }), fc.integer({ min: 1, max: 4 }));

/** The server's view of a book as a plain map, and the message it sends for a change. */
function reference(bids: Side, asks: Side) {
  const sorted = (side: Side, desc: boolean) =>
    [...side.entries()].sort((a, b) => (desc ? b[0] - a[0] : a[0] - b[0]));
  return depthChecksum(sorted(bids, true), sorted(asks, false));
}

describe("DepthBook", () => {
  it("follows any stream of snapshots and diffs, and its checksum agrees with a plain model", () => {
    fc.assert(fc.property(fc.array(fc.record({
      snapshot: fc.boolean(), bids: fc.array(level, { maxLength: 6 }), asks: fc.array(level, { maxLength: 6 }),
    }), { minLength: 1, maxLength: 30 }), (messages) => {
      const book = new DepthBook();
      const bids: Side = new Map();
      const asks: Side = new Map();
      for (const m of messages) {
        if (m.snapshot) {
          bids.clear();
          asks.clear();
        }
        const dedupe = (levels: [number, number, number][]) =>
          [...new Map(levels.map((l) => [l[0], l])).values()].filter((l) => !m.snapshot || l[1] > 0);
        const view: DepthView = { symbol: "X", snapshot: m.snapshot, bids: dedupe(m.bids), asks: dedupe(m.asks), checksum: 0 };
        for (const [p, q] of view.bids) (q ? bids.set(p, q) : bids.delete(p));
        for (const [p, q] of view.asks) (q ? asks.set(p, q) : asks.delete(p));
        view.checksum = reference(bids, asks);
        expect(book.apply(view)).toBe(true);
        expect(book.levels("bids").map(([p, q]) => [p, q])).toEqual([...bids.entries()].sort((a, b) => b[0] - a[0]));
        expect(book.levels("asks").map(([p, q]) => [p, q])).toEqual([...asks.entries()].sort((a, b) => a[0] - b[0]));
      }
    }));
  });

  it("reports a checksum mismatch", () => {
    const book = new DepthBook();
    expect(book.apply({ symbol: "X", snapshot: true, bids: [[100, 1, 1]], asks: [], checksum: 12345 })).toBe(false);
  });

  it("knows the best prices", () => {
    const book = new DepthBook();
    book.apply({ symbol: "X", snapshot: true, bids: [[100, 1, 1], [105, 2, 1]], asks: [[110, 3, 1], [115, 1, 1]], checksum: 0 });
    expect([book.bestBid(), book.bestAsk()]).toEqual([105, 110]);
    expect(book.levels("asks", 1)).toEqual([[110, 3, 1]]);
  });
});
