import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { GridWorksClient, type ChannelMessage, type ClientOptions } from "../src/client";
import { ApiError, ClientClosedError, ConnectionLostError, OutcomeUnknownError } from "../src/errors";
import type { Order } from "../src/generated";
import { FakeServer, KEY, PASSWORD } from "./fake-server";

let server: FakeServer;
let nonces = 0;

function makeClient(options: Partial<ClientOptions> = {}): GridWorksClient {
  return new GridWorksClient({
    url: "ws://test/", credentials: KEY, socketFactory: server.factory, pingIntervalMs: 0,
    backoff: { initialMs: 100, maxMs: 1000, factor: 2, jitter: 0 }, nonce: () => `nonce-${++nonces}-abcdef`,
    ...options,
  });
}

async function connected(client: GridWorksClient): Promise<void> {
  const ready = client.connect();
  await vi.advanceTimersByTimeAsync(5);
  await ready;
}

function order(fields: Partial<Order> = {}): Order {
  return {
    order_id: 215, client_order_id: "c-1", account: 2, symbol: "RELIANCE", side: "BUY", type: "LIMIT",
    tif: "DAY", product: "MIS", price: 141300, trigger: 0, qty: 10, filled: 0, leaves: 10, average_price: 0,
    status: "OPEN", reason: "", created_ts: 1, updated_ts: 1, seq: 215, ...fields,
  };
}

function collect(client: GridWorksClient, channel: string): ChannelMessage[] {
  const seen: ChannelMessage[] = [];
  client.subscribe(channel, (m) => seen.push(m));
  return seen;
}

beforeEach(() => {
  vi.useFakeTimers();
  server = new FakeServer();
});

afterEach(() => {
  vi.useRealTimers();
});

