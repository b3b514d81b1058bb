/** React views of the session's slow-moving state (never per tick). */

import type { ConnectionState, GridWorksClient } from "@gridworks/sdk";
import { useEffect, useRef, useState, useSyncExternalStore } from "react";
import type { Session } from "./session";

/** Re-render when the account's orders, fills, positions or funds change. */
export function useAccountVersion(session: Session): number {
  const version = useRef(0);
  const subscribe = (notify: () => void) => session.account.onChange(() => {
    version.current += 1;
    notify();
  });
  return useSyncExternalStore(subscribe, () => version.current);
}

/** Re-render at most every 250 ms while tickers move (for live P&L). */
export function useTickerVersion(session: Session): number {
  return useSyncExternalStore(session.tickers.subscribeVersion, session.tickers.getVersion);
}

export function useConnection(client: GridWorksClient): { state: ConnectionState; latencyMs: number | null } {
  const [state, setState] = useState<ConnectionState>(client.state);
  const [latencyMs, setLatency] = useState<number | null>(client.latencyMs);
  useEffect(() => {
    const offState = client.on("state", setState);
    const offLatency = client.on("latency", setLatency);
    return () => {
      offState();
      offLatency();
    };
  }, [client]);
  return { state, latencyMs };
}
