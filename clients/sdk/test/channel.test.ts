import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ChannelState } from "../src/channel";

describe("ChannelState", () => {
  it("applies exactly a contiguous run after each snapshot, whatever arrives", () => {
    const push = fc.record({ seq: fc.integer({ min: 0, max: 30 }), snapshot: fc.boolean() });
    fc.assert(fc.property(fc.array(push, { maxLength: 60 }), (pushes) => {
      const state = new ChannelState();
      let last = -1;
      for (const p of pushes) {
        const verdict = state.accept(p.seq, p.snapshot);
        if (p.snapshot) {
          expect(verdict).toBe("snapshot");
          last = p.seq;
        } else if (last < 0) {
          expect(verdict).toBe("waiting");
        } else if (p.seq <= last) {
          expect(verdict).toBe("duplicate");
        } else if (p.seq === last + 1) {
          expect(verdict).toBe("apply");
          last = p.seq;
        } else {
          expect(verdict).toBe("gap");
        }
        expect(state.last).toBe(last);
      }
    }));
  });

  it("holds updates after discard until a snapshot, and offers no resume point meanwhile", () => {
    const state = new ChannelState();
    state.accept(4, true);
    expect(state.resumePoint()).toBe(4);
    state.discard();
    expect(state.resumePoint()).toBeUndefined();
    expect(state.accept(5, false)).toBe("waiting");
    expect(state.accept(9, true)).toBe("snapshot");
    expect(state.accept(10, false)).toBe("apply");
  });
});
