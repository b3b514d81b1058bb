/**
 * The order ticket's rules, apart from React: what the trader typed, checked and turned into
 * a `place` or `amend` request, and where a server rejection belongs on the form.
 */

import { ERRORS, type AmendArgs, type Instrument, type Order, type PlaceRequest, onTick, parseRupees,
         snapToTick } from "@gridworks/sdk";

export type Side = "buy" | "sell";
export type OrderKind = "limit" | "market" | "sl" | "sl-m";
export type Product = "cnc" | "mis" | "nrml";
export type Validity = "day" | "ioc";
export type Field = "qty" | "price" | "trigger" | "product" | "form";

export interface TicketForm {
  side: Side;
  kind: OrderKind;
  product: Product;
  validity: Validity;
  lots: string;
  price: string;
  trigger: string;
}

export type FieldErrors = Partial<Record<Field, string>>;

export const KINDS: { value: OrderKind; label: string }[] = [
  { value: "limit", label: "Limit" }, { value: "market", label: "Market" },
  { value: "sl", label: "SL" }, { value: "sl-m", label: "SL-M" },
];

export const PRODUCT_LABELS: Record<Product, string> = { cnc: "CNC", mis: "MIS", nrml: "NRML" };

export function needsPrice(kind: OrderKind): boolean {
  return kind === "limit" || kind === "sl";
}

export function needsTrigger(kind: OrderKind): boolean {
  return kind === "sl" || kind === "sl-m";
}

/** A fresh ticket for an instrument: its first allowed product, a price if one is known. */
export function newTicket(instrument: Instrument, side: Side, price = 0): TicketForm {
  const products = instrument.products as Product[];
  const product = products.includes("mis") ? "mis" : (products[0] ?? "mis");
  return { side, kind: "limit", product, validity: "day", lots: "1",
           price: price ? rupees(price) : "", trigger: "" };
}

/** The ticket filled from an open order, to modify it. */
export function ticketFromOrder(order: Order, instrument: Instrument): TicketForm {
  const kind = ({ LIMIT: "limit", MARKET: "market", SL: "sl", SL_M: "sl-m" } as const)[
    order.type as "LIMIT" | "MARKET" | "SL" | "SL_M"] ?? "limit";
  return {
    side: order.side === "SELL" ? "sell" : "buy", kind,
    product: (order.product.toLowerCase() || "mis") as Product,
    validity: order.tif === "IOC" ? "ioc" : "day",
    lots: String(Math.max(1, Math.round(order.qty / instrument.lot))),
    price: order.price ? rupees(order.price) : "",
    trigger: order.trigger ? rupees(order.trigger) : "",
  };
}

export function rupees(paise: number): string {
  return `${Math.floor(paise / 100)}.${String(paise % 100).padStart(2, "0")}`;
}

/** The price typed, snapped to the tick grid (nearest), as the text to show; "" stays "". */
export function snapPriceText(text: string, tick: number): string {
  const paise = parseRupees(text);
  return paise === null ? text : rupees(snapToTick(paise, tick));
}

/** One tick up or down from the typed price. */
export function stepPriceText(text: string, tick: number, direction: 1 | -1): string {
  const paise = parseRupees(text) ?? 0;
  const snapped = snapToTick(paise, tick, direction > 0 ? "down" : "up");
  return rupees(Math.max(tick, snapped + direction * tick));
}

interface Checked {
  qty: number;
  price: number;
  trigger: number;
}

/** The form checked: quantities and prices in units and paise, or what is wrong where. */
export function check(form: TicketForm, instrument: Instrument): Checked | FieldErrors {
  const errors: FieldErrors = {};
  const lots = /^\d+$/.test(form.lots.trim()) ? Number(form.lots) : NaN;
  if (!(lots >= 1)) errors.qty = "Enter a whole number of lots";
  const qty = lots * instrument.lot;
  if (instrument.freeze_qty && qty > instrument.freeze_qty) {
    errors.qty = `At most ${Math.floor(instrument.freeze_qty / instrument.lot)} lots per order`;
  }
  let price = 0;
  if (needsPrice(form.kind)) {
    const parsed = parseRupees(form.price);
    if (parsed === null || parsed <= 0) errors.price = "Enter a price";
    else if (!onTick(parsed, instrument.tick)) errors.price = `Price must be a multiple of ${rupees(instrument.tick)}`;
    else price = parsed;
  }
  let trigger = 0;
  if (needsTrigger(form.kind)) {
    const parsed = parseRupees(form.trigger);
    if (parsed === null || parsed <= 0) errors.trigger = "Enter a trigger price";
    else if (!onTick(parsed, instrument.tick)) errors.trigger = `Trigger must be a multiple of ${rupees(instrument.tick)}`;
    else trigger = parsed;
  }
  if (!instrument.products.includes(form.product)) errors.product = "Not available for this instrument";
  return Object.keys(errors).length ? errors : { qty, price, trigger };
}

export function isErrors(value: Checked | FieldErrors): value is FieldErrors {
  return !("qty" in value && typeof value.qty === "number");
}

export function placeRequest(form: TicketForm, instrument: Instrument, checked: Checked): PlaceRequest {
  return {
    symbol: instrument.symbol, side: form.side, qty: checked.qty, type: form.kind,
    price: checked.price, trigger: checked.trigger, product: form.product,
    tif: form.validity,
  };
}

/** An amendment of what changed (price, total quantity, trigger), or null if nothing did. */
export function amendRequest(order: Order, checked: Checked): AmendArgs | null {
  const args: AmendArgs = { order_id: order.order_id };
  if (checked.qty !== order.qty) args.qty = checked.qty;
  if (checked.price && checked.price !== order.price) args.price = checked.price;
  if (checked.trigger && checked.trigger !== order.trigger) args.trigger = checked.trigger;
  return Object.keys(args).length > 1 ? args : null;
}

const FIELD_OF_CODE: Record<string, Field> = {
  QTY_INVALID: "qty", QTY_NOT_LOT_MULTIPLE: "qty", QTY_ABOVE_FREEZE: "qty", MAX_ORDER_VALUE: "qty",
  POSITION_LIMIT: "qty", NO_HOLDINGS: "qty", INSUFFICIENT_FUNDS: "qty", AMEND_QTY_BELOW_FILLED: "qty",
  DISCLOSED_QTY_INVALID: "qty",
  PRICE_INVALID: "price", PRICE_OFF_TICK: "price", PRICE_OUTSIDE_BAND: "price", POST_ONLY_WOULD_TRADE: "price",
  TRIGGER_INVALID: "trigger", TRIGGER_ALREADY_HIT: "trigger", TRIGGER_LIMIT_MISMATCH: "trigger",
  PRODUCT_NOT_ALLOWED: "product", INTRADAY_CUTOFF: "product",
};

/** Where the server's reason for refusing an order belongs on the ticket. */
export function fieldOfCode(code: string): Field {
  return FIELD_OF_CODE[code] ?? "form";
}

/** The server's reason in words: its message, or the default text of its number. */
export function reasonText(code: string, number: number, message?: string): string {
  const text = message || ERRORS[number]?.message || code;
  return text.charAt(0).toUpperCase() + text.slice(1);
}
