/**
 * One WebSocket connection to GridWorks that stays up: it logs in, follows channels with
 * gapless sequence numbers, reconnects with backoff, resumes every channel where it left
 * off, and settles trading requests whose replies were lost by asking the server.
 *
 * Invariants:
 * - A handler sees a channel's messages in order and without gaps: a snapshot, then the
 *   updates seq + 1, seq + 2, ... A gap (seen in the stream or in a heartbeat) makes the client
 *   resubscribe with the last seq it applied; the server replays or sends a snapshot.
 * - A trading request is sent at most once by the caller's call. When its reply is lost (the
 *   connection dropped, the reply timed out, or the server said OUTCOME_UNKNOWN), the client
 *   queries the order after reconnecting; only a `place` the server has never seen is sent
 *   again, with the same client order id, which the server can never execute twice.
 * - Requests made while the connection is down wait until it is up again (logged in and
 *   resubscribed); nothing is sent on a connection that has not finished its login.
 */

import { Backoff, type BackoffOptions, DEFAULT_BACKOFF } from "./backoff";
import { ChannelState } from "./channel";
import { ApiError, ClientClosedError, ConnectionLostError, OutcomeUnknownError } from "./errors";
import type { AmendArgs, ErrorBody, Order, OrderRef, Outcome, PlaceArgs } from "./generated";
import { ERRORS } from "./generated";
import {
  type ArgsOf, type Heartbeat, type LoginResult, type OpName, type Push, type Reply,
  type RequestId, type ResultOf, type ServerMessage, type SystemNotice, isPrivateChannel,
  isReply, isTradingOp,
} from "./protocol";
import { type Credentials, isPasswordCredentials, newClientOrderId, randomNonce, signLogin } from "./signing";

/** The part of the WebSocket interface the client uses (browser, Node, React Native). */
export interface SocketLike {
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
}

export type SocketFactory = (url: string) => SocketLike;

export type ConnectionState =
  | "idle" // not started
  | "connecting" // opening the socket
  | "authenticating" // logging in and resubscribing
  | "ready" // requests flow
  | "reconnecting" // waiting for the next attempt
  | "closed"; // stopped by close(), or gave up (a key the server refuses)

export interface ClientOptions {
  url: string;
  credentials?: Credentials;
  socketFactory?: SocketFactory;
  /** Non-trading requests fail with ConnectionLostError after this long (default 10 s). */
  requestTimeoutMs?: number;
  /** A trading reply later than this is settled by querying the order (default 15 s). */
  tradingTimeoutMs?: number;
  /** With no message at all for this long the connection is taken for dead (default 5 s;
   * the server sends a heartbeat every second). */
  silenceTimeoutMs?: number;
  /** How long opening the socket may take (default 10 s). */
  connectTimeoutMs?: number;
  /** Latency probes (`ping`) while ready; 0 turns them off (default 2 s). */
  pingIntervalMs?: number;
  backoff?: BackoffOptions;
  /** A `place` whose outcome was lost and that the server does not know is sent again with
   * the same client order id (default true; safe: the server refuses a second execution). */
  retryUnknownPlaces?: boolean;
  /** Prefix of generated client order ids (default "sdk"). */
  orderIdPrefix?: string;
  /** Sources of time and randomness, replaceable for tests and other platforms. */
  now?: () => number;
  random?: () => number;
  nonce?: () => string;
}

export interface ChannelMessage<T = unknown> {
  channel: string;
  seq: number;
  ts: number;
  data: T;
  snapshot: boolean;
}

export type ChannelHandler<T = unknown> = (message: ChannelMessage<T>) => void;

export interface Subscription {
  readonly channel: string;
  unsubscribe(): void;
}

export type ResyncReason = "gap" | "heartbeat" | "checksum" | "handler";

export interface ClientEvents {
  state: ConnectionState;
  login: LoginResult;
  latency: number;
  heartbeat: Heartbeat;
  stale: string[];
  system: SystemNotice;
  resync: { channel: string; reason: ResyncReason };
  error: Error;
}

/** A place outcome; `recovered` when it was learned by querying after a lost reply (then
 * `filled` and `cancelled` are the order's totals, not only this command's). */
export type PlaceOutcome = Outcome & { recovered?: boolean };

