import type { CandleInterval, Order } from "@gridworks/sdk";
import { useCallback, useEffect, useState } from "react";
import type { Session } from "../lib/session";
import type { Side } from "../lib/ticket";
import { Blotter } from "./Blotter";
import { Chart } from "./Chart";
import { DepthLadder } from "./DepthLadder";
import { OrderTicket, type TicketIntent } from "./OrderTicket";
import { TopBar } from "./TopBar";
import { Watchlist } from "./Watchlist";

interface Props {
  session: Session;
  onLogout: () => void;
}

export function Terminal({ session, onLogout }: Props) {
  const [symbol, setSymbol] = useState(session.instruments[0]?.symbol ?? "");
  const [interval, setCandleInterval] = useState<CandleInterval>("1m");
  const [intent, setIntent] = useState<TicketIntent | null>(null);
  const instrument = session.bySymbol.get(symbol);

  const openTicket = useCallback((side: Side, price?: number) => {
    setIntent((previous) => ({ side, price, nonce: (previous?.nonce ?? 0) + 1 }));
  }, []);

  const pickPrice = useCallback((price: number, side: Side) => {
    setIntent((previous) => (previous && !previous.amend
      ? { ...previous, price, nonce: previous.nonce + 1 }
      : { side, price, nonce: (previous?.nonce ?? 0) + 1 }));
  }, []);

  const modify = useCallback((order: Order) => {
    setSymbol(order.symbol);
    setIntent((previous) => ({ side: order.side === "SELL" ? "sell" : "buy", amend: order,
                               nonce: (previous?.nonce ?? 0) + 1 }));
  }, []);

  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if (event.key === "F1" || event.key === "F2") {
        event.preventDefault();
        openTicket(event.key === "F1" ? "buy" : "sell");
      } else if (event.key === "Escape") {
        setIntent(null);
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [openTicket]);

  return (
    <div className="terminal">
      <TopBar session={session} onLogout={onLogout} />
      <Watchlist session={session} selected={symbol} onSelect={setSymbol} />
      <section className="panel chart-panel" aria-label="Chart">
        {instrument && <Chart session={session} instrument={instrument} interval={interval}
                              onInterval={setCandleInterval} />}
      </section>
      <aside className="side-column">
        {instrument && <DepthLadder session={session} instrument={instrument} onPick={pickPrice} />}
        {instrument && <OrderTicket session={session} instrument={instrument} intent={intent}
                                    onOpen={openTicket} onClose={() => setIntent(null)} />}
      </aside>
      <Blotter session={session} onModify={modify} onSelect={setSymbol} />
    </div>
  );
}
