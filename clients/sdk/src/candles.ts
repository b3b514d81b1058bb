/**
 * Bars of one candle channel, oldest first. A snapshot replaces them; an update carries
 * whole bars, each replacing the bar with the same start or appended after the last.
 */

import type { Candle, Candles } from "./generated";

export class CandleStore {
  bars: Candle[] = [];

  /** Apply a push; returns the bars that changed, in order. */
  apply(data: Candles, snapshot: boolean): Candle[] {
    if (snapshot) {
      this.bars = [...data.bars];
      return this.bars;
    }
    for (const bar of data.bars) this.upsert(bar);
    return data.bars;
  }

  private upsert(bar: Candle): void {
    const start = bar[0];
    for (let i = this.bars.length - 1; i >= 0; i--) {
      const existing = this.bars[i]![0];
      if (existing === start) {
        this.bars[i] = bar;
        return;
      }
      if (existing < start) {
        this.bars.splice(i + 1, 0, bar);
        return;
      }
    }
    this.bars.unshift(bar);
  }
}