export type PlaceRequest = Omit<PlaceArgs, "client_order_id"> & { client_order_id?: string };

interface Pending {
  id: RequestId;
  op: OpName;
  args: Record<string, unknown>;
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
  timer: unknown;
}

interface Waiting {
  run: () => void;
  fail: (error: Error) => void;
}

interface ChannelEntry {
  name: string;
  state: ChannelState;
  handlers: Set<ChannelHandler>;
  errorHandlers: Set<(error: ApiError) => void>;
}

const FATAL_LOGIN_CODES = new Set(["BAD_SIGNATURE", "UNKNOWN_KEY", "INVALID_ARGS", "BAD_PASSWORD",
                                   "IP_NOT_ALLOWED"]);
const CLOSE_REVOKED = 4010;
const CLOSE_SILENT = 4000;
const SUBSCRIBE_CHUNK = 200;

export class GridWorksClient {
  private readonly options: Required<Omit<ClientOptions, "credentials" | "socketFactory">> & {
    credentials: Credentials | undefined;
    socketFactory: SocketFactory;
  };
  private socket: SocketLike | null = null;
  private current: ConnectionState = "idle";
  private nextId = 1;
  private readonly pending = new Map<RequestId, Pending>();
  private waiting: Waiting[] = [];
  private inDoubt: Pending[] = [];
  private readonly channels = new Map<string, ChannelEntry>();
  private toSubscribe = new Set<string>();
  private subscribeScheduled = false;
  private currentEpoch = 0;
  private currentSession: LoginResult | null = null;
  private clockOffsetMs = 0;
  private readonly backoff: Backoff;
  private timers: unknown[] = [];
  private lastMessageAt = 0;
  private reconnectAfterMs: number | null = null;
  private fatal: Error | null = null;
  private readonly listeners = new Map<keyof ClientEvents, Set<(value: never) => void>>();
  private lastLatencyMs: number | null = null;

  constructor(options: ClientOptions) {
    const random = options.random ?? Math.random;
    this.options = {
      requestTimeoutMs: 10_000,
      tradingTimeoutMs: 15_000,
      silenceTimeoutMs: 5_000,
      connectTimeoutMs: 10_000,
      pingIntervalMs: 2_000,
      backoff: DEFAULT_BACKOFF,
      retryUnknownPlaces: true,
      orderIdPrefix: "sdk",
      now: () => Date.now(),
      random,
      nonce: () => randomNonce(),
      ...options,
      credentials: options.credentials,
      socketFactory: options.socketFactory ?? defaultSocketFactory,
    };
    this.backoff = new Backoff(this.options.backoff, random);
  }

  // --- life cycle ------------------------------------------------------------------------------

  get state(): ConnectionState {
    return this.current;
  }

  /** The login of the current connection (null before it, or without credentials). */
  get session(): LoginResult | null {
    return this.currentSession;
  }

  /** The server run the channels' sequence numbers belong to (0 before the first reply). */
  get epoch(): number {
    return this.currentEpoch;
  }

  /** The last measured round trip of a `ping`, ms. */
  get latencyMs(): number | null {
    return this.lastLatencyMs;
  }

  /** Server clock minus this clock, ms, as last measured. */
  get clockOffset(): number {
    return this.clockOffsetMs;
  }

  /** Start (or keep) the connection; resolves once it is ready the first time. */
  connect(): Promise<LoginResult | null> {
    if (this.current === "closed") return Promise.reject(this.fatal ?? new ClientClosedError());
    const ready = this.whenReady(() => this.currentSession);
    if (this.current === "idle") this.open();
    return ready;
  }

  /** Close for good: pending and waiting requests fail with ClientClosedError. */
  close(): void {
    if (this.current === "closed") return;
    this.shutDown(new ClientClosedError());
  }

