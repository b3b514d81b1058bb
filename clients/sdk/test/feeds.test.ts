import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { GridWorksClient } from "../src/client";
import { depthChecksum } from "../src/crc32";
import { AccountFeed, followDepth, unrealisedAt } from "../src/feeds";
import type { Fill, Order, Position } from "../src/generated";
import { FakeServer, KEY } from "./fake-server";

let server: FakeServer;

async function ready(): Promise<GridWorksClient> {
  const client = new GridWorksClient({ url: "ws://test/", credentials: KEY, socketFactory: server.factory,
                                        pingIntervalMs: 0, nonce: () => "n".repeat(16) });
  const connected = client.connect();
  await vi.advanceTimersByTimeAsync(5);
  await connected;
  return client;
}

const order = (id: number, status: string, fields: Partial<Order> = {}): Order => ({
  order_id: id, client_order_id: `c-${id}`, account: 2, symbol: "A", side: "BUY", type: "LIMIT", tif: "DAY",
  product: "MIS", price: 100, trigger: 0, qty: 1, filled: 0, leaves: 1, average_price: 0, status, reason: "",
  created_ts: 1, updated_ts: 1, seq: id, ...fields,
});

const fill = (trade: number, orderId: number): Fill => ({
  trade_id: trade, order_id: orderId, client_order_id: `c-${orderId}`, symbol: "A", side: "BUY", price: 100, qty: 1,
  liquidity: "taker", ts: 1,
});

beforeEach(() => {
  vi.useFakeTimers();
  server = new FakeServer();
});
afterEach(() => vi.useRealTimers());

describe("followDepth", () => {
  it("keeps a verified book and asks for a snapshot when a checksum does not match", async () => {
    server.channels.set("depth.A", { seq: 1, data: { symbol: "A", snapshot: true, bids: [[100, 5, 1]], asks: [],
                                                     checksum: depthChecksum([[100, 5]], []) } });
    const client = await ready();
    const seen: number[] = [];
    const feed = followDepth(client, "A", (book, m) => seen.push(m.seq, book.bestBid()));
    await vi.advanceTimersByTimeAsync(0);
    server.push(server.last, "depth.A", 2, { symbol: "A", snapshot: false, bids: [[105, 1, 1]], asks: [],
                                             checksum: depthChecksum([[105, 1], [100, 5]], []) });
    server.push(server.last, "depth.A", 3, { symbol: "A", snapshot: false, bids: [[110, 1, 1]], asks: [],
                                             checksum: 7 });
    await vi.advanceTimersByTimeAsync(0);
    expect(seen).toEqual([1, 100, 2, 105, 1, 100]); // ... and the fresh snapshot
    const resync = server.requests("subscribe").at(-1)!;
    expect(resync.args).toEqual({ channels: ["depth.A"] }); // no resume: a fresh snapshot
    expect(feed.book.bestBid()).toBe(100); // the snapshot replaced the bad state
  });
});

describe("AccountFeed", () => {
  it("tracks orders, fills, positions and funds from the private channels", async () => {
    server.channels.set("orders", { seq: 1, data: [order(1, "OPEN"), order(2, "OPEN")] });
    server.channels.set("positions", { seq: 0, data: { positions: [] } });
    server.channels.set("funds", { seq: 0, data: { cash: 10 } });
    const client = await ready();
    const feed = new AccountFeed(client).start();
    await vi.advanceTimersByTimeAsync(0);
    expect(feed.funds).toEqual({ cash: 10 });
    const changes: string[] = [];
    feed.onChange((c) => changes.push(c));
    expect(feed.openOrders().map((o) => o.order_id)).toEqual([1, 2]);

    server.push(server.last, "orders", 2, order(1, "FILLED", { filled: 1, leaves: 0 }));
    server.push(server.last, "fills", 1, fill(7, 1));
    server.push(server.last, "fills", 2, fill(7, 1)); // the same fill again (another seq)
    server.push(server.last, "positions", 1, { positions: [{ symbol: "A", net: 1, basis: 100 }] });
    server.push(server.last, "funds", 1, { cash: 9 });
    expect(feed.openOrders().map((o) => o.order_id)).toEqual([2]);
    expect(feed.allOrders().map((o) => [o.order_id, o.status])).toEqual([[2, "OPEN"], [1, "FILLED"]]);
    expect(feed.fills).toEqual([fill(7, 1)]);
    expect(feed.positions).toHaveLength(1);
    expect(feed.funds).toEqual({ cash: 9 });
    expect(changes).toEqual(["orders", "fills", "positions", "funds"]);

    // a later snapshot without order 2: it finished while we were away
    server.push(server.last, "orders", 5, [], true);
    expect(feed.openOrders()).toEqual([]);
    expect(feed.findByClientOrderId("c-1")?.status).toBe("FILLED");
  });
});

