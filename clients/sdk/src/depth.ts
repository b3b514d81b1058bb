/**
 * A client-side copy of a depth channel: price -> (qty, orders) per side, updated from
 * snapshots and diffs and checked against the server's checksum after every message.
 */

import { depthChecksum } from "./crc32";
import type { DepthView } from "./generated";

export type Level = readonly [price: number, qty: number, orders: number];

export class DepthBook {
  readonly bids = new Map<number, [number, number]>();
  readonly asks = new Map<number, [number, number]>();

  /** Apply a snapshot or an update; true when the checksum then matches. */
  apply(view: DepthView): boolean {
    if (view.snapshot) {
      this.bids.clear();
      this.asks.clear();
    }
    setLevels(this.bids, view.bids);
    setLevels(this.asks, view.asks);
    return this.checksum() === view.checksum;
  }

  clear(): void {
    this.bids.clear();
    this.asks.clear();
  }

  /** The best `n` levels of a side, best first. */
  levels(side: "bids" | "asks", n = Infinity): Level[] {
    const book = side === "bids" ? this.bids : this.asks;
    const prices = [...book.keys()].sort(side === "bids" ? (a, b) => b - a : (a, b) => a - b);
    return prices.slice(0, n).map((price) => {
      const [qty, orders] = book.get(price)!;
      return [price, qty, orders] as const;
    });
  }

  bestBid(): number {
    return this.bids.size ? Math.max(...this.bids.keys()) : 0;
  }

  bestAsk(): number {
    return this.asks.size ? Math.min(...this.asks.keys()) : 0;
  }

  checksum(): number {
    const pairs = (levels: Level[]) => levels.map(([p, q]) => [p, q] as const);
    return depthChecksum(pairs(this.levels("bids")), pairs(this.levels("asks")));
  }
}

function setLevels(book: Map<number, [number, number]>, levels: DepthView["bids"]): void {
  for (const [price, qty, orders] of levels) {
    if (qty > 0) book.set(price, [qty, orders]);
    else book.delete(price);
  }
}
