/**
 * A scripted stand-in for the GridWorks server, speaking the WebSocket API's JSON envelopes
 * over in-memory sockets. Tests decide what each operation answers, push channel messages
 * with chosen sequence numbers, and drop connections, to drive the client through gaps,
 * reconnects and lost replies deterministically (with vitest's fake timers).
 */

import { createHmac } from "node:crypto";
import type { SocketLike } from "../src/client";

export interface Sent {
  id: number | string;
  op: string;
  args: Record<string, unknown>;
}

type Answer = { result: unknown } | { error: { code: string; number: number; message?: string; detail?: unknown } } | "silent";
export type Handler = (request: Sent, socket: FakeSocket) => Answer | undefined;

export class FakeSocket implements SocketLike {
  onopen: ((event: unknown) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;
  readonly sent: Sent[] = [];
  closedByClient: { code?: number; reason?: string } | null = null;
  open = false;

  constructor(private readonly server: FakeServer, readonly url: string) {}

  send(data: string): void {
    if (!this.open) throw new Error("not open");
    const request = JSON.parse(data) as Sent;
    this.sent.push(request);
    this.server.receive(this, request);
  }

  close(code?: number, reason?: string): void {
    this.closedByClient = { code, reason };
    this.open = false;
  }

  // --- the server's side ---
  accept(): void {
    this.open = true;
    this.onopen?.({});
  }

  deliver(message: unknown): void {
    this.onmessage?.({ data: JSON.stringify(message) });
  }

  drop(code = 1006, reason = ""): void {
    this.open = false;
    this.onclose?.({ code, reason });
  }
}

export const KEY = { keyId: "gwk_0123456789abcdef01234567", secret: "s3cret-s3cret-s3cret" };
export const PASSWORD = "correct horse battery";

export class FakeServer {
  readonly sockets: FakeSocket[] = [];
  readonly handlers = new Map<string, Handler>();
  /** Channel -> current seq and snapshot data, for the default subscribe. */
  readonly channels = new Map<string, { seq: number; data: unknown }>();
  epoch = 1764146690123;
  acceptConnections = true;

  constructor() {
    this.handlers.set("login", (request) => {
      if ("username" in request.args) {
        return request.args.username === "asha" && request.args.password === PASSWORD
          ? { result: { account: 2, name: "demo", scopes: ["read", "trade", "withdraw"] } }
          : { error: { code: "BAD_PASSWORD", number: 4028 } };
      }
      const { key_id, timestamp, nonce, signature } = request.args as Record<string, string>;
      const expected = createHmac("sha256", KEY.secret).update(`${key_id}\n${timestamp}\n${nonce}`).digest("hex");
      if (key_id !== KEY.keyId) return { error: { code: "UNKNOWN_KEY", number: 4010 } };
      if (signature !== expected) return { error: { code: "BAD_SIGNATURE", number: 4007 } };
      return { result: { account: 2, name: "demo", scopes: ["read", "trade"] } };
    });
    this.handlers.set("ping", () => ({ result: { time: Date.now() * 1e6, seq: 1 } }));
    this.handlers.set("time", () => ({ result: { time: Date.now() * 1e6, seq: 1 } }));
    this.handlers.set("subscribe", (request, socket) => this.subscribe(request, socket));
    this.handlers.set("unsubscribe", (request) => ({ result: { unsubscribed: request.args.channels } }));
  }

  readonly factory = (url: string): SocketLike => {
    const socket = new FakeSocket(this, url);
    this.sockets.push(socket);
    if (this.acceptConnections) setTimeout(() => socket.accept(), 1);
    else setTimeout(() => socket.drop(1006, "refused"), 1);
    return socket;
  };

  get last(): FakeSocket {
    const socket = this.sockets.at(-1);
    if (!socket) throw new Error("no connection yet");
    return socket;
  }

  /** Every request with this op, over all connections, oldest first. */
  requests(op: string): Sent[] {
    return this.sockets.flatMap((s) => s.sent.filter((r) => r.op === op));
  }

  receive(socket: FakeSocket, request: Sent): void {
    const handler = this.handlers.get(request.op);
    const answer = handler ? handler(request, socket) : { error: { code: "UNKNOWN_OP", number: 4002 } };
    if (answer === undefined || answer === "silent") return;
    if ("result" in answer) socket.deliver({ id: request.id, ok: true, result: answer.result });
    else socket.deliver({ id: request.id, ok: false, error: { message: "", ...answer.error } });
  }

  /** Snapshots (or replays from `replay`) before the reply, as the server does. */
  private subscribe(request: Sent, socket: FakeSocket): Answer {
    const args = request.args as { channels: string[]; resume?: Record<string, number>; epoch?: number };
    const subscribed: Record<string, { seq: number; resumed: boolean; replayed?: number }> = {};
    for (const name of args.channels) {
      const channel = this.channels.get(name) ?? { seq: 0, data: [] };
      const from = args.epoch === this.epoch ? args.resume?.[name] : undefined;
      const kept = this.replay.get(name);
      if (from !== undefined && kept && kept.every((_, i) => kept[i]!.seq === from + 1 + i) && from + kept.length === channel.seq) {
        for (const m of kept) socket.deliver({ ch: name, seq: m.seq, ts: 1, data: m.data });
        subscribed[name] = { seq: channel.seq, resumed: true, replayed: kept.length };
      } else {
        socket.deliver({ ch: name, seq: channel.seq, ts: 1, data: channel.data, snapshot: true });
        subscribed[name] = { seq: channel.seq, resumed: false };
      }
    }
    return { result: { subscribed, epoch: this.epoch } };
  }

  /** What the next resume of a channel replays (messages after the client's seq). */
  readonly replay = new Map<string, { seq: number; data: unknown }[]>();

  push(socket: FakeSocket, channel: string, seq: number, data: unknown, snapshot = false): void {
    socket.deliver({ ch: channel, seq, ts: 2, data, ...(snapshot ? { snapshot: true } : {}) });
  }

  heartbeat(socket: FakeSocket, seqs: Record<string, number>, stale: string[] = []): void {
    socket.deliver({ ch: "heartbeat", seq: 1, ts: 3, data: { time: Date.now() * 1e6, epoch: this.epoch, seqs, stale } });
  }
}
