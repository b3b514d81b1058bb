import { describe, expect, it } from "vitest";
import { Backoff } from "../src/backoff";
import { CandleStore } from "../src/candles";
import type { Candle } from "../src/generated";

const bar = (start: number, close: number): Candle => [start, close, close, close, close, 1, 1];

describe("CandleStore", () => {
  it("replaces bars with the same start and keeps them in order", () => {
    const store = new CandleStore();
    store.apply({ symbol: "X", interval: "1m", bars: [bar(60, 1), bar(120, 2)] }, true);
    store.apply({ symbol: "X", interval: "1m", bars: [bar(120, 3), bar(180, 4)] }, false);
    store.apply({ symbol: "X", interval: "1m", bars: [bar(90, 5)] }, false);
    expect(store.bars.map((b) => [b[0], b[4]])).toEqual([[60, 1], [90, 5], [120, 3], [180, 4]]);
    store.apply({ symbol: "X", interval: "1m", bars: [bar(300, 6)] }, true);
    expect(store.bars).toEqual([bar(300, 6)]);
  });
});

describe("Backoff", () => {
  it("doubles up to its cap and starts again after a reset", () => {
    const backoff = new Backoff({ initialMs: 100, maxMs: 1000, factor: 2, jitter: 0 });
    expect([1, 2, 3, 4, 5, 6].map(() => backoff.next())).toEqual([100, 200, 400, 800, 1000, 1000]);
    backoff.reset();
    expect(backoff.next()).toBe(100);
  });

  it("keeps jittered delays within their spread", () => {
    let r = 0;
    const backoff = new Backoff({ initialMs: 1000, maxMs: 1000, factor: 2, jitter: 0.2 }, () => r);
    r = 0;
    expect(backoff.next()).toBe(800);
    r = 0.999999;
    expect(backoff.next()).toBe(1200);
  });
});
