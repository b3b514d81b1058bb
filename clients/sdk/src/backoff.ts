/** Reconnect delays: exponential with a cap and full jitter around the nominal delay. */

export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  factor: number;
  /** 0 = exact delays; 0.2 = each delay drawn from ±20% around the nominal one. */
  jitter: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 250, maxMs: 10_000, factor: 2, jitter: 0.2 };

export class Backoff {
  private attempt = 0;

  constructor(private readonly options: BackoffOptions = DEFAULT_BACKOFF,
              private readonly random: () => number = Math.random) {}

  /** The delay before the next attempt; each call grows it until the cap. */
  next(): number {
    const { initialMs, maxMs, factor, jitter } = this.options;
    const nominal = Math.min(maxMs, initialMs * factor ** this.attempt);
    this.attempt += 1;
    const spread = nominal * jitter * (2 * this.random() - 1);
    return Math.max(0, Math.round(nominal + spread));
  }

  reset(): void {
    this.attempt = 0;
  }

  get attempts(): number {
    return this.attempt;
  }
}