  on<E extends keyof ClientEvents>(event: E, listener: (value: ClientEvents[E]) => void): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(listener as (value: never) => void);
    return () => set.delete(listener as (value: never) => void);
  }

  // --- requests --------------------------------------------------------------------------------

  /** Any operation, once the connection is ready. */
  request<Op extends OpName>(op: Op, args?: ArgsOf<Op>): Promise<ResultOf<Op>> {
    const plain = { ...(args ?? {}) } as Record<string, unknown>;
    return this.whenReady(() => this.send(op, plain)) as Promise<ResultOf<Op>>;
  }

  /** Place an order; a client order id is generated unless given (it is in the outcome). */
  place(order: PlaceRequest): Promise<PlaceOutcome> {
    const args = { ...order, client_order_id: order.client_order_id ?? this.newClientOrderId() };
    return this.request("place", args as PlaceArgs);
  }

  amend(args: AmendArgs): Promise<Outcome> {
    return this.request("amend", args);
  }

  cancel(ref: OrderRef): Promise<Outcome> {
    return this.request("cancel", ref);
  }

  cancelAll(symbol?: string): Promise<ResultOf<"cancel_all">> {
    return this.request("cancel_all", symbol ? { symbol } : {});
  }

  /** The order, or null when the server knows no such order. */
  async order(ref: OrderRef): Promise<Order | null> {
    try {
      return await this.request("order", ref);
    } catch (error) {
      if (error instanceof ApiError && error.number === ERROR_ORDER_UNKNOWN) return null;
      throw error;
    }
  }

  newClientOrderId(): string {
    return newClientOrderId(this.options.orderIdPrefix);
  }

  // --- channels --------------------------------------------------------------------------------

  /**
   * Follow a channel. The handler gets a snapshot first, then every update in order. A second
   * handler on a followed channel makes the server send a fresh snapshot (to every handler of
   * the channel: a snapshot replaces state, so that is harmless).
   */
  subscribe<T = unknown>(channel: string, handler: ChannelHandler<T>,
                         onError?: (error: ApiError) => void): Subscription {
    let entry = this.channels.get(channel);
    const fresh = entry === undefined;
    if (!entry) {
      entry = { name: channel, state: new ChannelState(), handlers: new Set(), errorHandlers: new Set() };
      this.channels.set(channel, entry);
    }
    entry.handlers.add(handler as ChannelHandler);
    if (onError) entry.errorHandlers.add(onError);
    if (fresh) this.queueSubscribe(channel);
    else if (entry.state.last >= 0) this.resync(channel, "snapshot", "handler");
    const target = entry;
    return {
      channel,
      unsubscribe: () => {
        target.handlers.delete(handler as ChannelHandler);
        if (onError) target.errorHandlers.delete(onError);
        if (target.handlers.size === 0 && this.channels.get(channel) === target) {
          this.channels.delete(channel);
          this.toSubscribe.delete(channel);
          if (this.current === "ready") this.send("unsubscribe", { channels: [channel] }).catch(() => {});
        }
      },
    };
  }

  /** Seq of the last message applied on a channel (-1 before its first snapshot). */
  channelSeq(channel: string): number {
    return this.channels.get(channel)?.state.last ?? -1;
  }

  /**
   * Ask the server again for a channel: from the last applied seq (`resume`: the server
   * replays what is missing, or sends a snapshot) or a fresh `snapshot` (after a depth
   * checksum failure, say). Updates wait meanwhile.
   */
  resync(channel: string, mode: "resume" | "snapshot", reason: ResyncReason): void {
    const entry = this.channels.get(channel);
    if (!entry) return;
    if (mode === "snapshot") entry.state.discard();
    if (entry.state.resyncing && mode === "resume") return;
    this.emit("resync", { channel, reason });
    if (this.current !== "ready") return; // the next handshake resubscribes everything
    entry.state.resyncing = true;
    const resume = entry.state.resumePoint();
    this.send("subscribe", {
      channels: [channel],
      ...(resume !== undefined ? { resume: { [channel]: resume }, epoch: this.currentEpoch } : {}),
    }).then((result) => {
      this.currentEpoch = (result as ResultOf<"subscribe">).epoch;
    }, (error: Error) => this.channelFailed([channel], error)).finally(() => {
      entry.state.resyncing = false;
    });
  }

  // --- connection ------------------------------------------------------------------------------

  private open(): void {
    this.setState("connecting");
    let socket: SocketLike;
    try {
      socket = this.options.socketFactory(this.options.url);
    } catch (error) {
      this.emit("error", error instanceof Error ? error : new Error(String(error)));
      this.scheduleReconnect();
      return;
    }
    this.socket = socket;
    this.lastMessageAt = this.options.now();
    const opening = this.later(this.options.connectTimeoutMs, () => {
      if (this.socket === socket && this.current === "connecting") this.dropSocket(CLOSE_SILENT, "connect timeout");
    });
    socket.onopen = () => {
      if (this.socket !== socket) return;
      clearTimer(opening);
      void this.handshake(socket);
    };
    socket.onmessage = (event) => {
      if (this.socket === socket) this.receive(event.data);
    };
    socket.onerror = () => {};
    socket.onclose = (event) => {
      if (this.socket === socket) this.lost(event.code, event.reason);
    };
  }

  private async handshake(socket: SocketLike): Promise<void> {
    this.setState("authenticating");
    this.watchSilence(socket);
    try {
      this.currentSession = this.options.credentials ? await this.login(this.options.credentials) : null;
      if (this.socket !== socket) return;
      if (this.currentSession) this.emit("login", this.currentSession);
      await this.resubscribeAll();
      if (this.socket !== socket) return;
    } catch (error) {
      if (this.socket !== socket) return;
      if (error instanceof ApiError && FATAL_LOGIN_CODES.has(error.code)) {
        this.shutDown(error);
      } else {
        this.dropSocket(CLOSE_SILENT, "handshake failed");
      }
      return;
    }
    this.backoff.reset();
    this.setState("ready");
    this.flushSubscribes(); // channels followed during the handshake
    const waiting = this.waiting;
    this.waiting = [];
    for (const w of waiting) w.run();
    const doubtful = this.inDoubt;
    this.inDoubt = [];
    for (const p of doubtful) void this.settle(p);
    this.startPings(socket);
  }

  /** Log in; a clock too far from the server's is corrected once, a nonce reused by chance
   * is replaced once. */
  private async login(credentials: Credentials): Promise<LoginResult> {
    if (isPasswordCredentials(credentials)) {
      const args = { username: credentials.username, password: credentials.password };
      return (await this.send("login", args)) as LoginResult;
    }
    for (let attempt = 0; ; attempt++) {
      const args = signLogin(credentials, Math.round(this.options.now() + this.clockOffsetMs),
                             this.options.nonce());
      try {
        return (await this.send("login", args as unknown as Record<string, unknown>)) as LoginResult;
      } catch (error) {
        if (attempt > 0 || !(error instanceof ApiError)) throw error;
        if (error.code === "STALE_SIGNATURE") {
          const sentAt = this.options.now();
          const { time } = (await this.send("time", {})) as ResultOf<"time">;
          this.clockOffsetMs = time / 1e6 - (sentAt + this.options.now()) / 2;
        } else if (error.code !== "REPLAYED_NONCE") {
          throw error;
        }
      }
    }
  }

  private async resubscribeAll(): Promise<void> {
    this.toSubscribe.clear();
    const names = [...this.channels.keys()];
    for (let i = 0; i < names.length; i += SUBSCRIBE_CHUNK) {
      await this.subscribeNow(names.slice(i, i + SUBSCRIBE_CHUNK));
    }
  }

  private queueSubscribe(channel: string): void {
    this.toSubscribe.add(channel);
    if (this.current === "idle" || this.subscribeScheduled) return;
    this.subscribeScheduled = true;
    void Promise.resolve().then(() => {
      this.subscribeScheduled = false;
      if (this.current === "ready") this.flushSubscribes(); // else the handshake does it
    });
  }

  /** Subscribe the channels followed since the last subscribe went out. */
  private flushSubscribes(): void {
    const names = [...this.toSubscribe];
    this.toSubscribe.clear();
    for (let i = 0; i < names.length; i += SUBSCRIBE_CHUNK) {
      this.subscribeNow(names.slice(i, i + SUBSCRIBE_CHUNK)).catch(() => {});
    }
  }

  /** One `subscribe` for channels, resuming those with a usable seq. */
  private async subscribeNow(names: string[]): Promise<void> {
    const live = names.filter((name) => this.channels.has(name));
    if (live.length === 0) return;
    const resume: Record<string, number> = {};
    for (const name of live) {
      const entry = this.channels.get(name)!;
      entry.state.resyncing = true;
      const point = entry.state.resumePoint();
      if (point !== undefined) resume[name] = point;
    }
    const args: Record<string, unknown> = { channels: live };
    if (Object.keys(resume).length && this.currentEpoch) {
      args.resume = resume;
      args.epoch = this.currentEpoch;
    }
    try {
      const result = (await this.send("subscribe", args)) as ResultOf<"subscribe">;
      this.currentEpoch = result.epoch;
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      this.channelFailed(live, error);
      const rest = live.filter((name) => this.channels.has(name));
      if (rest.length && rest.length < live.length) await this.subscribeNow(rest);
    } finally {
      for (const name of live) {
        const entry = this.channels.get(name);
        if (entry) entry.state.resyncing = false;
      }
    }
  }

  /** A refused subscription: the channel the error names (or all of them) is dropped and
   * its error handlers told. */
  private channelFailed(names: string[], error: Error): void {
    if (!(error instanceof ApiError)) return;
    const named = error.detail?.channel;
    const failed = typeof named === "string" && names.includes(named) ? [named] : names;
    for (const name of failed) {
      const entry = this.channels.get(name);
      if (!entry) continue;
      this.channels.delete(name);
      for (const handler of entry.errorHandlers) handler(error);
    }
    this.emit("error", error);
  }

  private lost(code: number, reason: string): void {
    this.socket = null;
    this.clearTimers();
    for (const p of [...this.pending.values()]) {
      clearTimer(p.timer);
      this.pending.delete(p.id);
      if (isTradingOp(p.op)) this.inDoubt.push(p);
      else p.reject(new ConnectionLostError());
    }
    for (const entry of this.channels.values()) entry.state.resyncing = false;
    if (this.current === "closed") return;
    if (code === CLOSE_REVOKED || this.fatal) {
      this.shutDown(this.fatal ?? new ApiError({ code: reason || "API_KEY_REVOKED", number: CLOSE_REVOKED,
                                                 message: "the API key was revoked" }));
      return;
    }
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    this.setState("reconnecting");
    const delay = this.reconnectAfterMs ?? this.backoff.next();
    this.reconnectAfterMs = null;
    this.later(delay, () => {
      if (this.current === "reconnecting") this.open();
    });
  }

  /** Close the socket now and carry on as if the server had closed it. */
  private dropSocket(code: number, reason: string): void {
    const socket = this.socket;
    if (!socket) return;
    detach(socket);
    try {
      socket.close(code, reason);
    } catch {
      // already closing
    }
    this.lost(code, reason);
  }

  private shutDown(error: Error): void {
    this.fatal = error;
    this.setState("closed");
    const socket = this.socket;
    this.socket = null;
    this.clearTimers();
    if (socket) {
      detach(socket);
      try {
        socket.close(1000, "client closed");
      } catch {
        // already closing
      }
    }
    for (const p of this.pending.values()) {
      clearTimer(p.timer);
      p.reject(error);
    }
    this.pending.clear();
    for (const p of this.inDoubt) p.reject(error);
    this.inDoubt = [];
    for (const w of this.waiting) w.fail(error);
    this.waiting = [];
    if (!(error instanceof ClientClosedError)) this.emit("error", error);
  }

  private watchSilence(socket: SocketLike): void {
    const check = () => {
      if (this.socket !== socket) return;
      if (this.options.now() - this.lastMessageAt > this.options.silenceTimeoutMs) {
        this.dropSocket(CLOSE_SILENT, "no messages from the server");
        return;
      }
      this.later(Math.max(250, this.options.silenceTimeoutMs / 4), check);
    };
    this.later(Math.max(250, this.options.silenceTimeoutMs / 4), check);
  }

  private startPings(socket: SocketLike): void {
    if (!this.options.pingIntervalMs) return;
    const probe = () => {
      if (this.socket !== socket || this.current !== "ready") return;
      const sentAt = this.options.now();
      this.send("ping", {}).then((result) => {
        const back = this.options.now();
        this.lastLatencyMs = back - sentAt;
        this.clockOffsetMs = (result as ResultOf<"ping">).time / 1e6 - (sentAt + back) / 2;
        this.emit("latency", this.lastLatencyMs);
      }, () => {});
      this.later(this.options.pingIntervalMs, probe);
    };
    probe();
  }

  // --- frames ----------------------------------------------------------------------------------

  private send(op: OpName, args: Record<string, unknown>): Promise<unknown> {
    const socket = this.socket;
    if (!socket) return Promise.reject(new ConnectionLostError("not connected"));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const trading = isTradingOp(op);
      const pending: Pending = { id, op, args, resolve, reject, timer: undefined };
      pending.timer = this.later(trading ? this.options.tradingTimeoutMs : this.options.requestTimeoutMs, () => {
        if (this.pending.get(id) !== pending) return;
        this.pending.delete(id);
        if (trading) void this.settle(pending);
        else reject(new ConnectionLostError(`no reply to ${op} in time`));
      });
      this.pending.set(id, pending);
      try {
        socket.send(JSON.stringify({ id, op, args }));
      } catch (error) {
        // a socket that cannot send is closing: the close handler settles this request
        this.emit("error", error instanceof Error ? error : new Error(String(error)));
      }
    });
  }

  private receive(raw: unknown): void {
    this.lastMessageAt = this.options.now();
    let decoded: unknown;
    try {
      decoded = JSON.parse(typeof raw === "string" ? raw : String(raw));
    } catch {
      this.emit("error", new Error("the server sent a frame that is not JSON"));
      return;
    }
    for (const message of Array.isArray(decoded) ? decoded : [decoded]) {
      if (message === null || typeof message !== "object") continue;
      const m = message as ServerMessage;
      if (isReply(m)) this.onReply(m);
      else this.onPush(m);
    }
  }

  private onReply(reply: Reply): void {
    const pending = reply.id === null ? undefined : this.pending.get(reply.id);
    if (!pending) {
      if (!reply.ok && reply.error) this.emit("error", new ApiError(reply.error));
      return;
    }
    this.pending.delete(pending.id);
    clearTimer(pending.timer);
    if (reply.ok) {
      pending.resolve(reply.result);
    } else if (reply.error?.code === "OUTCOME_UNKNOWN" && isTradingOp(pending.op)) {
      void this.settle(pending);
    } else {
      pending.reject(new ApiError(reply.error ?? { code: "INTERNAL_ERROR", number: 4022, message: "no error body" }));
    }
  }

  private onPush(push: Push): void {
    if (push.ch === "heartbeat") {
      this.onHeartbeat(push.data as Heartbeat);
      return;
    }
    if (push.ch === "system") {
      this.onSystem(push.data as SystemNotice);
      return;
    }
    const entry = this.channels.get(push.ch);
    if (!entry) return;
    const snapshot = push.snapshot === true;
    const verdict = entry.state.accept(push.seq, snapshot);
    if (verdict === "snapshot" || verdict === "apply") {
      const message: ChannelMessage = { channel: push.ch, seq: push.seq, ts: push.ts, data: push.data, snapshot };
      for (const handler of entry.handlers) {
        try {
          handler(message);
        } catch (error) {
          // one broken handler must not starve the others or the rest of the frame
          this.emit("error", error instanceof Error ? error : new Error(String(error)));
        }
      }
    } else if (verdict === "gap") {
      this.resync(push.ch, "resume", "gap");
    }
  }

  private onHeartbeat(beat: Heartbeat): void {
    this.emit("heartbeat", beat);
    if (beat.stale) this.emit("stale", beat.stale);
    for (const [name, seq] of Object.entries(beat.seqs ?? {})) {
      const entry = this.channels.get(name);
      if (!entry || entry.state.resyncing || entry.state.last < 0 || entry.state.awaitingSnapshot) continue;
      if (seq <= entry.state.last) {
        entry.state.behindBeats = 0;
        continue;
      }
      // Private channels are never conflated, so being behind means lost messages; a public
      // channel may be behind because a conflation snapshot is on its way: give it a beat.
      entry.state.behindBeats += 1;
      if (isPrivateChannel(name) || entry.state.behindBeats >= 2) this.resync(name, "resume", "heartbeat");
    }
  }

  private onSystem(notice: SystemNotice): void {
    this.emit("system", notice);
    if ("shutdown" in notice) this.reconnectAfterMs = notice.shutdown.reconnect_after_ms;
    if ("logout" in notice) {
      this.fatal = new ApiError({ code: notice.logout, number: CLOSE_REVOKED, message: "logged out by the server" });
    }
  }

  // --- unknown outcomes ------------------------------------------------------------------------

  /** Find out what became of a trading request whose reply was lost, and settle it. */
  private async settle(p: Pending): Promise<void> {
    if (this.current !== "ready") {
      this.inDoubt.push(p);
      return;
    }
    try {
      if (p.op === "place") await this.settlePlace(p);
      else if (p.op === "amend" || p.op === "cancel") {
        p.reject(new OutcomeUnknownError(p.op, await this.order(orderRef(p.args))));
      } else {
        p.reject(new OutcomeUnknownError(p.op, null));
      }
    } catch (error) {
      if (error instanceof ConnectionLostError && this.state !== "closed") this.inDoubt.push(p);
      else p.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }

  private async settlePlace(p: Pending): Promise<void> {
    const ref = { client_order_id: String(p.args.client_order_id) };
    let order = await this.order(ref);
    if (order === null && this.options.retryUnknownPlaces) {
      try {
        p.resolve(await this.request("place", p.args as unknown as PlaceArgs));
        return;
      } catch (error) {
        if (!(error instanceof ApiError) || error.code !== "DUPLICATE_CLIENT_ORDER_ID") throw error;
        order = await this.order(ref); // the first attempt did arrive after all
      }
    }
    if (order === null) p.reject(new OutcomeUnknownError("place", null));
    else if (order.status === "REJECTED") p.reject(rejection(order));
    else p.resolve(outcomeOf(order));
  }

  // --- plumbing --------------------------------------------------------------------------------

  private whenReady<T>(run: () => T | Promise<T>): Promise<T> {
    if (this.current === "closed") return Promise.reject(this.fatal ?? new ClientClosedError());
    if (this.current === "ready") return Promise.resolve().then(run);
    return new Promise<T>((resolve, reject) => {
      this.waiting.push({ run: () => {
        try {
          resolve(run());
        } catch (error) {
          reject(error);
        }
      }, fail: reject });
    });
  }

  private setState(state: ConnectionState): void {
    if (this.current === state) return;
    this.current = state;
    this.emit("state", state);
  }

  private emit<E extends keyof ClientEvents>(event: E, value: ClientEvents[E]): void {
    for (const listener of this.listeners.get(event) ?? []) {
      (listener as (v: ClientEvents[E]) => void)(value);
    }
  }

  private later(ms: number, run: () => void): unknown {
    const handle = globalTimers().setTimeout(() => {
      this.timers = this.timers.filter((t) => t !== handle);
      run();
    }, ms);
    this.timers.push(handle);
    return handle;
  }

  private clearTimers(): void {
    for (const handle of this.timers) clearTimer(handle);
    this.timers = [];
  }
}

