/**
 * What to do with each push of one channel, from its sequence numbers alone
 * (docs/websocket-api.md, "How a client follows a channel").
 *
 * Invariant: `last` is the seq of the last message applied, and everything applied since the
 * last snapshot was contiguous. A snapshot is always taken; an update is applied only when it
 * is exactly `last + 1`; older ones are duplicates; newer ones reveal a gap, which the client
 * repairs by resubscribing (replay from `last`, or a fresh snapshot).
 */

export type Verdict =
  | "snapshot" // replace the state with the data
  | "apply" // the next update: apply it
  | "duplicate" // already applied (seq <= last): ignore
  | "gap" // messages are missing: resynchronise
  | "waiting"; // no usable state yet (before the first snapshot, or a snapshot was asked for)

export class ChannelState {
  /** Seq of the last message applied; -1 before the first snapshot. */
  last = -1;
  /** A fresh snapshot was asked for: updates are ignored until it comes. */
  awaitingSnapshot = false;
  /** A resubscribe is in flight: gaps seen meanwhile do not ask again. */
  resyncing = false;
  /** Heartbeats in a row that showed this channel ahead of `last` with no progress. */
  behindBeats = 0;

  accept(seq: number, snapshot: boolean): Verdict {
    if (snapshot) {
      this.last = seq;
      this.awaitingSnapshot = false;
      this.behindBeats = 0;
      return "snapshot";
    }
    if (this.last < 0 || this.awaitingSnapshot) return "waiting";
    if (seq <= this.last) return "duplicate";
    if (seq === this.last + 1) {
      this.last = seq;
      this.behindBeats = 0;
      return "apply";
    }
    return "gap";
  }

  /** The resume point to send when resubscribing, if there is a usable one. */
  resumePoint(): number | undefined {
    return this.last >= 0 && !this.awaitingSnapshot ? this.last : undefined;
  }

  /** After a checksum failure or an unusable state: forget it until a snapshot arrives. */
  discard(): void {
    this.awaitingSnapshot = true;
  }
}
