/**
 * DOM writes for high-rate data, one batch per animation frame.
 *
 * A tick is applied to the SDK's state as it arrives; what it changes on screen is queued
 * here under a key (the latest write for a key wins) and written in the next animation frame,
 * right before the browser paints. So a tick is on screen in the first frame after it
 * arrived, however many came in between, and React never re-renders per tick.
 *
 * Each flush records how long its oldest write waited (arrival to the frame's callback), for
 * the terminal's benchmark: `window.__gridworks.frames`.
 */

export interface FrameSample {
  /** ms from the first queued write to the frame that wrote it */
  wait: number;
  /** writes done in that frame */
  writes: number;
}

type Raf = (callback: (time: number) => void) => number;

export class FrameScheduler {
  private readonly tasks = new Map<string, () => void>();
  private oldest = 0;
  private requested = false;
  readonly samples: FrameSample[] = [];

  constructor(private readonly raf: Raf = (cb) => requestAnimationFrame(cb),
              private readonly now: () => number = () => performance.now(),
              private readonly keep = 5000) {}

  /** Queue a write; a later write under the same key replaces it. */
  write(key: string, task: () => void): void {
    if (this.tasks.size === 0) this.oldest = this.now();
    this.tasks.set(key, task);
    if (!this.requested) {
      this.requested = true;
      this.raf(() => this.flush());
    }
  }

  /** Run everything queued (the frame callback; tests call it directly). */
  flush(): void {
    this.requested = false;
    if (this.tasks.size === 0) return;
    const tasks = [...this.tasks.values()];
    this.tasks.clear();
    const wait = this.now() - this.oldest;
    for (const task of tasks) task();
    this.samples.push({ wait, writes: tasks.length });
    if (this.samples.length > this.keep) this.samples.splice(0, this.samples.length - this.keep);
  }

  get pending(): number {
    return this.tasks.size;
  }
}

export const frames = new FrameScheduler();

declare global {
  interface Window {
    __gridworks?: { frames: FrameSample[] };
  }
}

if (typeof window !== "undefined") window.__gridworks = { frames: frames.samples };
