/**
 * A logged-in terminal session: the client, the account's feeds, the instruments and their
 * tickers. Created by the login screen; everything else reads it.
 */

import { AccountFeed, type Credentials, GridWorksClient, type Instrument, type KeyCredentials,
         type LoginResult, type SocketFactory } from "@gridworks/sdk";
import { TickerBoard } from "./tickers";

export interface Session {
  client: GridWorksClient;
  login: LoginResult;
  account: AccountFeed;
  instruments: Instrument[];
  bySymbol: Map<string, Instrument>;
  tickers: TickerBoard;
}

/** The API is on the port that served the page, unless `?server=ws://...` says otherwise. */
export function serverUrl(location: Location): string {
  const override = new URLSearchParams(location.search).get("server");
  if (override) return override;
  return `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/`;
}

export async function openSession(url: string, credentials: Credentials,
                                  socketFactory?: SocketFactory): Promise<Session> {
  const client = new GridWorksClient({
    url, credentials, orderIdPrefix: "web",
    now: () => performance.timeOrigin + performance.now(), // sub-millisecond latency readings
    ...(socketFactory ? { socketFactory } : {}),
  });
  try {
    const login = await withTimeout(client.connect(), CONNECT_TIMEOUT_MS,
                                    `cannot reach the server at ${url}`);
    if (!login) throw new Error("no login");
    const instruments = await client.request("instruments");
    const account = new AccountFeed(client, undefined, undefined, login.shards ?? []).start();
    const tickers = new TickerBoard(client).follow(instruments.map((i) => i.symbol));
    return { client, login, account, instruments, tickers,
             bySymbol: new Map(instruments.map((i) => [i.symbol, i])) };
  } catch (error) {
    client.close();
    throw error;
  }
}

/** How long the login screen waits for a first connection before saying so. */
export const CONNECT_TIMEOUT_MS = 8_000;

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(message)), ms);
    promise.then((value) => {
      clearTimeout(timer);
      resolve(value);
    }, (error: unknown) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

export function closeSession(session: Session): void {
  session.tickers.stop();
  session.account.stop();
  session.client.close();
}

const STORAGE_KEY = "gridworks.credentials";

/** Credentials kept for this browser tab only (sessionStorage), if the trader asked. */
export function savedCredentials(storage: Storage | undefined): KeyCredentials | null {
  try {
    const raw = storage?.getItem(STORAGE_KEY);
    const parsed = raw ? (JSON.parse(raw) as Partial<KeyCredentials>) : null;
    return parsed?.keyId && parsed.secret ? { keyId: parsed.keyId, secret: parsed.secret } : null;
  } catch {
    return null;
  }
}

export function saveCredentials(storage: Storage | undefined,
                                credentials: KeyCredentials | null): void {
  try {
    if (credentials) storage?.setItem(STORAGE_KEY, JSON.stringify(credentials));
    else storage?.removeItem(STORAGE_KEY);
  } catch {
    // storage may be unavailable (private mode); the session works without it
  }
}

/** A pasted credentials file (`{"key_id": ..., "secret": ...}`) as credentials. */
export function credentialsFromPaste(text: string): KeyCredentials | null {
  try {
    const value = JSON.parse(text) as { key_id?: unknown; secret?: unknown };
    if (typeof value.key_id === "string" && typeof value.secret === "string") {
      return { keyId: value.key_id, secret: value.secret };
    }
  } catch {
    // not JSON: an ordinary key id
  }
  return null;
}