describe("login and requests", () => {
  it("logs in with a signature the server verifies, then answers requests by id", async () => {
    const client = makeClient();
    const before = Date.now();
    await connected(client);
    expect(client.state).toBe("ready");
    expect(client.session).toEqual({ account: 2, name: "demo", scopes: ["read", "trade"] });
    const [login] = server.requests("login");
    expect(login!.args.timestamp).toBeGreaterThanOrEqual(before);
    expect(login!.args.timestamp).toBeLessThanOrEqual(Date.now());

    // replies out of order, the second one inside an array frame
    server.handlers.set("funds", () => "silent");
    server.handlers.set("orders", () => "silent");
    const funds = client.request("funds");
    const orders = client.request("orders");
    await vi.advanceTimersByTimeAsync(0);
    const [f, o] = [server.requests("funds")[0]!, server.requests("orders")[0]!];
    server.last.deliver([{ id: o.id, ok: true, result: [order()] }, { ch: "heartbeat", seq: 1, ts: 1, data: { seqs: {}, stale: [] } }]);
    server.last.deliver({ id: f.id, ok: true, result: { cash: 5 } });
    await expect(orders).resolves.toEqual([order()]);
    await expect(funds).resolves.toEqual({ cash: 5 });
  });

  it("sends nothing but the login before the login is answered", async () => {
    server.handlers.set("login", () => "silent");
    const client = makeClient();
    void client.connect();
    void client.request("orders");
    await vi.advanceTimersByTimeAsync(5);
    expect(server.last.sent.map((r) => r.op)).toEqual(["login"]);
  });

  it("gives up on a key the server refuses, and says why", async () => {
    const client = makeClient({ credentials: { keyId: KEY.keyId, secret: "wrong" } });
    const ready = client.connect();
    ready.catch(() => {});
    await vi.advanceTimersByTimeAsync(5);
    await expect(ready).rejects.toMatchObject({ code: "BAD_SIGNATURE" });
    expect(client.state).toBe("closed");
    await vi.advanceTimersByTimeAsync(10_000);
    expect(server.sockets).toHaveLength(1);
    await expect(client.request("orders")).rejects.toBeInstanceOf(ApiError);
  });

  it("logs in with a user's name and password, and gives up on a wrong one", async () => {
    const client = makeClient({ credentials: { username: "asha", password: PASSWORD } });
    await connected(client);
    expect(server.requests("login")[0]!.args).toEqual({ username: "asha", password: PASSWORD });
    expect(client.session?.scopes).toContain("withdraw");
    const wrong = makeClient({ credentials: { username: "asha", password: "nope" } });
    const ready = wrong.connect();
    ready.catch(() => {});
    await vi.advanceTimersByTimeAsync(5);
    await expect(ready).rejects.toMatchObject({ code: "BAD_PASSWORD" });
    expect(wrong.state).toBe("closed");
  });

  it("corrects its clock once when the signature is stale", async () => {
    let first = true;
    server.handlers.set("login", (request) => {
      if (first) {
        first = false;
        return { error: { code: "STALE_SIGNATURE", number: 4008 } };
      }
      return { result: { account: 2, name: "demo", scopes: ["read"], ts: request.args.timestamp } };
    });
    server.handlers.set("time", () => ({ result: { time: (Date.now() + 60_000) * 1e6, seq: 1 } }));
    const client = makeClient();
    await connected(client);
    const [, second] = server.requests("login");
    expect(Number(second!.args.timestamp) - Date.now()).toBeGreaterThan(59_000);
    expect(second!.args.nonce).not.toBe(server.requests("login")[0]!.args.nonce);
  });

  it("rejects a refused request with the server's code and detail", async () => {
    server.handlers.set("place", () => ({ error: { code: "PRICE_OFF_TICK", number: 3011, message: "off tick",
                                                   detail: { order_id: 9, client_order_id: "x" } } }));
    const client = makeClient();
    await connected(client);
    const placed = client.place({ symbol: "RELIANCE", side: "buy", qty: 1, price: 141001, client_order_id: "x" });
    await expect(placed).rejects.toMatchObject({ code: "PRICE_OFF_TICK", number: 3011, detail: { order_id: 9 } });
    expect(server.requests("place")).toHaveLength(1);
  });

  it("generates a valid client order id when none is given", async () => {
    server.handlers.set("place", (r) => ({ result: { order_id: 1, status: "OPEN", filled: 0, leaves: 1, cancelled: 0,
                                                     client_order_id: r.args.client_order_id } }));
    const client = makeClient({ orderIdPrefix: "web" });
    await connected(client);
    const outcome = await client.place({ symbol: "RELIANCE", side: "buy", qty: 1, price: 141000 });
    expect(outcome.client_order_id).toMatch(/^web-[0-9a-f]{16}$/);
  });
});

