import { describe, expect, it } from "vitest";
import { FrameScheduler } from "../src/lib/frame";

describe("FrameScheduler", () => {
  it("writes the latest value per key once, in one frame, and records the wait", () => {
    const frames: (() => void)[] = [];
    let now = 100;
    const scheduler = new FrameScheduler((cb) => frames.push(() => cb(now - 2)), () => now);
    const written: string[] = [];
    scheduler.write("a", () => written.push("a1"));
    now = 104;
    scheduler.write("a", () => written.push("a2"));
    scheduler.write("b", () => written.push("b1"));
    expect(frames).toHaveLength(1);
    expect(written).toEqual([]);
    now = 110;
    frames.shift()!();
    expect(written).toEqual(["a2", "b1"]);
    expect(scheduler.samples).toEqual([{ wait: 8, writes: 2 }]); // to the frame's start, 108
    scheduler.write("c", () => written.push("c1"));
    frames.shift()!(); // queued after the frame began (108 < 110): it still makes this frame
    expect(scheduler.samples[1]).toEqual({ wait: 0, writes: 1 });
    scheduler.write("a", () => written.push("a3"));
    expect(frames).toHaveLength(1);
    expect(written).toEqual(["a2", "b1", "c1"]);
  });
});
