/**
 * Channel followers that keep state: a depth book verified by checksum, candle bars, and the
 * account's orders, fills, positions and funds. Each is a thin layer over
 * `GridWorksClient.subscribe`, which already guarantees order and no gaps.
 */

import { CandleStore } from "./candles";
import type { ChannelMessage, GridWorksClient, Subscription } from "./client";
import { DepthBook } from "./depth";
import type { AccountView, Candle, CandleInterval, Candles, DepthView, Fill, Order, Position, Positions, Ticker } from "./generated";

export function followTicker(client: GridWorksClient, symbol: string,
                             onTicker: (ticker: Ticker, message: ChannelMessage<Ticker>) => void): Subscription {
  return client.subscribe<Ticker>(`ticker.${symbol}`, (m) => onTicker(m.data, m));
}

/** Follow a depth channel; `onChange` runs after every message whose checksum matched. A
 * mismatch asks the server for a fresh snapshot and holds updates until it comes. */
export function followDepth(client: GridWorksClient, symbol: string,
                            onChange: (book: DepthBook, message: ChannelMessage<DepthView>) => void): Subscription & { book: DepthBook } {
  const book = new DepthBook();
  const channel = `depth.${symbol}`;
  const subscription = client.subscribe<DepthView>(channel, (m) => {
    if (book.apply(m.data)) onChange(book, m);
    else client.resync(channel, "snapshot", "checksum");
  });
  return Object.assign(subscription, { book });
}

export function followCandles(client: GridWorksClient, symbol: string, interval: CandleInterval,
                              onBars: (store: CandleStore, changed: Candle[], snapshot: boolean) => void): Subscription & { store: CandleStore } {
  const store = new CandleStore();
  const subscription = client.subscribe<Candles>(`candles.${symbol}.${interval}`, (m) => {
    onBars(store, store.apply(m.data, m.snapshot), m.snapshot);
  });
  return Object.assign(subscription, { store });
}

export const OPEN_STATUSES: ReadonlySet<string> = new Set(["OPEN", "TRIGGER_PENDING", "PARTIALLY_FILLED"]);

export function isOpen(order: Order): boolean {
  return OPEN_STATUSES.has(order.status);
}

export type AccountChange = "orders" | "fills" | "positions" | "funds";

/**
 * The logged-in account as its private channels describe it. Orders are keyed by order id
 * (a refused duplicate has its own id); finished orders stay for display, up to
 * `keepFinished`; fills are newest first, deduplicated by trade and order.
 */
export class AccountFeed {
  readonly orders = new Map<number, Order>();
  fills: Fill[] = [];
  positions: Position[] = [];
  funds: AccountView | null = null;
  private readonly subscriptions: Subscription[] = [];
  private readonly listeners = new Set<(change: AccountChange) => void>();
  private readonly fillKeys = new Set<string>();
  private readonly shardPositions = new Map<number, Position[]>();
  private readonly shardFunds = new Map<number, AccountView>();

  /**
   * `shards`: through a cluster's router (its login result's `shards`), the account's
   * channels of every shard, merged: orders and fills together, positions side by side,
   * funds summed.
   */
  constructor(private readonly client: GridWorksClient, private readonly keepFinished = 500,
              private readonly keepFills = 500, private readonly shards: readonly number[] = []) {}

  start(): this {
    if (this.subscriptions.length) return this;
    const parts = this.shards.length ? this.shards.map((k) => [k, `.${k}`] as const) : [[0, ""] as const];
    for (const [shard, suffix] of parts) {
      this.subscriptions.push(
        this.client.subscribe<Order | Order[]>(`orders${suffix}`, (m) => this.onOrders(m, shard)),
        this.client.subscribe<Fill | Fill[]>(`fills${suffix}`, (m) => this.onFills(m)),
        this.client.subscribe<Positions>(`positions${suffix}`, (m) => this.set("positions", () => {
          this.shardPositions.set(shard, m.data.positions);
          this.positions = [...this.shardPositions.keys()].sort((a, b) => a - b)
            .flatMap((k) => this.shardPositions.get(k)!);
        })),
        this.client.subscribe<AccountView>(`funds${suffix}`, (m) => this.set("funds", () => {
          this.shardFunds.set(shard, m.data);
          this.funds = sumFunds([...this.shardFunds.values()]);
        })),
      );
    }
    return this;
  }

  stop(): void {
    for (const s of this.subscriptions.splice(0)) s.unsubscribe();
  }

  onChange(listener: (change: AccountChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Open orders, oldest first. */
  openOrders(): Order[] {
    return [...this.orders.values()].filter(isOpen).sort((a, b) => a.order_id - b.order_id);
  }

  /** Every order known, newest first. */
  allOrders(): Order[] {
    return [...this.orders.values()].sort((a, b) => b.order_id - a.order_id);
  }

  findByClientOrderId(clientOrderId: string): Order | undefined {
    let found: Order | undefined;
    for (const order of this.orders.values()) {
      if (order.client_order_id === clientOrderId && (!found || order.order_id < found.order_id)) found = order;
    }
    return found;
  }

  private onOrders(m: ChannelMessage<Order | Order[]>, shard: number): void {
    this.set("orders", () => {
      if (m.snapshot) {
        // The snapshot is the shard's open orders: one we held as open that is missing
        // finished while we were away, in a state we did not see, so it goes.
        const open = new Set((m.data as Order[]).map((o) => o.order_id));
        for (const [id, order] of this.orders) {
          if (isOpen(order) && !open.has(id) && orderShard(id) === shard) this.orders.delete(id);
        }
      }
      for (const order of Array.isArray(m.data) ? m.data : [m.data]) this.orders.set(order.order_id, order);
      this.trimFinished();
    });
  }

  private onFills(m: ChannelMessage<Fill | Fill[]>): void {
    const fresh = (Array.isArray(m.data) ? m.data : [m.data]).filter((fill) => {
      const key = `${fill.trade_id}:${fill.order_id}`;
      if (this.fillKeys.has(key)) return false;
      this.fillKeys.add(key);
      return true;
    });
    if (!fresh.length) return;
    this.set("fills", () => {
      this.fills = [...fresh.reverse(), ...this.fills].slice(0, this.keepFills);
    });
  }

  private trimFinished(): void {
    const finished = [...this.orders.values()].filter((o) => !isOpen(o));
    if (finished.length <= this.keepFinished) return;
    finished.sort((a, b) => a.order_id - b.order_id);
    for (const order of finished.slice(0, finished.length - this.keepFinished)) this.orders.delete(order.order_id);
  }

  private set(change: AccountChange, apply: () => void): void {
    apply();
    for (const listener of this.listeners) listener(change);
  }
}

/** The shard whose orders an order id is one of: shard K's ids are K * 10**12 + seq. */
export function orderShard(orderId: number): number {
  return Math.floor(orderId / ORDER_ID_SPAN);
}

const ORDER_ID_SPAN = 1e12;
const SUMMED = ["cash", "credit", "blocked", "margin", "buying_power", "free_cash", "unrealised",
                "equity"] as const;

/** An account's funds over several shards: the amounts summed, in margin call if any is. */
export function sumFunds(parts: AccountView[]): AccountView | null {
  if (!parts.length) return null;
  const total: AccountView = { ...parts[0]! };
  for (const part of parts.slice(1)) {
    for (const key of SUMMED) total[key] += part[key];
    total.in_margin_call = total.in_margin_call || part.in_margin_call;
  }
  return total;
}

/** Unrealised P&L of a position at a price, exact in paise: net x price - basis. */
export function unrealisedAt(position: Position, price: number): number {
  return position.net ? position.net * price - position.basis : 0;
}