describe("channels", () => {
  it("subscribes many channels in one request and delivers snapshot then ordered updates", async () => {
    server.channels.set("ticker.A", { seq: 5, data: { last: 1 } });
    const client = makeClient();
    await connected(client);
    const a = collect(client, "ticker.A");
    const b = collect(client, "ticker.B");
    await vi.advanceTimersByTimeAsync(0);
    expect(server.requests("subscribe")).toHaveLength(1);
    expect(server.requests("subscribe")[0]!.args.channels).toEqual(["ticker.A", "ticker.B"]);
    server.push(server.last, "ticker.A", 6, { last: 2 });
    server.push(server.last, "ticker.A", 6, { last: 2 }); // duplicate
    server.push(server.last, "ticker.A", 5, { last: 1 }); // older
    server.push(server.last, "ticker.A", 7, { last: 3 });
    expect(a.map((m) => [m.seq, m.snapshot])).toEqual([[5, true], [6, false], [7, false]]);
    expect(b.map((m) => m.seq)).toEqual([0]);
    expect(client.channelSeq("ticker.A")).toBe(7);
  });

  it("resumes from the last applied seq after a gap and applies the replay in order", async () => {
    server.channels.set("orders", { seq: 3, data: [] });
    const client = makeClient();
    await connected(client);
    const seen = collect(client, "orders");
    await vi.advanceTimersByTimeAsync(0);
    server.channels.set("orders", { seq: 6, data: [] });
    server.replay.set("orders", [{ seq: 4, data: "d4" }, { seq: 5, data: "d5" }, { seq: 6, data: "d6" }]);
    server.push(server.last, "orders", 5, "d5"); // 4 went missing
    server.push(server.last, "orders", 6, "d6"); // still behind: no second resubscribe
    await vi.advanceTimersByTimeAsync(0);
    const resubscribes = server.requests("subscribe").slice(1);
    expect(resubscribes).toHaveLength(1);
    expect(resubscribes[0]!.args).toEqual({ channels: ["orders"], resume: { orders: 3 }, epoch: server.epoch });
    expect(seen.map((m) => m.seq)).toEqual([3, 4, 5, 6]);
    expect(seen.map((m) => m.data)).toEqual([[], "d4", "d5", "d6"]);
  });

  it("resynchronises a private channel that a heartbeat shows ahead, a public one after two beats", async () => {
    const client = makeClient();
    await connected(client);
    collect(client, "fills");
    collect(client, "depth.A");
    await vi.advanceTimersByTimeAsync(0);
    server.heartbeat(server.last, { fills: 0, "depth.A": 0 });
    expect(server.requests("subscribe")).toHaveLength(1);
    server.heartbeat(server.last, { fills: 1, "depth.A": 1 });
    await vi.advanceTimersByTimeAsync(0);
    expect(server.requests("subscribe").slice(1).map((r) => r.args.channels)).toEqual([["fills"]]);
    server.heartbeat(server.last, { fills: 0, "depth.A": 1 });
    await vi.advanceTimersByTimeAsync(0);
    expect(server.requests("subscribe").slice(1).map((r) => r.args.channels)).toEqual([["fills"], ["depth.A"]]);
  });

  it("reports a refused channel to its own handler and subscribes the rest", async () => {
    server.handlers.set("subscribe", (request, socket) => {
      const channels = request.args.channels as string[];
      if (channels.includes("ticker.NOPE")) {
        return { error: { code: "UNKNOWN_SYMBOL", number: 4014, detail: { channel: "ticker.NOPE" } } };
      }
      for (const ch of channels) socket.deliver({ ch, seq: 0, ts: 1, data: {}, snapshot: true });
      return { result: { subscribed: {}, epoch: 1 } };
    });
    const client = makeClient();
    client.on("error", () => {});
    await connected(client);
    const errors: string[] = [];
    const good = collect(client, "ticker.A");
    client.subscribe("ticker.NOPE", () => {}, (e) => errors.push(e.code));
    await vi.advanceTimersByTimeAsync(0);
    expect(errors).toEqual(["UNKNOWN_SYMBOL"]);
    expect(good.map((m) => m.snapshot)).toEqual([true]);
  });

  it("asks for a fresh snapshot on demand and ignores updates until it arrives", async () => {
    server.channels.set("depth.A", { seq: 2, data: { n: 2 } });
    const client = makeClient();
    await connected(client);
    const seen = collect(client, "depth.A");
    await vi.advanceTimersByTimeAsync(0);
    server.handlers.set("subscribe", () => "silent");
    client.resync("depth.A", "snapshot", "checksum");
    server.push(server.last, "depth.A", 3, { n: 3 });
    expect(server.requests("subscribe").at(-1)!.args).toEqual({ channels: ["depth.A"] });
    server.push(server.last, "depth.A", 3, { n: 3 }, true);
    server.push(server.last, "depth.A", 4, { n: 4 });
    expect(seen.map((m) => [m.seq, m.snapshot])).toEqual([[2, true], [3, true], [4, false]]);
  });

  it("keeps delivering to the other handlers when one throws", async () => {
    const client = makeClient();
    const errors: string[] = [];
    client.on("error", (e) => errors.push(e.message));
    await connected(client);
    client.subscribe("ticker.A", () => {
      throw new Error("broken view");
    });
    const b = collect(client, "ticker.B");
    await vi.advanceTimersByTimeAsync(0);
    server.last.deliver([{ ch: "ticker.A", seq: 1, ts: 1, data: {} }, { ch: "ticker.B", seq: 1, ts: 1, data: {} }]);
    expect(b.map((m) => m.seq)).toEqual([0, 1]);
    expect(errors).toEqual(["broken view", "broken view"]); // its snapshot and its update
  });

  it("stops following an unsubscribed channel", async () => {
    const client = makeClient();
    await connected(client);
    const seen: number[] = [];
    const subscription = client.subscribe("ticker.A", (m) => seen.push(m.seq));
    await vi.advanceTimersByTimeAsync(0);
    subscription.unsubscribe();
    await vi.advanceTimersByTimeAsync(0);
    server.push(server.last, "ticker.A", 1, {});
    expect(seen).toEqual([0]);
    expect(server.requests("unsubscribe")[0]!.args).toEqual({ channels: ["ticker.A"] });
  });
});

