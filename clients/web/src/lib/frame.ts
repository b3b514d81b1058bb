/**
 * DOM writes for high-rate data, one batch per animation frame.
 *
 * A tick is applied to the SDK's state as it arrives; what it changes on screen is queued
 * here under a key (the latest write for a key wins) and written in the next animation frame,
 * right before the browser paints. So a tick is on screen in the first frame after it
 * arrived, however many came in between, and React never re-renders per tick.
 *
 * Each flush records how long its oldest write waited: from its arrival to the start of the
 * frame that wrote it (the frame's own time stamp, so a write queued while a frame is being
 * prepared counts as waiting 0). Up to one frame interval means "on screen in the first frame
 * after the tick arrived"; more means a frame was late. For the terminal's benchmark:
 * `window.__gridworks.frames`.
 */

export interface FrameSample {
  /** ms from the first queued write to the start of the frame that wrote it */
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
      this.raf((frameTime) => this.flush(frameTime));
    }
  }

  /** Run everything queued: the frame callback, given the frame's start time. */
  flush(frameTime: number = this.now()): void {
    this.requested = false;
    if (this.tasks.size === 0) return;
    const tasks = [...this.tasks.values()];
    this.tasks.clear();
    const wait = Math.max(0, frameTime - this.oldest);
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
