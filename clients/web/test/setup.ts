import { afterEach, vi } from "vitest";
import { cleanup } from "@testing-library/react";
import { chartModule } from "./chart-mock";

vi.mock("lightweight-charts", () => chartModule);

/** Animation frames run when a test says so (`nextFrame()`), as a browser would paint. */
const callbacks: FrameRequestCallback[] = [];
globalThis.requestAnimationFrame = (callback: FrameRequestCallback) => callbacks.push(callback);
globalThis.cancelAnimationFrame = () => {};

export function nextFrame(): void {
  for (const callback of callbacks.splice(0)) callback(performance.now());
}

afterEach(() => {
  cleanup();
  callbacks.length = 0;
});