describe("reconnecting", () => {
  it("reconnects with growing delays, logs in afresh and resumes every channel", async () => {
    server.channels.set("orders", { seq: 4, data: [] });
    server.channels.set("ticker.A", { seq: 9, data: {} });
    const client = makeClient();
    const states: string[] = [];
    client.on("state", (s) => states.push(s));
    await connected(client);
    const orders = collect(client, "orders");
    collect(client, "ticker.A");
    await vi.advanceTimersByTimeAsync(0);

    server.acceptConnections = false;
    server.last.drop();
    await vi.advanceTimersByTimeAsync(100 + 1); // first retry after 100 ms: refused
    expect(server.sockets).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(199);
    expect(server.sockets).toHaveLength(2); // the next one waits 200 ms
    server.acceptConnections = true;
    server.replay.set("orders", [{ seq: 5, data: "d5" }]);
    server.channels.set("orders", { seq: 5, data: [] });
    await vi.advanceTimersByTimeAsync(2 + 1);
    expect(server.sockets).toHaveLength(3);
    expect(client.state).toBe("ready");

    const logins = server.requests("login");
    expect(logins).toHaveLength(2);
    expect(logins[1]!.args.nonce).not.toBe(logins[0]!.args.nonce);
    const resubscribe = server.last.sent.find((r) => r.op === "subscribe")!;
    expect(resubscribe.args).toEqual({ channels: ["orders", "ticker.A"], resume: { orders: 4, "ticker.A": 9 },
                                       epoch: server.epoch });
    expect(orders.map((m) => m.seq)).toEqual([4, 5]);
    expect(states).toEqual(["connecting", "authenticating", "ready", "reconnecting", "connecting", "reconnecting",
                            "connecting", "authenticating", "ready"]);

    // a success resets the backoff
    server.last.drop();
    await vi.advanceTimersByTimeAsync(101);
    expect(server.sockets).toHaveLength(4);
  });

  it("gets snapshots after a server restart (another epoch)", async () => {
    server.channels.set("orders", { seq: 4, data: ["old"] });
    const client = makeClient();
    await connected(client);
    const seen = collect(client, "orders");
    await vi.advanceTimersByTimeAsync(0);
    server.epoch += 1;
    server.channels.set("orders", { seq: 0, data: ["new"] });
    server.last.drop(1012, "server restart");
    await vi.advanceTimersByTimeAsync(200);
    expect(seen.map((m) => [m.seq, m.snapshot, m.data])).toEqual([[4, true, ["old"]], [0, true, ["new"]]]);
    expect(client.epoch).toBe(server.epoch);
  });

  it("waits the delay a shutdown notice asks for", async () => {
    const client = makeClient();
    await connected(client);
    server.last.deliver({ ch: "system", seq: 0, ts: 1, data: { shutdown: { reconnect_after_ms: 700 } } });
    server.last.drop(1012, "server restart");
    await vi.advanceTimersByTimeAsync(699);
    expect(server.sockets).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(2);
    expect(server.sockets).toHaveLength(2);
  });

  it("takes a silent connection for dead and reconnects", async () => {
    const client = makeClient({ silenceTimeoutMs: 2000 });
    await connected(client);
    await vi.advanceTimersByTimeAsync(1500);
    server.heartbeat(server.last, {});
    await vi.advanceTimersByTimeAsync(1500);
    expect(server.sockets).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1200);
    expect(server.sockets[0]!.closedByClient?.code).toBe(4000);
    await vi.advanceTimersByTimeAsync(150);
    expect(server.sockets).toHaveLength(2);
    expect(client.state).toBe("ready");
  });

  it("stops for good when its key is revoked", async () => {
    const client = makeClient();
    client.on("error", () => {});
    await connected(client);
    server.handlers.set("orders", () => "silent");
    const query = client.request("orders");
    server.last.deliver({ ch: "system", seq: 0, ts: 1, data: { logout: "API_KEY_REVOKED" } });
    server.last.drop(4010, "API_KEY_REVOKED");
    await expect(query).rejects.toBeInstanceOf(ConnectionLostError);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(client.state).toBe("closed");
    expect(server.sockets).toHaveLength(1);
  });

  it("fails queries that lose their connection, and holds new requests until it is back", async () => {
    const client = makeClient();
    await connected(client);
    server.handlers.set("orders", () => "silent");
    const lost = client.request("orders");
    server.last.drop();
    await expect(lost).rejects.toBeInstanceOf(ConnectionLostError);
    server.handlers.set("orders", () => ({ result: [] }));
    const later = client.request("orders");
    await vi.advanceTimersByTimeAsync(150);
    await expect(later).resolves.toEqual([]);
    expect(server.sockets[1]!.sent.map((r) => r.op)).toEqual(["login", "orders"]);
  });

  it("closes on request and fails what waits", async () => {
    const client = makeClient();
    await connected(client);
    server.last.drop();
    const waiting = client.request("orders");
    client.close();
    await expect(waiting).rejects.toBeInstanceOf(ClientClosedError);
    await vi.advanceTimersByTimeAsync(5000);
    expect(server.sockets).toHaveLength(1);
  });
});

