"""A readable harness for matching scenarios: orders by label, prices in rupees.

Commands are one line each::

    BUY 100.50 x 12 #x acct=1 [ioc|fok] [post] [dq=5] [stp=resting|incoming|both] [cid=..]
    SELL MARKET x 5 #m              SELL SL 99.00 x 5 #s trig=99.50     BUY SL-M x 5 trig=101
    CANCEL #x                       AMEND #x price=100.40 qty=8 trig=.. dq=..
    CANCEL_ALL acct=2 [instr=TEST]  PHASE PRE_OPEN|CONTINUOUS|HALTED|CLOSED [instr=FUT]

With ``risk=True`` orders take a product flag (cnc, mis, nrml; default mis) and there are
account lines::

    DEPOSIT acct=1 1000.00          WITHDRAW acct=1 250.00      MARK     EOD
    LIMITS acct=1 [credit=500.00 max_value=.. max_open=2 max_long=10 max_short=5 rate=0]
    KILL GLOBAL|ACCOUNT|INSTRUMENT [target=1] [off] [cancel]     SQUARE_OFF MIS|NRML|CNC

Events and the book are rendered back in the same vocabulary, so a scenario reads as
"book before, command, events, book after".
"""

from __future__ import annotations

import shlex

import numpy as np

from engine import events as ev
from engine.commands import (
    AddInstrument,
    Amend,
    Cancel,
    CancelAll,
    Command,
    CommandBatch,
    Deposit,
    EndOfDay,
    KillSwitch,
    Mark,
    NewOrder,
    SetLimits,
    SetPhase,
    SquareOff,
    Withdraw,
)
from engine.core import Core, CoreConfig
from engine.instruments import InstrumentSpec
from engine.layout import ST_BOOK, ST_MARKET_QUEUE, ST_STOP
from engine.sequencer import CountingClock, Sequencer
from engine.snapshot_types import ORDER_FIELDS
from engine.types import KillScope, OrderType, Phase, Product, Side, StpMode, TimeInForce
from risk.state import ACCOUNT_FIELDS, POSITION_FIELDS

# TEST: an equity, 0.05 tick, band 90.00-110.00; FUT: lots of 25, 0.10 tick, halts on band.
TEST = InstrumentSpec(symbol="TEST", tick=5, lot=1, ref_price=10_000, band_bps=1000,
                      protection_bps=300, phase=Phase.CONTINUOUS)
FUT = InstrumentSpec(symbol="FUT", tick=10, lot=25, ref_price=20_000, band_bps=500,
                     freeze_qty=500, protection_bps=200, disclosed_allowed=False,
                     halt_on_band=True, segment="FUT", phase=Phase.CONTINUOUS)
INSTRUMENTS = (TEST, FUT)

STP_NAMES = {"resting": StpMode.CANCEL_RESTING, "incoming": StpMode.CANCEL_INCOMING,
             "both": StpMode.CANCEL_BOTH}
TYPE_NAMES = {"LIMIT": OrderType.LIMIT, "MARKET": OrderType.MARKET, "SL": OrderType.SL,
              "SL-M": OrderType.SL_M}


def paise(text: str) -> int:
    rupees, _, frac = text.partition(".")
    return int(rupees) * 100 + int((frac + "00")[:2])


def rupees(value: int) -> str:
    sign = "-" if value < 0 else ""
    value = abs(value)
    return f"{sign}{value // 100}.{value % 100:02d}"


