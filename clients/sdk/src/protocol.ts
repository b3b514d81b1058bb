/**
 * The envelopes of the WebSocket API and the results the server builds without a schema
 * type. Payload types are generated from the server (./generated.ts).
 */

import type { ErrorBody, SchemaOperations } from "./generated";

export type RequestId = number | string;

export interface Request {
  id: RequestId;
  op: string;
  args?: Record<string, unknown>;
}

export interface Reply {
  id: RequestId | null;
  ok: boolean;
  result?: unknown;
  error?: ErrorBody;
}

export interface Push<T = unknown> {
  ch: string;
  seq: number;
  ts: number;
  data: T;
  snapshot?: boolean;
}

export type ServerMessage = Reply | Push;

export function isReply(message: ServerMessage): message is Reply {
  return "ok" in message;
}

export type Scope = "read" | "trade" | "admin" | "withdraw";

export interface LoginResult {
  account: number;
  name: string;
  scopes: Scope[];
  /** With a password login: the user and its role. */
  user?: string;
  role?: string;
  /** Through a cluster's router: the shards, whose private channels come one per shard
   * (`orders.0`, `orders.1`, ...). */
  shards?: number[];
}

export interface TimeResult {
  time: number;
  seq: number;
}

export interface Instrument {
  symbol: string;
  name: string;
  segment: "EQ" | "FUT" | string;
  tick: number;
  lot: number;
  freeze_qty: number;
  ref_price: number;
  band: [number, number];
  products: string[];
  phase: "CLOSED" | "PRE_OPEN" | "CONTINUOUS" | "HALTED" | string;
}

export interface SubscribedChannel {
  seq: number;
  resumed: boolean;
  replayed?: number;
}

export interface SubscribeResult {
  subscribed: Record<string, SubscribedChannel>;
  epoch: number;
}

export interface UnsubscribeResult {
  unsubscribed: string[];
}

export interface CancelAllResult {
  cancelled: number[];
}

export interface Heartbeat {
  time: number;
  epoch: number;
  seqs: Record<string, number>;
  stale: string[];
}

export type SystemNotice =
  | { shutdown: { reconnect_after_ms: number } }
  | { warning: ErrorBody & { detail?: { queued_bytes?: number } } }
  | { logout: string };

/** Results the generated table leaves `unknown`, filled in from docs/websocket-api.md. */
interface KnownResults {
  login: LoginResult;
  ping: TimeResult;
  time: TimeResult;
  instruments: Instrument[];
  subscribe: SubscribeResult;
  unsubscribe: UnsubscribeResult;
  cancel_all: CancelAllResult;
}

export type Operations = {
  [Op in keyof SchemaOperations]: {
    args: SchemaOperations[Op]["args"];
    result: Op extends keyof KnownResults ? KnownResults[Op] : SchemaOperations[Op]["result"];
  };
};

export type OpName = keyof Operations;
export type ArgsOf<Op extends OpName> = Operations[Op]["args"];
export type ResultOf<Op extends OpName> = Operations[Op]["result"];

export const PRIVATE_CHANNELS = ["orders", "fills", "positions", "funds"] as const;
export type PrivateChannel = (typeof PRIVATE_CHANNELS)[number];

export function isPrivateChannel(channel: string): channel is PrivateChannel {
  return (PRIVATE_CHANNELS as readonly string[]).includes(channel);
}

export const TRADING_OPS = ["place", "amend", "cancel", "cancel_all"] as const;
export type TradingOp = (typeof TRADING_OPS)[number];

export function isTradingOp(op: string): op is TradingOp {
  return (TRADING_OPS as readonly string[]).includes(op);
}