describe("unknown outcomes", () => {
  const ticket = { symbol: "RELIANCE", side: "buy" as const, qty: 10, price: 141300, client_order_id: "c-1" };

  /** The place, wrapped so that awaiting this helper does not await the place itself. */
  async function placeAndDrop(client: GridWorksClient) {
    server.handlers.set("place", () => "silent");
    const placed = client.place(ticket);
    placed.catch(() => {});
    await vi.advanceTimersByTimeAsync(0);
    server.last.drop();
    return { placed };
  }

  it("queries a place whose reply was lost and settles it from the order, without sending it again", async () => {
    const client = makeClient();
    await connected(client);
    const { placed } = await placeAndDrop(client);
    server.handlers.set("order", (r) => (r.args.client_order_id === "c-1"
      ? { result: order({ filled: 4, leaves: 6, status: "PARTIALLY_FILLED" }) } : undefined));
    await vi.advanceTimersByTimeAsync(150);
    await expect(placed).resolves.toEqual({ order_id: 215, status: "PARTIALLY_FILLED", filled: 4, leaves: 6,
                                            cancelled: 0, client_order_id: "c-1", recovered: true });
    expect(server.requests("place")).toHaveLength(1);
    expect(server.requests("order")).toHaveLength(1);
  });

  it("sends a place the server never saw again, with the same client order id", async () => {
    const client = makeClient();
    await connected(client);
    const { placed } = await placeAndDrop(client);
    server.handlers.set("order", () => ({ error: { code: "ORDER_NOT_FOUND", number: 4016 } }));
    server.handlers.set("place", () => ({ result: { order_id: 300, status: "OPEN", filled: 0, leaves: 10,
                                                    cancelled: 0, client_order_id: "c-1" } }));
    await vi.advanceTimersByTimeAsync(150);
    await expect(placed).resolves.toMatchObject({ order_id: 300, status: "OPEN" });
    const places = server.requests("place");
    expect(places).toHaveLength(2);
    expect(places[1]!.args).toEqual(places[0]!.args);
  });

  it("queries again when the resent place turns out to be a duplicate", async () => {
    const client = makeClient();
    await connected(client);
    const { placed } = await placeAndDrop(client);
    let queries = 0;
    server.handlers.set("order", () => (++queries === 1
      ? { error: { code: "ORDER_NOT_FOUND", number: 4016 } } : { result: order() }));
    server.handlers.set("place", () => ({ error: { code: "DUPLICATE_CLIENT_ORDER_ID", number: 3020 } }));
    await vi.advanceTimersByTimeAsync(150);
    await expect(placed).resolves.toMatchObject({ order_id: 215, status: "OPEN", recovered: true });
    expect(server.requests("place")).toHaveLength(2);
  });

  it("reports a place that was rejected with the rejection's code", async () => {
    const client = makeClient();
    await connected(client);
    const { placed } = await placeAndDrop(client);
    server.handlers.set("order", () => ({ result: order({ status: "REJECTED", reason: "INSUFFICIENT_FUNDS", leaves: 0 }) }));
    placed.catch(() => {});
    await vi.advanceTimersByTimeAsync(150);
    await expect(placed).rejects.toMatchObject({ code: "INSUFFICIENT_FUNDS", number: 2010 });
  });

  it("never resends a cancel: it reports the order's state instead", async () => {
    const client = makeClient();
    await connected(client);
    server.handlers.set("cancel", () => "silent");
    const cancelled = client.cancel({ order_id: 215 });
    cancelled.catch(() => {});
    await vi.advanceTimersByTimeAsync(0);
    server.last.drop();
    server.handlers.set("order", () => ({ result: order({ status: "CANCELLED", leaves: 0, reason: "USER" }) }));
    await vi.advanceTimersByTimeAsync(150);
    const error = await cancelled.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OutcomeUnknownError);
    expect((error as OutcomeUnknownError).order?.status).toBe("CANCELLED");
    expect(server.requests("cancel")).toHaveLength(1);
    expect(server.requests("order")[0]!.args).toEqual({ order_id: 215 });
  });

  it("settles an OUTCOME_UNKNOWN reply and a reply that never comes by querying", async () => {
    const client = makeClient({ tradingTimeoutMs: 3000 });
    await connected(client);
    server.handlers.set("order", () => ({ result: order() }));
    server.handlers.set("place", () => ({ error: { code: "OUTCOME_UNKNOWN", number: 4017 } }));
    await expect(client.place(ticket)).resolves.toMatchObject({ order_id: 215, recovered: true });
    server.handlers.set("place", () => "silent");
    const slow = client.place({ ...ticket, client_order_id: "c-2" });
    await vi.advanceTimersByTimeAsync(3001);
    await expect(slow).resolves.toMatchObject({ recovered: true });
    expect(server.requests("place")).toHaveLength(2);
    expect(server.requests("order").map((r) => r.args.client_order_id)).toEqual(["c-1", "c-2"]);
  });

  it("keeps an in-doubt place through several lost connections until it can ask", async () => {
    const client = makeClient();
    await connected(client);
    const { placed } = await placeAndDrop(client);
    server.handlers.set("order", () => "silent");
    await vi.advanceTimersByTimeAsync(150);
    server.last.drop(); // lost again while asking
    server.handlers.set("order", () => ({ result: order() }));
    await vi.advanceTimersByTimeAsync(300);
    await expect(placed).resolves.toMatchObject({ order_id: 215, recovered: true });
    expect(server.requests("place")).toHaveLength(1);
  });
});

describe("latency", () => {
  it("measures the round trip of pings while ready", async () => {
    let sentAt = 0;
    server.handlers.set("ping", () => {
      sentAt = Date.now();
      return "silent";
    });
    const client = makeClient({ pingIntervalMs: 1000 });
    const latencies: number[] = [];
    client.on("latency", (ms) => latencies.push(ms));
    await connected(client);
    const ping = server.requests("ping")[0]!;
    await vi.advanceTimersByTimeAsync(sentAt + 7 - Date.now());
    server.last.deliver({ id: ping.id, ok: true, result: { time: Date.now() * 1e6, seq: 1 } });
    await vi.advanceTimersByTimeAsync(0);
    expect(latencies).toEqual([7]);
    expect(client.latencyMs).toBe(7);
    await vi.advanceTimersByTimeAsync(1000);
    expect(server.requests("ping")).toHaveLength(2);
  });
});
