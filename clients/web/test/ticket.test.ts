import type { Instrument, Order } from "@gridworks/sdk";
import { describe, expect, it } from "vitest";
import { amendRequest, check, fieldOfCode, isErrors, newTicket, placeRequest, snapPriceText, stepPriceText,
         ticketFromOrder } from "../src/lib/ticket";

const reliance: Instrument = {
  symbol: "RELIANCE", name: "Reliance", segment: "EQ", tick: 5, lot: 1, freeze_qty: 0, ref_price: 141230,
  band: [127110, 155350], products: ["cnc", "mis"], phase: "CONTINUOUS",
};
const nifty: Instrument = { ...reliance, symbol: "NIFTY26DECFUT", segment: "FUT", tick: 10, lot: 75,
                            freeze_qty: 1800, products: ["mis", "nrml"] };

describe("the ticket's checks", () => {
  it("turns a limit ticket into paise and units", () => {
    const form = { ...newTicket(nifty, "sell"), lots: "2", price: "24350.10" };
    const checked = check(form, nifty);
    expect(checked).toEqual({ qty: 150, price: 2435010, trigger: 0 });
    expect(isErrors(checked)).toBe(false);
    if (!isErrors(checked)) {
      expect(placeRequest(form, nifty, checked)).toEqual({
        symbol: "NIFTY26DECFUT", side: "sell", qty: 150, type: "limit", price: 2435010, trigger: 0,
        product: "mis", tif: "day" });
    }
  });

  it("says what is wrong, field by field", () => {
    const form = { ...newTicket(nifty, "buy"), kind: "sl" as const, lots: "0", price: "24350.15", trigger: "" };
    expect(check(form, nifty)).toEqual({
      qty: "Enter a whole number of lots", price: "Price must be a multiple of 0.10", trigger: "Enter a trigger price",
    });
    expect(check({ ...form, lots: "25", price: "24350.10", trigger: "24340" }, nifty))
      .toEqual({ qty: "At most 24 lots per order" });
    expect(check({ ...newTicket(reliance, "buy"), product: "nrml", price: "1412" }, reliance))
      .toEqual({ product: "Not available for this instrument" });
  });

  it("sends no price for market orders", () => {
    const form = { ...newTicket(reliance, "buy"), kind: "market" as const, price: "" };
    const checked = check(form, reliance);
    expect(checked).toEqual({ qty: 1, price: 0, trigger: 0 });
  });

  it("snaps and steps prices on the tick grid", () => {
    expect(snapPriceText("1412.07", 5)).toBe("1412.05");
    expect(snapPriceText("1412.08", 5)).toBe("1412.10");
    expect(snapPriceText("abc", 5)).toBe("abc");
    expect(stepPriceText("1412.07", 5, 1)).toBe("1412.10");
    expect(stepPriceText("1412.07", 5, -1)).toBe("1412.05");
    expect(stepPriceText("1412.05", 5, -1)).toBe("1412.00");
  });

  it("amends only what changed", () => {
    const order = { order_id: 9, qty: 150, price: 2435010, trigger: 0, side: "BUY", type: "LIMIT", tif: "DAY",
                    product: "MIS" } as Order;
    const form = ticketFromOrder(order, nifty);
    expect(form).toMatchObject({ side: "buy", kind: "limit", product: "mis", lots: "2", price: "24350.10" });
    expect(amendRequest(order, { qty: 150, price: 2435010, trigger: 0 })).toBeNull();
    expect(amendRequest(order, { qty: 225, price: 2435010, trigger: 0 })).toEqual({ order_id: 9, qty: 225 });
    expect(amendRequest(order, { qty: 150, price: 2436000, trigger: 0 })).toEqual({ order_id: 9, price: 2436000 });
  });

  it("puts server rejections next to the field they are about", () => {
    expect(fieldOfCode("PRICE_OUTSIDE_BAND")).toBe("price");
    expect(fieldOfCode("INSUFFICIENT_FUNDS")).toBe("qty");
    expect(fieldOfCode("TRIGGER_ALREADY_HIT")).toBe("trigger");
    expect(fieldOfCode("PRODUCT_NOT_ALLOWED")).toBe("product");
    expect(fieldOfCode("MARKET_HALTED")).toBe("form");
  });
});
