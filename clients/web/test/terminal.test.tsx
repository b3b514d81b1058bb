import { type Instrument, type Order, depthChecksum } from "@gridworks/sdk";
import { act, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { beforeEach, describe, expect, it } from "vitest";
import { FakeServer, KEY } from "../../sdk/test/fake-server";
import { Terminal } from "../src/components/Terminal";
import { type Session, openSession } from "../src/lib/session";
import { recorded, resetRecorded } from "./chart-mock";
import { nextFrame } from "./setup";

const reliance: Instrument = {
  symbol: "RELIANCE", name: "Reliance Industries", segment: "EQ", tick: 5, lot: 1, freeze_qty: 0, ref_price: 141230,
  band: [127110, 155350], products: ["cnc", "mis"], phase: "CONTINUOUS",
};
const nifty: Instrument = { ...reliance, symbol: "NIFTY26DECFUT", name: "Nifty futures", segment: "FUT", tick: 10,
                            lot: 75, freeze_qty: 1800, ref_price: 2435000, band: [2191500, 2678500],
                            products: ["mis", "nrml"] };

const openOrder: Order = {
  order_id: 215, client_order_id: "web-1", account: 2, symbol: "RELIANCE", side: "BUY", type: "LIMIT", tif: "DAY",
  product: "MIS", price: 141000, trigger: 0, qty: 3, filled: 0, leaves: 3, average_price: 0, status: "OPEN",
  reason: "", created_ts: 1764146712345678901, updated_ts: 1764146712345678901, seq: 215,
};

let server: FakeServer;
let session: Session;

async function start(): Promise<void> {
  server.handlers.set("instruments", () => ({ result: [reliance, nifty] }));
  server.channels.set("positions", { seq: 0, data: { positions: [] } });
  server.channels.set("funds", { seq: 0, data: { account: 2, cash: 100000000, credit: 0, blocked: 0, margin: 0,
                                                  buying_power: 100000000, free_cash: 100000000, unrealised: 0,
                                                  equity: 0, in_margin_call: false } });
  server.channels.set("depth.RELIANCE", { seq: 3, data: {
    symbol: "RELIANCE", snapshot: true, bids: [[141250, 5, 1], [141200, 12, 3]], asks: [[141300, 6, 1], [141350, 2, 1]],
    checksum: depthChecksum([[141250, 5], [141200, 12]], [[141300, 6], [141350, 2]]) } });
  server.channels.set("candles.RELIANCE.1m", { seq: 1, data: { symbol: "RELIANCE", interval: "1m", bars: [
    [1764146700000000000, 141230, 141400, 141200, 141300, 40, 6]] } });
  session = await openSession("ws://test/", KEY, server.factory);
  render(<Terminal session={session} onLogout={() => {}} />);
  await waitFor(() => expect(session.client.channelSeq("depth.RELIANCE")).toBe(3));
  act(() => nextFrame());
}

function ladderPrices(side: "ask" | "bid"): string[] {
  return [...screen.getByTestId("depth").querySelectorAll(`tr.level.${side}`)]
    .map((row) => row.querySelector(".price")!.textContent!).filter(Boolean);
}

beforeEach(() => {
  server = new FakeServer();
  resetRecorded();
});

describe("the terminal", () => {
  it("shows the book, the watchlist and the chart from the channels, without waiting for React", async () => {
    await start();
    expect(ladderPrices("ask")).toEqual(["1,413.50", "1,413.00"]); // best ask nearest the spread
    expect(ladderPrices("bid")).toEqual(["1,412.50", "1,412.00"]);
    expect(screen.getByText("Spread 0.50")).toBeTruthy();

    server.push(server.last, "depth.RELIANCE", 4, { symbol: "RELIANCE", snapshot: false, bids: [[141250, 0, 0]],
      asks: [], checksum: depthChecksum([[141200, 12]], [[141300, 6], [141350, 2]]) });
    expect(ladderPrices("bid")).toEqual(["1,412.50", "1,412.00"]); // written at the next frame, not before
    act(() => nextFrame());
    expect(ladderPrices("bid")).toEqual(["1,412.00"]);

    server.push(server.last, "ticker.RELIANCE", 1, { symbol: "RELIANCE", last: 141300, ref: 141230, change: 70,
                                                     bid: 141200, ask: 141300, trades: 1 });
    act(() => nextFrame());
    expect(screen.getByTestId("last-RELIANCE").textContent).toBe("1,413.00");
    expect(screen.getByTestId("quote-last").textContent).toBe("1,413.00");

    const [candles, volume] = recorded.series;
    expect(candles!.data).toEqual([{ time: 1764146700 + 19800, open: 1412.3, high: 1414, low: 1412, close: 1413 }]);
    expect(volume!.data).toMatchObject([{ time: 1764146700 + 19800, value: 40 }]);
    server.push(server.last, "candles.RELIANCE.1m", 2, { symbol: "RELIANCE", interval: "1m", bars: [
      [1764146760000000000, 141300, 141300, 141250, 141250, 5, 1]] });
    expect(candles!.updates).toEqual([{ time: 1764146760 + 19800, open: 1413, high: 1413, low: 1412.5, close: 1412.5 }]);
  });

  it("switches the chart's interval by resubscribing", async () => {
    await start();
    fireEvent.click(screen.getByRole("button", { name: "5m" }));
    await waitFor(() => expect(server.requests("subscribe").some((r) =>
      (r.args.channels as string[]).includes("candles.RELIANCE.5m"))).toBe(true));
    expect(server.requests("unsubscribe").flatMap((r) => r.args.channels as string[])).toContain("candles.RELIANCE.1m");
  });

  it("opens the ticket with F1 and F2, fills it from the ladder, closes it with Esc", async () => {
    await start();
    fireEvent.keyDown(window, { key: "F2" });
    const ticket = await screen.findByTestId("ticket");
    expect(ticket.className).toContain("sell");
    fireEvent.click(screen.getByTestId("depth").querySelector("tr.level.ask[data-index='0']")!); // best ask
    await waitFor(() => expect((within(ticket).getByRole("textbox", { name: /price/i }) as HTMLInputElement).value)
      .toBe("1413.00"));
    fireEvent.keyDown(window, { key: "Escape" });
    await waitFor(() => expect(screen.queryByTestId("ticket")).toBeNull());
    fireEvent.keyDown(window, { key: "F1" });
    expect((await screen.findByTestId("ticket")).className).toContain("buy");
  });

  it("places what the ticket says and shows the server's reason next to its field", async () => {
    await start();
    server.handlers.set("place", () => ({ error: { code: "PRICE_OUTSIDE_BAND", number: 3012,
                                                   message: "price is outside the instrument's price band" } }));
    fireEvent.keyDown(window, { key: "F1" });
    const ticket = await screen.findByTestId("ticket");
    fireEvent.change(within(ticket).getByRole("textbox", { name: /lots/i }), { target: { value: "3" } });
    fireEvent.change(within(ticket).getByRole("textbox", { name: /price/i }), { target: { value: "1600" } });
    fireEvent.click(within(ticket).getByRole("button", { name: "Buy RELIANCE" }));
    const reason = await within(ticket).findByText("Price is outside the instrument's price band");
    expect(reason.closest("label")!.textContent).toContain("Price");
    const [place] = server.requests("place");
    expect(place!.args).toMatchObject({ symbol: "RELIANCE", side: "buy", qty: 3, price: 160000, type: "limit",
                                        product: "mis", tif: "day" });
    expect(place!.args.client_order_id).toMatch(/^web-/);
  });

  it("lists open orders with modify and cancel", async () => {
    await start();
    server.push(server.last, "orders", 1, openOrder);
    const table = await screen.findByTestId("open-orders");
    const row = table.querySelector("tr[data-order-id='215']") as HTMLElement;
    expect(within(row).getByTestId("order-price").textContent).toBe("1,410.00");

    server.handlers.set("cancel", () => ({ result: { order_id: 215, status: "CANCELLED", filled: 0, leaves: 0, cancelled: 3 } }));
    fireEvent.click(within(row).getByRole("button", { name: "Cancel" }));
    await waitFor(() => expect(server.requests("cancel")[0]!.args).toEqual({ order_id: 215 }));

    server.handlers.set("amend", () => ({ result: { order_id: 215, status: "AMENDED", filled: 0, leaves: 3, cancelled: 0 } }));
    fireEvent.click(within(row).getByRole("button", { name: "Modify" }));
    const ticket = await screen.findByTestId("ticket");
    expect(within(ticket).getByText("Modify #215")).toBeTruthy();
    fireEvent.change(within(ticket).getByRole("textbox", { name: /price/i }), { target: { value: "1409.50" } });
    fireEvent.click(within(ticket).getByRole("button", { name: /Modify RELIANCE/ }));
    await waitFor(() => expect(server.requests("amend")[0]!.args).toEqual({ order_id: 215, price: 140950 }));
  });

  it("values positions at the last price as it moves", async () => {
    await start();
    server.push(server.last, "positions", 1, { positions: [{ account: 2, symbol: "RELIANCE", instrument: 0,
      product: "MIS", net: 4, average_price: 141000, basis: 564000, realised: 150, unrealised: 0, margin: 0,
      open_buy: 0, open_sell: 0, day_buy_qty: 4, day_sell_qty: 0, overnight: 0 }] });
    server.push(server.last, "ticker.RELIANCE", 1, { symbol: "RELIANCE", last: 141300, ref: 141230, change: 70,
                                                     bid: 0, ask: 0, trades: 1 });
    fireEvent.click(screen.getByRole("tab", { name: "Positions" }));
    // 4 x 1413.00 - 5640.00 = +12.00 unrealised, + 1.50 realised
    await waitFor(() => expect(screen.getByTestId("position-pnl").textContent).toBe("+13.50"), { timeout: 2000 });
    expect(screen.getByTestId("day-pnl").textContent).toBe("+13.50");
  });
});