class Harness:
    def __init__(self, book: str = "reference", risk: bool = False, **config: int) -> None:
        self.core = Core(CoreConfig(book=book, max_orders=config.get("max_orders", 64),
                                    max_accounts=config.get("max_accounts", 16),
                                    initial_levels=2048, risk=risk,
                                    max_positions=config.get("max_positions", 64),
                                    maintenance_bps=config.get("maintenance_bps", 5_000),
                                    order_id_base=config.get("order_id_base", 0)))
        self.clock = CountingClock()
        self.sequencer = Sequencer(1, self.clock, config.get("order_id_base", 0))
        self.labels: dict[str, int] = {}
        self.names: dict[int, str] = {}
        self.owner: dict[int, int] = {}
        self.submit([AddInstrument(spec) for spec in INSTRUMENTS])

    # --- driving -------------------------------------------------------------------------------

    def submit(self, commands: list[Command]) -> np.ndarray:
        batch = self.sequencer.stamp(CommandBatch.of(commands))
        if any(isinstance(c, EndOfDay) for c in commands):
            self.clock.next_day()
        return self.core.apply(batch)

    def run(self, text: str) -> list[str]:
        """Run command lines (one batch per line); their events, rendered."""
        out: list[str] = []
        for line in _lines(text):
            out.extend(self.render(self.submit([self.parse(line)])))
        return out

    def parse(self, line: str) -> Command:
        words = shlex.split(line)
        head, rest = words[0].upper(), words[1:]
        opts = {k: v for k, _, v in (w.partition("=") for w in rest if "=" in w)}
        flags = {w.lower() for w in rest if "=" not in w and not w.startswith("#")}
        label = next((w[1:] for w in rest if w.startswith("#")), None)
        instr = self.core.instrument_id(opts.get("instr", "TEST"))
        assert instr is not None
        if head in ("BUY", "SELL"):
            return self._parse_order(Side[head], rest, opts, flags, label, instr)
        if head == "CANCEL":
            oid = self.labels[label]
            return Cancel(int(opts.get("acct", self.owner[oid])), order_id=oid)
        if head == "AMEND":
            oid = self.labels[label]
            return Amend(
                int(opts.get("acct", self.owner[oid])), order_id=oid,
                price=paise(opts["price"]) if "price" in opts else 0,
                qty=int(opts.get("qty", 0)),
                trigger=paise(opts["trig"]) if "trig" in opts else 0,
                disclosed=int(opts.get("dq", -1)),
            )
        if head == "CANCEL_ALL":
            return CancelAll(int(opts["acct"]), instr if "instr" in opts else -1)
        if head == "PHASE":
            return SetPhase(instr, Phase[rest[0].upper()])
        return self._parse_account_command(head, rest, opts, flags, instr, line)

    def _parse_account_command(self, head: str, rest: list[str], opts: dict[str, str],
                               flags: set[str], instr: int, line: str) -> Command:
        def money(name: str) -> int:
            return paise(opts[name]) if name in opts else 0

        if head in ("DEPOSIT", "WITHDRAW"):
            cls = Deposit if head == "DEPOSIT" else Withdraw
            amount = next(w for w in rest if "=" not in w)
            return cls(int(opts["acct"]), paise(amount))
        if head == "LIMITS":
            return SetLimits(int(opts["acct"]), credit=money("credit"),
                             max_order_value=money("max_value"),
                             max_open_orders=int(opts.get("max_open", 0)),
                             max_long=int(opts.get("max_long", 0)),
                             max_short=int(opts.get("max_short", 0)),
                             rate_per_s=int(opts.get("rate", 0)))
        if head == "KILL":
            scope = KillScope[rest[0].upper()]
            target = instr if scope == KillScope.INSTRUMENT else int(opts.get("target", 0))
            return KillSwitch(scope, target, on="off" not in flags,
                              cancel_resting="cancel" in flags)
        if head == "MARK":
            return Mark()
        if head == "SQUARE_OFF":
            return SquareOff(Product[rest[0].upper()], instr if "instr" in opts else -1)
        if head == "EOD":
            return EndOfDay()
        raise ValueError(f"unknown command line: {line}")

    def _parse_order(self, side: Side, rest: list[str], opts: dict[str, str],
                     flags: set[str], label: str | None, instr: int) -> NewOrder:
        positional = [w for w in rest if "=" not in w and not w.startswith("#")]
        otype = next((TYPE_NAMES[w.upper()] for w in positional if w.upper() in TYPE_NAMES),
                     None)
        prices = [w for w in positional if w[0].isdigit()]
        qty = int(positional[positional.index("x") + 1])
        price = paise(prices[0]) if prices and prices[0] != str(qty) else 0
        if otype is None:
            otype = OrderType.LIMIT if price else OrderType.MARKET
        tif = (TimeInForce.IOC if "ioc" in flags else TimeInForce.FOK if "fok" in flags
               else TimeInForce.DAY)
        acct = int(opts.get("acct", 1))
        oid = self.sequencer.next_seq
        if label:
            self.labels[label] = oid
            self.names[oid] = label
        self.owner[oid] = acct
        return NewOrder(
            acct, instr, side, qty, price=price, type=otype, tif=tif,
            trigger=paise(opts["trig"]) if "trig" in opts else 0,
            disclosed=int(opts.get("dq", 0)), post_only="post" in flags,
            stp=STP_NAMES[opts["stp"]] if "stp" in opts else StpMode.DEFAULT,
            client_order_id=opts.get("cid", ""),
            product=next((Product[f.upper()] for f in flags if f.upper() in Product.__members__),
                         Product.MIS),
        )

    # --- rendering ----------------------------------------------------------------------------

    def name(self, oid: int) -> str:
        return "#" + self.names.get(oid, str(oid))

    def render(self, rows: np.ndarray) -> list[str]:
        return [self.render_event(e) for e in ev.decode(rows)]

    def render_event(self, e: ev.Event) -> str:
        match e:
            case ev.Accepted():
                price = rupees(e.price) if e.price else "MKT"
                return (f"ACCEPTED {self.name(e.order_id)} {e.side.name} {e.type.name} "
                        f"{price} x {e.qty}")
            case ev.Rejected():
                return f"REJECTED {self.name(e.order_id)} {e.code.name}"
            case ev.Traded():
                return (f"TRADE {e.qty} @ {rupees(e.price)} buy={self.name(e.buy_order_id)}"
                        f"({e.buy_leaves}) sell={self.name(e.sell_order_id)}({e.sell_leaves})")
            case ev.Cancelled():
                return f"CANCELLED {self.name(e.order_id)} {e.qty} {e.reason.name}"
            case ev.Expired():
                return f"EXPIRED {self.name(e.order_id)} {e.qty} {e.reason.name}"
            case ev.Amended():
                kept = "kept" if e.priority_kept else "lost"
                return (f"AMENDED {self.name(e.order_id)} {rupees(e.price)} x {e.qty} "
                        f"leaves={e.leaves} {kept}")
            case ev.Triggered():
                return f"TRIGGERED {self.name(e.order_id)} @ {rupees(e.price)}"
            case ev.Restated():
                return f"RESTATED {self.name(e.order_id)} @ {rupees(e.price)}"
            case ev.PhaseChanged():
                return f"PHASE {e.phase.name} from {e.previous.name} {e.reason.name}"
            case ev.BookChanged():
                return f"BOOK {e.side.name} {rupees(e.price)} {e.qty}/{e.orders}"
            case ev.AuctionResult():
                return f"AUCTION {rupees(e.price)} x {e.qty} imbalance={e.imbalance:+d}"
            case ev.LedgerPosted():
                return (f"LEDGER acct={e.account} {e.entry.name} {e.debit.name}->"
                        f"{e.credit.name} {rupees(e.amount)}")
            case ev.LimitsSet():
                return f"LIMITS acct={e.account}"
            case ev.MarginCall():
                state = "CALL" if e.in_call else "CLEARED"
                return (f"MARGIN_{state} acct={e.account} equity={rupees(e.equity)} "
                        f"maintenance={rupees(e.maintenance)}")
            case ev.KillSwitchSet():
                return f"KILL {e.scope.name} target={e.target} {'on' if e.on else 'off'}"
            case ev.DayClosed():
                return f"DAY_CLOSED {e.day} charged={e.accounts_charged}"
        return repr(e)

    def account(self, acct: int) -> str:
        """cash, blocked and margin of an account, in rupees."""
        state = self.core.risk.state()
        rows = [r for r in state.accounts.tolist() if r[0] == acct]
        if not rows:
            return "cash 0.00 blocked 0.00 margin 0.00"
        a = dict(zip(ACCOUNT_FIELDS, rows[0], strict=True))
        return (f"cash {rupees(a['cash'])} blocked {rupees(a['blocked'])} "
                f"margin {rupees(a['margin'])}")

    def position(self, acct: int, product: str = "MIS", symbol: str = "TEST") -> str:
        """net quantity, average price and realised P&L of a position."""
        instr = self.core.instrument_id(symbol)
        for r in self.core.risk.state().positions.tolist():
            p = dict(zip(POSITION_FIELDS, r, strict=True))
            if (p["acct"], p["instr"], p["product"]) == (acct, instr, Product[product]):
                avg = rupees(abs(p["basis"]) // abs(p["net"])) if p["net"] else "-"
                return f"net {p['net']} avg {avg} realised {rupees(p['realised'])}"
        return "none"

    def book(self, symbol: str = "TEST") -> list[str]:
        """The instrument's live orders: sells then buys from high to low price (FIFO
        within a level), then stops, then market orders waiting for the auction."""
        instr = self.core.instrument_id(symbol)
        rows = [dict(zip(ORDER_FIELDS, r, strict=True))
                for r in self.core.book.state().orders.tolist()]
        mine = [o for o in rows if o["instr"] == instr]
        lines: list[str] = []
        for side in (Side.SELL, Side.BUY):
            resting = [o for o in mine if o["state"] == ST_BOOK and o["side"] == side]
            for o in sorted(resting, key=lambda o: (-o["price"], o["prio"])):
                hidden = f" vis={o['visible']}" if o["visible"] != o["leaves"] else ""
                lines.append(f"{side.name} {rupees(o['price'])} x {o['leaves']} "
                             f"{self.name(o['oid'])}{hidden}")
        for o in (o for o in mine if o["state"] == ST_STOP):
            lines.append(f"STOP {Side(o['side']).name} trig={rupees(o['trigger'])} x "
                         f"{o['leaves']} {self.name(o['oid'])}")
        for o in (o for o in mine if o["state"] == ST_MARKET_QUEUE):
            lines.append(f"MKT {Side(o['side']).name} x {o['leaves']} {self.name(o['oid'])}")
        return lines


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.strip().splitlines() if line.strip()]


def lines(text: str) -> list[str]:
    return _lines(text)
