import { ApiError, type Fill, type Order, type Position, formatPaise, formatQty, unrealisedAt } from "@gridworks/sdk";
import { useState } from "react";
import { useAccountVersion, useTickerVersion } from "../lib/hooks";
import type { Session } from "../lib/session";

type Tab = "open" | "orders" | "fills" | "positions" | "funds";

interface Props {
  session: Session;
  onModify: (order: Order) => void;
  onSelect: (symbol: string) => void;
}

/** Orders, fills, positions and funds: state that changes per order, not per tick. */
export function Blotter({ session, onModify, onSelect }: Props) {
  useAccountVersion(session);
  const [tab, setTab] = useState<Tab>("open");
  const account = session.account;
  const open = account.openOrders();
  const tabs: [Tab, string][] = [
    ["open", `Open orders (${open.length})`], ["orders", "Orders"], ["fills", `Fills (${account.fills.length})`],
    ["positions", "Positions"], ["funds", "Funds"],
  ];
  return (
    <section className="panel blotter" aria-label="Orders and positions">
      <div className="tabs" role="tablist">
        {tabs.map(([value, label]) => (
          <button key={value} type="button" role="tab" aria-selected={tab === value}
                  className={tab === value ? "active" : ""} onClick={() => setTab(value)}>{label}</button>
        ))}
      </div>
      <div className="tab-body">
        {tab === "open" && <Orders session={session} orders={open} onModify={onModify} onSelect={onSelect} live />}
        {tab === "orders" && <Orders session={session} orders={account.allOrders()} onModify={onModify} onSelect={onSelect} />}
        {tab === "fills" && <Fills fills={account.fills} />}
        {tab === "positions" && <Positions session={session} positions={account.positions} onSelect={onSelect} />}
        {tab === "funds" && <Funds session={session} />}
      </div>
    </section>
  );
}