describe("AccountFeed through a cluster's router", () => {
  it("merges every shard's channels: orders, fills, positions side by side, funds summed", async () => {
    const shardOne = 1e12; // shard 1's order ids
    server.channels.set("orders.0", { seq: 3, data: [order(5, "OPEN")] });
    server.channels.set("orders.1", { seq: 8, data: [order(shardOne + 7, "OPEN")] });
    server.channels.set("positions.0", { seq: 0, data: { positions: [{ symbol: "A", net: 1 }] } });
    server.channels.set("positions.1", { seq: 0, data: { positions: [{ symbol: "B", net: -2 }] } });
    const funds = (cash: number, call: boolean) => ({
      account: 2, cash, credit: 0, blocked: 10, margin: 5, buying_power: cash - 15, free_cash: cash - 15,
      unrealised: 1, equity: cash + 1, in_margin_call: call });
    server.channels.set("funds.0", { seq: 0, data: funds(1_000, false) });
    server.channels.set("funds.1", { seq: 0, data: funds(500, true) });
    const client = await ready();
    const feed = new AccountFeed(client, 500, 500, [0, 1]).start();
    await vi.advanceTimersByTimeAsync(0);
    const asked = server.requests("subscribe").flatMap((r) => r.args.channels as string[]);
    expect(asked.sort()).toEqual(["fills.0", "fills.1", "funds.0", "funds.1", "orders.0", "orders.1",
                                  "positions.0", "positions.1"]);
    expect(feed.openOrders().map((o) => o.order_id)).toEqual([5, shardOne + 7]);
    expect(feed.positions.map((p) => p.symbol)).toEqual(["A", "B"]);
    expect(feed.funds).toEqual({ account: 2, cash: 1_500, credit: 0, blocked: 20, margin: 10,
                                 buying_power: 1_470, free_cash: 1_470, unrealised: 2, equity: 1_502,
                                 in_margin_call: true });

    // shard 1's snapshot without its order: that order finished; shard 0's stays open
    server.push(server.last, "orders.1", 9, [], true);
    expect(feed.openOrders().map((o) => o.order_id)).toEqual([5]);
    server.push(server.last, "fills.0", 1, fill(3, 5));
    server.push(server.last, "fills.1", 1, fill(3, shardOne + 7));
    expect(feed.fills.map((f) => f.order_id)).toEqual([shardOne + 7, 5]);
    server.push(server.last, "funds.1", 1, funds(700, false));
    expect(feed.funds?.cash).toBe(1_700);
    expect(feed.funds?.in_margin_call).toBe(false);
  });
});

describe("unrealisedAt", () => {
  it("values long and short positions exactly", () => {
    const long = { net: 3, basis: 300_015 } as Position;
    const short = { net: -4, basis: -565_200 } as Position;
    expect(unrealisedAt(long, 100_010)).toBe(3 * 100_010 - 300_015);
    expect(unrealisedAt(short, 141_000)).toBe(-4 * 141_000 + 565_200);
    expect(unrealisedAt({ net: 0, basis: 0 } as Position, 5)).toBe(0);
  });
});
