import { type Instrument, type Ticker, formatPaise, formatPercent } from "@gridworks/sdk";
import { useEffect, useRef } from "react";
import { frames } from "../lib/frame";
import type { Session } from "../lib/session";

interface Props {
  session: Session;
  selected: string;
  onSelect: (symbol: string) => void;
}

/** Every instrument with its last price and change. Rows render once; prices are written
 * straight into their cells in the next animation frame after each tick. */
export function Watchlist({ session, selected, onSelect }: Props) {
  return (
    <nav className="panel watchlist" aria-label="Watchlist">
      <div className="panel-title">Watchlist</div>
      <table>
        <tbody>
          {session.instruments.map((instrument) => (
            <Row key={instrument.symbol} session={session} instrument={instrument}
                 selected={instrument.symbol === selected} onSelect={onSelect} />
          ))}
        </tbody>
      </table>
    </nav>
  );
}

function Row({ session, instrument, selected, onSelect }: {
  session: Session; instrument: Instrument; selected: boolean; onSelect: (symbol: string) => void;
}) {
  const last = useRef<HTMLTableCellElement>(null);
  const change = useRef<HTMLTableCellElement>(null);
  const row = useRef<HTMLTableRowElement>(null);

  useEffect(() => {
    let previous = 0;
    return session.tickers.on(instrument.symbol, (ticker: Ticker) => {
      const price = ticker.last || ticker.ref;
      const direction = previous && price !== previous ? (price > previous ? "up" : "down") : "";
      previous = price;
      frames.write(`watch:${instrument.symbol}`, () => {
        if (!last.current || !change.current || !row.current) return;
        last.current.textContent = formatPaise(price);
        change.current.textContent = ticker.last ? formatPercent(ticker.change, ticker.ref) : "—";
        const tone = ticker.change > 0 ? "up" : ticker.change < 0 ? "down" : "";
        change.current.className = `num ${tone}`;
        if (direction) flash(last.current, direction);
        row.current.dataset.stale = String(ticker.stale === true);
      });
    });
  }, [session, instrument.symbol]);

  return (
    <tr ref={row} className={selected ? "selected" : ""} onClick={() => onSelect(instrument.symbol)}
        data-testid={`watch-${instrument.symbol}`} aria-selected={selected}>
      <td className="symbol" title={instrument.name}>
        {instrument.symbol}
        {instrument.segment !== "EQ" && <span className="muted small">{instrument.segment}</span>}
      </td>
      <td ref={last} className="num" data-testid={`last-${instrument.symbol}`}>{formatPaise(instrument.ref_price)}</td>
      <td ref={change} className="num">—</td>
    </tr>
  );
}

const FLASH = { up: "rgba(38, 166, 154, 0.35)", down: "rgba(239, 83, 80, 0.35)" };

/** A short colour flash on a cell (an animation, so no layout is forced mid-frame). */
function flash(cell: HTMLElement, direction: "up" | "down"): void {
  cell.animate?.([{ backgroundColor: FLASH[direction] }, { backgroundColor: "transparent" }],
                 { duration: 450, easing: "ease-out" });
}
