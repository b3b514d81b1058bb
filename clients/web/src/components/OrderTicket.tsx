import { ApiError, type Instrument, type Order, OutcomeUnknownError, formatPaise, formatQty,
         parseRupees } from "@gridworks/sdk";
import { type FormEvent, type KeyboardEvent, useEffect, useRef, useState } from "react";
import type { Session } from "../lib/session";
import { type FieldErrors, KINDS, PRODUCT_LABELS, type Product, type Side, type TicketForm, amendRequest, check,
         fieldOfCode, isErrors, needsPrice, needsTrigger, newTicket, placeRequest, reasonText, rupees,
         snapPriceText, stepPriceText, ticketFromOrder } from "../lib/ticket";

export interface TicketIntent {
  side: Side;
  price?: number;
  amend?: Order;
  nonce: number;
}

interface Props {
  session: Session;
  instrument: Instrument;
  intent: TicketIntent | null;
  onOpen: (side: Side) => void;
  onClose: () => void;
}

type Status = { tone: "ok" | "error" | "pending"; text: string } | null;

export function OrderTicket({ session, instrument, intent, onOpen, onClose }: Props) {
  const [form, setForm] = useState<TicketForm>(() => newTicket(instrument, "buy"));
  const [errors, setErrors] = useState<FieldErrors>({});
  const [status, setStatus] = useState<Status>(null);
  const [busy, setBusy] = useState(false);
  const shown = useRef<{ intent: TicketIntent; symbol: string } | null>(null);
  const amend = intent?.amend;

  useEffect(() => {
    if (!intent) {
      shown.current = null;
      return;
    }
    const before = shown.current;
    const samePlace = before && !intent.amend && !before.intent.amend && before.intent.side === intent.side
      && before.symbol === instrument.symbol;
    if (samePlace && intent.price) {
      setForm((f) => ({ ...f, price: rupees(intent.price!) }));
    } else if (intent.amend) {
      setForm(ticketFromOrder(intent.amend, instrument));
    } else {
      setForm(newTicket(instrument, intent.side, intent.price ?? defaultPrice(session, instrument, intent.side)));
    }
    if (!samePlace) {
      setErrors({});
      setStatus(null);
    }
    shown.current = { intent, symbol: instrument.symbol };
  }, [intent, instrument, session]);

  if (!intent) {
    return (
      <section className="panel ticket closed" aria-label="Order ticket">
        <button type="button" className="buy" onClick={() => onOpen("buy")}>Buy <kbd>F1</kbd></button>
        <button type="button" className="sell" onClick={() => onOpen("sell")}>Sell <kbd>F2</kbd></button>
      </section>
    );
  }

  const set = (patch: Partial<TicketForm>) => {
    setForm((f) => ({ ...f, ...patch }));
    setErrors((e) => {
      const next = { ...e };
      for (const key of Object.keys(patch)) delete next[key === "lots" ? "qty" : (key as keyof FieldErrors)];
      delete next.form;
      return next;
    });
  };

  const stepKeys = (field: "price" | "trigger") => (event: KeyboardEvent<HTMLInputElement>) => {
    if (event.key !== "ArrowUp" && event.key !== "ArrowDown") return;
    event.preventDefault();
    set({ [field]: stepPriceText(form[field], instrument.tick, event.key === "ArrowUp" ? 1 : -1) });
  };

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const checked = check(form, instrument);
    if (isErrors(checked)) {
      setErrors(checked);
      return;
    }
    setBusy(true);
    setStatus({ tone: "pending", text: amend ? "Modifying…" : "Placing…" });
    try {
      if (amend) {
        const args = amendRequest(amend, checked);
        if (!args) {
          setStatus({ tone: "error", text: "Nothing to change" });
          return;
        }
        const outcome = await session.client.amend(args);
        setStatus({ tone: "ok", text: `Order ${outcome.order_id} ${outcome.status.toLowerCase()}` });
        onClose();
      } else {
        const outcome = await session.client.place(placeRequest(form, instrument, checked));
        setStatus({ tone: "ok", text: `Order ${outcome.order_id} ${outcome.status.toLowerCase().replace("_", " ")}` });
      }
    } catch (failure) {
      setStatus(null);
      if (failure instanceof ApiError) {
        setErrors({ [fieldOfCode(failure.code)]: reasonText(failure.code, failure.number, failure.message) });
      } else if (failure instanceof OutcomeUnknownError) {
        setErrors({ form: `Outcome unknown; the order is now ${failure.order?.status.toLowerCase() ?? "unknown to the server"}` });
      } else {
        setErrors({ form: failure instanceof Error ? failure.message : String(failure) });
      }
    } finally {
      setBusy(false);
    }
  };

  const price = parseRupees(form.price) ?? 0;
  const lots = Number(form.lots) || 0;
  const qty = lots * instrument.lot;
  const side = form.side;

  return (
    <form className={`panel ticket ${side}`} onSubmit={submit} aria-label="Order ticket" data-testid="ticket"
>
      <div className="ticket-head">
        <div className="side-toggle" role="group" aria-label="Side">
          <button type="button" className={side === "buy" ? "buy active" : "buy"} disabled={!!amend}
                  onClick={() => set({ side: "buy" })}>Buy</button>
          <button type="button" className={side === "sell" ? "sell active" : "sell"} disabled={!!amend}
                  onClick={() => set({ side: "sell" })}>Sell</button>
        </div>
        <span className="ticket-symbol">{amend ? `Modify #${amend.order_id}` : instrument.symbol}</span>
        <button type="button" className="ghost close" aria-label="Close ticket" onClick={onClose}>×</button>
      </div>

      <div className="segmented" role="group" aria-label="Order type">
        {KINDS.map((k) => (
          <button key={k.value} type="button" className={form.kind === k.value ? "active" : ""} disabled={!!amend}
                  onClick={() => set({ kind: k.value })}>{k.label}</button>
        ))}
      </div>

      <div className="row">
        <label>
          Product
          <select value={form.product} disabled={!!amend} onChange={(e) => set({ product: e.target.value as Product })}
                  name="product">
            {instrument.products.map((p) => <option key={p} value={p}>{PRODUCT_LABELS[p as Product] ?? p}</option>)}
          </select>
          <FieldError text={errors.product} />
        </label>
        <label>
          Validity
          <select value={form.validity} disabled={!!amend} name="validity"
                  onChange={(e) => set({ validity: e.target.value as TicketForm["validity"] })}>
            <option value="day">DAY</option>
            <option value="ioc">IOC</option>
          </select>
        </label>
      </div>

      <div className="row">
        <label>
          Lots{instrument.lot > 1 && <span className="muted small"> × {instrument.lot}</span>}
          <input name="lots" inputMode="numeric" value={form.lots} aria-invalid={!!errors.qty}
                 onChange={(e) => set({ lots: e.target.value })} />
          <FieldError text={errors.qty} />
        </label>
        <label>
          Price
          <input name="price" inputMode="decimal" value={needsPrice(form.kind) ? form.price : ""}
                 placeholder={needsPrice(form.kind) ? "" : "Market"} disabled={!needsPrice(form.kind)}
                 aria-invalid={!!errors.price} onChange={(e) => set({ price: e.target.value })}
                 onBlur={() => set({ price: snapPriceText(form.price, instrument.tick) })} onKeyDown={stepKeys("price")} />
          <FieldError text={errors.price} />
        </label>
      </div>

      {needsTrigger(form.kind) && (
        <label>
          Trigger
          <input name="trigger" inputMode="decimal" value={form.trigger} aria-invalid={!!errors.trigger}
                 onChange={(e) => set({ trigger: e.target.value })}
                 onBlur={() => set({ trigger: snapPriceText(form.trigger, instrument.tick) })}
                 onKeyDown={stepKeys("trigger")} />
          <FieldError text={errors.trigger} />
        </label>
      )}

      <div className="ticket-facts muted small">
        <span>Qty {formatQty(qty)}</span>
        {needsPrice(form.kind) && price > 0 && <span>≈ ₹{formatPaise(qty * price)}</span>}
        <span>Tick {rupees(instrument.tick)}</span>
        <span>Band {formatPaise(instrument.band[0])}–{formatPaise(instrument.band[1])}</span>
      </div>

      {errors.form && <p className="error" role="alert">{errors.form}</p>}
      {status && <p className={`status ${status.tone}`} role="status">{status.text}</p>}
      <button type="submit" className={`submit ${side}`} disabled={busy}>
        {amend ? "Modify" : side === "buy" ? "Buy" : "Sell"} {instrument.symbol}
      </button>
    </form>
  );
}

function FieldError({ text }: { text: string | undefined }) {
  return text ? <span className="field-error" role="alert">{text}</span> : null;
}

/** Where a new ticket starts: the touch price on the side it trades against, else the last. */
function defaultPrice(session: Session, instrument: Instrument, side: Side): number {
  const ticker = session.tickers.last.get(instrument.symbol);
  if (!ticker) return instrument.ref_price;
  const touch = side === "buy" ? ticker.ask : ticker.bid;
  return touch || ticker.last || ticker.ref;
}
