/**
 * The last ticker of every instrument, from the `ticker.*` channels. Listeners per symbol
 * get every update as it arrives (for imperative cells); `version` moves at most every
 * `settleMs` for React views that only need to be fresh, not instant (positions' P&L).
 */

import { type GridWorksClient, type Subscription, type Ticker, followTicker } from "@gridworks/sdk";

type Listener = (ticker: Ticker) => void;

export class TickerBoard {
  readonly last = new Map<string, Ticker>();
  private readonly listeners = new Map<string, Set<Listener>>();
  private readonly subscriptions: Subscription[] = [];
  private readonly versionListeners = new Set<() => void>();
  private versionTimer: ReturnType<typeof setTimeout> | null = null;
  version = 0;

  constructor(private readonly client: GridWorksClient, private readonly settleMs = 250) {}

  follow(symbols: string[]): this {
    for (const symbol of symbols) {
      this.subscriptions.push(followTicker(this.client, symbol, (ticker) => this.update(symbol, ticker)));
    }
    return this;
  }

  stop(): void {
    for (const s of this.subscriptions.splice(0)) s.unsubscribe();
    if (this.versionTimer) clearTimeout(this.versionTimer);
  }

  /** Every update of a symbol; called at once with the last known ticker, if any. */
  on(symbol: string, listener: Listener): () => void {
    let set = this.listeners.get(symbol);
    if (!set) this.listeners.set(symbol, (set = new Set()));
    set.add(listener);
    const known = this.last.get(symbol);
    if (known) listener(known);
    return () => set.delete(listener);
  }

  /** For useSyncExternalStore: notified at most every settleMs. */
  subscribeVersion = (listener: () => void): (() => void) => {
    this.versionListeners.add(listener);
    return () => this.versionListeners.delete(listener);
  };

  getVersion = (): number => this.version;

  /** The price to value a position at: the last trade, else the reference price. */
  mark(symbol: string): number {
    const ticker = this.last.get(symbol);
    return ticker ? ticker.last || ticker.ref : 0;
  }

  private update(symbol: string, ticker: Ticker): void {
    this.last.set(symbol, ticker);
    for (const listener of this.listeners.get(symbol) ?? []) listener(ticker);
    if (this.versionTimer === null) {
      this.versionTimer = setTimeout(() => {
        this.versionTimer = null;
        this.version += 1;
        for (const listener of this.versionListeners) listener();
      }, this.settleMs);
    }
  }
}