const ERROR_ORDER_UNKNOWN = 4016;

function orderRef(args: Record<string, unknown>): OrderRef {
  const id = Number(args.order_id ?? 0);
  return id > 0 ? { order_id: id } : { client_order_id: String(args.client_order_id ?? "") };
}

function outcomeOf(order: Order): PlaceOutcome {
  return {
    order_id: order.order_id,
    status: order.status as Outcome["status"],
    filled: order.filled,
    leaves: order.leaves,
    cancelled: order.qty - order.filled - order.leaves,
    client_order_id: order.client_order_id,
    recovered: true,
  };
}

function rejection(order: Order): ApiError {
  const numbers = Object.entries(ERRORS).filter(([, e]) => e.code === order.reason).map(([n]) => Number(n));
  const number = numbers.find((n) => n < 4000) ?? numbers[0] ?? 0;
  const body: ErrorBody = {
    code: order.reason, number, message: ERRORS[number]?.message ?? order.reason,
    detail: { order_id: order.order_id, client_order_id: order.client_order_id },
  };
  return new ApiError(body);
}

function detach(socket: SocketLike): void {
  socket.onopen = null;
  socket.onmessage = null;
  socket.onclose = null;
  socket.onerror = null;
}

interface TimerApi {
  setTimeout(run: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** Looked up at every call, so test clocks that replace the globals are honoured. */
function globalTimers(): TimerApi {
  return globalThis as unknown as TimerApi;
}

function clearTimer(handle: unknown): void {
  if (handle !== undefined) globalTimers().clearTimeout(handle);
}

function defaultSocketFactory(url: string): SocketLike {
  const WebSocketClass = (globalThis as { WebSocket?: new (url: string) => SocketLike }).WebSocket;
  if (!WebSocketClass) throw new Error("no WebSocket on this platform: pass socketFactory");
  return new WebSocketClass(url);
}
