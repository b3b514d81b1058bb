/**
 * Paise and quantities for people: formatting with Indian digit grouping, parsing typed
 * prices without floating point, snapping to the tick grid, lots to units.
 *
 * Every amount is an integer number of paise (₹1 = 100 paise). Parsing works on the digits
 * of the string, so "1413.05" is exactly 141305 and never 141304.99999.
 */

/** `1234567` -> `"12,34,567"`: Indian grouping (last three digits, then pairs). */
export function groupIndian(digits: string): string {
  if (digits.length <= 3) return digits;
  const head = digits.slice(0, -3);
  const tail = digits.slice(-3);
  return head.replace(/\B(?=(\d{2})+(?!\d))/g, ",") + "," + tail;
}

export interface FormatOptions {
  /** Prefix positive amounts with "+" (for P&L and changes). */
  sign?: boolean;
  /** Group the rupees (default true). */
  group?: boolean;
}

/** Paise as rupees with two decimals: 14130050 -> "1,41,300.50". */
export function formatPaise(paise: number, options: FormatOptions = {}): string {
  const negative = paise < 0;
  const abs = Math.abs(Math.trunc(paise));
  const rupees = String(Math.floor(abs / 100));
  const fraction = String(abs % 100).padStart(2, "0");
  const body = `${options.group === false ? rupees : groupIndian(rupees)}.${fraction}`;
  if (negative) return `-${body}`;
  return options.sign && abs > 0 ? `+${body}` : body;
}

/** A change as a percentage of a reference, two decimals: (70, 141230) -> "+0.05%". */
export function formatPercent(change: number, reference: number): string {
  if (!reference) return "0.00%";
  const basisPoints = Math.round((change * 10000) / reference);
  const sign = basisPoints > 0 ? "+" : basisPoints < 0 ? "-" : "";
  const abs = Math.abs(basisPoints);
  return `${sign}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, "0")}%`;
}

/** A quantity with Indian grouping: 150000 -> "1,50,000". */
export function formatQty(qty: number): string {
  const negative = qty < 0;
  const body = groupIndian(String(Math.abs(Math.trunc(qty))));
  return negative ? `-${body}` : body;
}

/**
 * Rupees typed by a person ("1413", "1,413.05", "₹ 1413.5") as paise, or null when the text
 * is not a non-negative amount with at most two decimals.
 */
export function parseRupees(text: string): number | null {
  const cleaned = text.replace(/[₹,\s]/g, "");
  const match = /^(\d{1,13})(?:\.(\d{0,2}))?$/.exec(cleaned);
  if (!match) return null;
  const rupees = Number(match[1]);
  const fraction = Number((match[2] ?? "").padEnd(2, "0"));
  return rupees * 100 + fraction;
}

export type SnapMode = "nearest" | "down" | "up";

/** The price on the tick grid: nearest (ties go up), or the grid point below or above. */
export function snapToTick(paise: number, tick: number, mode: SnapMode = "nearest"): number {
  if (tick <= 0) return paise;
  const below = Math.floor(paise / tick) * tick;
  if (below === paise) return paise;
  if (mode === "down") return below;
  if (mode === "up") return below + tick;
  return paise - below >= tick / 2 ? below + tick : below;
}

export function onTick(paise: number, tick: number): boolean {
  return tick > 0 && paise % tick === 0;
}

/** Units for a number of lots. */
export function lotsToQty(lots: number, lot: number): number {
  return lots * lot;
}

/** Milliseconds from a nanosecond timestamp (exact to the millisecond for any real time). */
export function nsToMs(ns: number): number {
  return Math.floor(ns / 1e6);
}
