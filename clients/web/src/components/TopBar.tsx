import { formatPaise, unrealisedAt } from "@gridworks/sdk";
import { useAccountVersion, useConnection, useTickerVersion } from "../lib/hooks";
import type { Session } from "../lib/session";

const STATE_LABEL = {
  idle: "Offline", connecting: "Connecting", authenticating: "Logging in", ready: "Live",
  reconnecting: "Reconnecting", closed: "Disconnected",
} as const;

export function TopBar({ session, onLogout }: { session: Session; onLogout: () => void }) {
  useAccountVersion(session);
  useTickerVersion(session);
  const { state, latencyMs } = useConnection(session.client);
  const funds = session.account.funds;
  const dayPnl = session.account.positions.reduce(
    (sum, p) => sum + p.realised + unrealisedAt(p, session.tickers.mark(p.symbol)), 0);

  return (
    <header className="topbar">
      <div className="brand"><span className="logo" aria-hidden="true" />GridWorks</div>
      <div className="stats">
        <Stat label="Buying power" value={funds ? formatPaise(funds.buying_power) : "—"} testId="buying-power" />
        <Stat label="Margin used" value={funds ? formatPaise(funds.margin + funds.blocked) : "—"} />
        <Stat label="P&L" value={formatPaise(dayPnl, { sign: true })} tone={dayPnl} testId="day-pnl" />
      </div>
      <div className="shortcuts muted" aria-hidden="true"><kbd>F1</kbd> Buy <kbd>F2</kbd> Sell <kbd>Esc</kbd> Close</div>
      <div className={`connection ${state}`} data-testid="connection" title="Connection and round trip">
        <span className="dot" />
        {STATE_LABEL[state]}
        {state === "ready" && latencyMs !== null && <span className="latency" data-testid="latency">{latencyMs < 10 ? latencyMs.toFixed(1) : latencyMs.toFixed(0)} ms</span>}
      </div>
      <div className="user">
        <span>{session.login.user ? `${session.login.user} · ${session.login.name}` : session.login.name}</span>
        <button type="button" className="ghost" onClick={onLogout}>Log out</button>
      </div>
    </header>
  );
}

function Stat({ label, value, tone, testId }: { label: string; value: string; tone?: number; testId?: string }) {
  const toneClass = tone === undefined || tone === 0 ? "" : tone > 0 ? "up" : "down";
  return (
    <div className="stat">
      <span className="muted">{label}</span>
      <span className={`value ${toneClass}`} data-testid={testId}>{value}</span>
    </div>
  );
}
