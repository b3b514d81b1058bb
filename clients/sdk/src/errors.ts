/** Errors the client raises: the server's refusals, a lost connection, an unknown outcome. */

import { ERRORS, type ErrorBody, type Order } from "./generated";

/** The server answered `ok: false`. `code` and `number` are stable; `message` is for people. */
export class ApiError extends Error {
  readonly code: string;
  readonly number: number;
  readonly detail: Record<string, unknown> | null;

  constructor(body: ErrorBody) {
    super(body.message || ERRORS[body.number]?.message || body.code);
    this.name = "ApiError";
    this.code = body.code;
    this.number = body.number;
    this.detail = body.detail ?? null;
  }
}

/** The connection closed (or the reply did not come in time) before a non-trading request
 * was answered. It had no effect that matters: queries and subscriptions can be repeated. */
export class ConnectionLostError extends Error {
  constructor(message = "the connection was lost before the reply") {
    super(message);
    this.name = "ConnectionLostError";
  }
}

/**
 * A trading request (amend, cancel, cancel_all, or a place that could not be settled) whose
 * outcome the client could not learn. The client has queried the order after reconnecting:
 * `order` is its state then (null when it is unknown to the server), so the caller can show
 * the truth instead of guessing. Nothing was sent again.
 */
export class OutcomeUnknownError extends Error {
  readonly order: Order | null;

  constructor(op: string, order: Order | null) {
    super(`the outcome of ${op} is unknown; the order's state was queried`);
    this.name = "OutcomeUnknownError";
    this.order = order;
  }
}

/** The client was closed by its owner, or gave up (a revoked or unknown key). */
export class ClientClosedError extends Error {
  constructor(message = "the client is closed") {
    super(message);
    this.name = "ClientClosedError";
  }
}