function Orders({ session, orders, onModify, onSelect, live }: {
  session: Session; orders: Order[]; onModify: (order: Order) => void; onSelect: (symbol: string) => void; live?: boolean;
}) {
  const [errors, setErrors] = useState<Record<number, string>>({});
  if (!orders.length) return <p className="empty muted">{live ? "No open orders" : "No orders yet"}</p>;
  const cancel = async (order: Order) => {
    try {
      await session.client.cancel({ order_id: order.order_id });
    } catch (failure) {
      const text = failure instanceof ApiError ? failure.message : String(failure);
      setErrors((e) => ({ ...e, [order.order_id]: text }));
    }
  };
  return (
    <table data-testid={live ? "open-orders" : "orders"}>
      <thead>
        <tr>
          <th>Time</th><th>Symbol</th><th>Side</th><th>Type</th><th>Product</th><th className="num">Qty</th>
          <th className="num">Price</th><th className="num">Trigger</th><th className="num">Avg</th><th>Status</th><th />
        </tr>
      </thead>
      <tbody>
        {orders.map((o) => (
          <tr key={o.order_id} data-order-id={o.order_id} data-client-order-id={o.client_order_id}>
            <td className="muted">{clock(o.updated_ts)}</td>
            <td><button type="button" className="link" onClick={() => onSelect(o.symbol)}>{o.symbol}</button></td>
            <td className={o.side === "BUY" ? "up" : "down"}>{o.side}</td>
            <td>{o.type.replace("_", "-")}</td>
            <td>{o.product}</td>
            <td className="num">{formatQty(o.filled)}/{formatQty(o.qty)}</td>
            <td className="num" data-testid="order-price">{o.price ? formatPaise(o.price) : "MKT"}</td>
            <td className="num">{o.trigger ? formatPaise(o.trigger) : ""}</td>
            <td className="num">{o.average_price ? formatPaise(o.average_price) : ""}</td>
            <td><span className={`badge ${o.status.toLowerCase()}`}>{o.status.replace("_", " ")}</span>
              {o.reason && <span className="muted small"> {o.reason}</span>}
              {errors[o.order_id] && <span className="field-error"> {errors[o.order_id]}</span>}</td>
            <td className="actions">
              {live && <>
                <button type="button" className="ghost" onClick={() => onModify(o)}>Modify</button>
                <button type="button" className="ghost danger" onClick={() => void cancel(o)}>Cancel</button>
              </>}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Fills({ fills }: { fills: Fill[] }) {
  if (!fills.length) return <p className="empty muted">No fills yet</p>;
  return (
    <table data-testid="fills">
      <thead><tr><th>Time</th><th>Symbol</th><th>Side</th><th className="num">Qty</th><th className="num">Price</th><th>Liquidity</th><th>Order</th></tr></thead>
      <tbody>
        {fills.map((f) => (
          <tr key={`${f.trade_id}:${f.order_id}`}>
            <td className="muted">{clock(f.ts)}</td><td>{f.symbol}</td>
            <td className={f.side === "BUY" ? "up" : "down"}>{f.side}</td>
            <td className="num">{formatQty(f.qty)}</td><td className="num">{formatPaise(f.price)}</td>
            <td className="muted">{f.liquidity}</td><td className="muted">{f.client_order_id}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Positions({ session, positions, onSelect }: { session: Session; positions: Position[]; onSelect: (s: string) => void }) {
  useTickerVersion(session);
  const rows = positions.filter((p) => p.net !== 0 || p.realised !== 0 || p.open_buy || p.open_sell);
  if (!rows.length) return <p className="empty muted">No positions</p>;
  let total = 0;
  return (
    <table data-testid="positions">
      <thead><tr><th>Symbol</th><th>Product</th><th className="num">Net</th><th className="num">Avg</th><th className="num">LTP</th>
        <th className="num">Unrealised</th><th className="num">Realised</th><th className="num">P&L</th></tr></thead>
      <tbody>
        {rows.map((p) => {
          const mark = session.tickers.mark(p.symbol);
          const unrealised = unrealisedAt(p, mark);
          const pnl = unrealised + p.realised;
          total += pnl;
          return (
            <tr key={`${p.symbol}:${p.product}`} data-symbol={p.symbol}>
              <td><button type="button" className="link" onClick={() => onSelect(p.symbol)}>{p.symbol}</button></td>
              <td>{p.product}</td>
              <td className={`num ${p.net > 0 ? "up" : p.net < 0 ? "down" : ""}`}>{formatQty(p.net)}</td>
              <td className="num">{p.average_price ? formatPaise(p.average_price) : ""}</td>
              <td className="num">{formatPaise(mark)}</td>
              <td className={`num ${tone(unrealised)}`}>{formatPaise(unrealised, { sign: true })}</td>
              <td className={`num ${tone(p.realised)}`}>{formatPaise(p.realised, { sign: true })}</td>
              <td className={`num ${tone(pnl)}`} data-testid="position-pnl">{formatPaise(pnl, { sign: true })}</td>
            </tr>
          );
        })}
      </tbody>
      <tfoot><tr><td colSpan={7} className="muted">Total</td><td className={`num ${tone(total)}`}>{formatPaise(total, { sign: true })}</td></tr></tfoot>
    </table>
  );
}

function Funds({ session }: { session: Session }) {
  const funds = session.account.funds;
  if (!funds) return <p className="empty muted">Loading funds…</p>;
  const rows: [string, number][] = [
    ["Cash", funds.cash], ["Credit", funds.credit], ["Blocked by open orders", funds.blocked],
    ["Margin used", funds.margin], ["Buying power", funds.buying_power], ["Free cash (withdrawable)", funds.free_cash],
    ["Equity (last mark)", funds.equity], ["Unrealised (last mark)", funds.unrealised],
  ];
  return (
    <table className="funds" data-testid="funds">
      <tbody>
        {rows.map(([label, value]) => (
          <tr key={label}><td className="muted">{label}</td><td className="num">₹{formatPaise(value)}</td></tr>
        ))}
        {funds.in_margin_call && <tr><td colSpan={2} className="down">Margin call: add funds or reduce positions</td></tr>}
      </tbody>
    </table>
  );
}

function tone(value: number): string {
  return value > 0 ? "up" : value < 0 ? "down" : "";
}

/** hh:mm:ss in Indian time from a nanosecond timestamp. */
export function clock(ns: number): string {
  const ist = new Date(Math.floor(ns / 1e6) + 19_800_000);
  return ist.toISOString().slice(11, 19);
}
