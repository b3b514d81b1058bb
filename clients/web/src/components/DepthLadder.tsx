import { type DepthBook, type Instrument, type Level, followDepth, formatPaise, formatQty } from "@gridworks/sdk";
import { useEffect, useRef } from "react";
import { frames } from "../lib/frame";
import type { Session } from "../lib/session";
import type { Side } from "../lib/ticket";

export const LEVELS = 10;

interface Props {
  session: Session;
  instrument: Instrument;
  onPick: (price: number, side: Side) => void;
}

interface Cells {
  row: HTMLTableRowElement;
  orders: HTMLTableCellElement;
  qty: HTMLTableCellElement;
  price: HTMLTableCellElement;
}

const BAR = { ask: "rgba(239, 83, 80, 0.14)", bid: "rgba(38, 166, 154, 0.14)" };

/**
 * The top levels of the book, asks above bids, with quantity bars. The rows are built once;
 * each depth message (checksum-verified by the SDK) is written into them in the next
 * animation frame. Clicking a level fills the ticket: an ask to buy at it, a bid to sell.
 */
export function DepthLadder({ session, instrument, onPick }: Props) {
  const table = useRef<HTMLTableSectionElement>(null);
  const spread = useRef<HTMLTableCellElement>(null);
  const totals = useRef<HTMLDivElement>(null);

  useEffect(() => {
    const body = table.current!;
    const asks = cellsOf(body, "ask");
    const bids = cellsOf(body, "bid");
    const subscription = followDepth(session.client, instrument.symbol, (book) => {
      frames.write("depth", () => paint(book, asks, bids, spread.current, totals.current));
    });
    paint(subscription.book, asks, bids, spread.current, totals.current);
    return () => subscription.unsubscribe();
  }, [session, instrument.symbol]);

  const click = (side: "ask" | "bid", index: number) => {
    const cells = cellsOf(table.current!, side)[index];
    const price = Number(cells?.row.dataset.price ?? 0);
    if (price) onPick(price, side === "ask" ? "buy" : "sell");
  };

  const rows = (side: "ask" | "bid") => Array.from({ length: LEVELS }, (_, i) => (
    <tr key={`${side}${i}`} className={`level ${side}`} data-side={side} data-index={i} onClick={() => click(side, i)}>
      <td className="orders num" />
      <td className="qty num" />
      <td className="price num" />
    </tr>
  ));

  return (
    <section className="panel depth" aria-label="Market depth" data-testid="depth">
      <div className="panel-title">Depth <span className="muted small">{instrument.symbol}</span></div>
      <table>
        <thead><tr><th className="num">Orders</th><th className="num">Qty</th><th className="num">Price</th></tr></thead>
      </table>
      <div className="ladder">
        <table>
          <tbody ref={table}>
            {rows("ask").reverse()}
            <tr className="spread"><td colSpan={3} ref={spread} className="muted small">—</td></tr>
            {rows("bid")}
          </tbody>
        </table>
      </div>
      <div className="depth-totals muted small" ref={totals} />
    </section>
  );
}

/** The rows of a side, best first (asks are laid out best at the bottom). */
function cellsOf(body: HTMLTableSectionElement, side: "ask" | "bid"): Cells[] {
  const rows = [...body.querySelectorAll<HTMLTableRowElement>(`tr.level.${side}`)]
    .sort((a, b) => Number(a.dataset.index) - Number(b.dataset.index));
  return rows.map((row) => ({ row, orders: row.cells[0]!, qty: row.cells[1]!, price: row.cells[2]! }));
}

function paint(book: DepthBook, asks: Cells[], bids: Cells[], spread: HTMLElement | null,
               totals: HTMLElement | null): void {
  const askLevels = book.levels("asks", LEVELS);
  const bidLevels = book.levels("bids", LEVELS);
  const widest = Math.max(1, ...askLevels.map((l) => l[1]), ...bidLevels.map((l) => l[1]));
  fill(asks, askLevels, widest);
  fill(bids, bidLevels, widest);
  const bestBid = bidLevels[0]?.[0] ?? 0;
  const bestAsk = askLevels[0]?.[0] ?? 0;
  if (spread) spread.textContent = bestBid && bestAsk ? `Spread ${formatPaise(bestAsk - bestBid)}` : "—";
  if (totals) {
    const sum = (levels: Level[]) => levels.reduce((s, l) => s + l[1], 0);
    totals.textContent = `Bids ${formatQty(sum(bidLevels))} · Asks ${formatQty(sum(askLevels))}`;
  }
}

function fill(cells: Cells[], levels: Level[], widest: number): void {
  cells.forEach((c, i) => {
    const level = levels[i];
    c.row.dataset.price = level ? String(level[0]) : "";
    c.orders.textContent = level ? String(level[2]) : "";
    c.qty.textContent = level ? formatQty(level[1]) : "";
    c.price.textContent = level ? formatPaise(level[0]) : "";
    const width = level ? Math.round((level[1] / widest) * 100) : 0;
    const color = BAR[c.row.dataset.side as "ask" | "bid"];
    c.row.style.background = width ? `linear-gradient(to left, ${color} ${width}%, transparent ${width}%)` : "";
  });
}
