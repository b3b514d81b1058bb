/**
 * The SDK against a real GridWorks server: run by the Python suite
 * (tests/clients/test_sdk.py), which starts a node with two funded traders and passes their
 * keys in the environment. Skipped when run without one.
 */

import { describe, expect, it } from "vitest";
import { GridWorksClient, type SocketLike } from "../src/client";
import { AccountFeed, followDepth, unrealisedAt } from "../src/feeds";
import type { Order } from "../src/generated";

const env = process.env;
const url = env.GRIDWORKS_LIVE_URL;
const alice = { keyId: env.GRIDWORKS_ALICE_KEY ?? "", secret: env.GRIDWORKS_ALICE_SECRET ?? "" };
const bob = { keyId: env.GRIDWORKS_BOB_KEY ?? "", secret: env.GRIDWORKS_BOB_SECRET ?? "" };
const SYMBOL = "RELIANCE";

/** Real sockets (Node's WebSocket), with a handle to cut the current one. */
function sockets() {
  const opened: SocketLike[] = [];
  const factory = (address: string): SocketLike => {
    const Ws = (globalThis as unknown as { WebSocket: new (u: string) => SocketLike }).WebSocket;
    const socket = new Ws(address);
    opened.push(socket);
    return socket;
  };
  return { factory, opened };
}

async function until(what: string, check: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe.skipIf(!url)("against a real server", () => {
  it("trades between two accounts, follows depth and the account, and resumes after a cut", async () => {
    const net = sockets();
    const a = new GridWorksClient({ url: url!, credentials: alice, socketFactory: net.factory, orderIdPrefix: "live",
                                    backoff: { initialMs: 50, maxMs: 200, factor: 2, jitter: 0 } });
    const b = new GridWorksClient({ url: url!, credentials: bob, socketFactory: sockets().factory });
    expect((await a.connect())?.name).toBe("alice");
    await b.connect();

    const instruments = await a.request("instruments");
    const reliance = instruments.find((i) => i.symbol === SYMBOL)!;
    expect(reliance.tick).toBeGreaterThan(0);

    const account = new AccountFeed(a).start();
    const bids: number[] = [];
    const depth = followDepth(a, SYMBOL, (book) => bids.push(book.bestBid()));
    const orderSeqs: number[] = [];
    let orderSnapshots = 0;
    a.subscribe<Order | Order[]>("orders", (m) => {
      orderSeqs.push(m.seq);
      if (m.snapshot) orderSnapshots += 1;
    });

    const price = reliance.ref_price - 10 * reliance.tick;
    const placed = await a.place({ symbol: SYMBOL, side: "buy", qty: 5, price });
    expect(placed.status).toBe("OPEN");
    await until("the order on the orders channel", () => account.openOrders().some((o) => o.order_id === placed.order_id));
    await until("the bid in the depth", () => depth.book.bestBid() === price);

    const sold = await b.place({ symbol: SYMBOL, side: "sell", qty: 2, price, tif: "ioc" });
    expect(sold).toMatchObject({ status: "FILLED", filled: 2 });
    await until("alice's fill", () => account.fills.length === 1);
    expect(account.fills[0]).toMatchObject({ order_id: placed.order_id, qty: 2, price, liquidity: "maker" });
    await until("alice's position", () => account.positions.some((p) => p.net === 2));
    const position = account.positions.find((p) => p.symbol === SYMBOL)!;
    expect(position.basis).toBe(2 * price);
    expect(unrealisedAt(position, price)).toBe(0);

    // cut alice's connection: the client reconnects, logs in, resumes every channel
    const before = orderSeqs.length;
    net.opened.at(-1)!.close();
    await until("a second connection", () => net.opened.length === 2 && a.state === "ready");
    const amended = await a.amend({ order_id: placed.order_id, qty: 4 });
    expect(amended.status).toBe("AMENDED");
    await until("the amendment on the orders channel", () => orderSeqs.length > before);
    expect(orderSnapshots).toBe(1); // resumed, not resnapshotted
    for (let i = 1; i < orderSeqs.length; i++) expect(orderSeqs[i]).toBe(orderSeqs[i - 1]! + 1);

    const cancelled = await a.cancel({ client_order_id: placed.client_order_id! });
    expect(cancelled.status).toBe("CANCELLED");
    await until("no open orders", () => account.openOrders().length === 0);
    await until("an empty bid side", () => depth.book.bestBid() === 0 || depth.book.bestBid() !== price);
    expect(await a.order({ client_order_id: "never-sent" })).toBeNull();

    a.close();
    b.close();
  }, 30_000);
});
