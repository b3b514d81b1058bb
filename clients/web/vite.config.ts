import react from "@vitejs/plugin-react";
import { defineConfig } from "vitest/config";

// The build goes into the Python package, so `pip install` ships a working terminal and
// `gridworks serve` finds it without Node on the machine.
export default defineConfig({
  plugins: [react()],
  build: {
    outDir: "../../gridworks/terminal",
    emptyOutDir: true,
    target: "es2022",
    sourcemap: false,
    chunkSizeWarningLimit: 600,
  },
  test: {
    environment: "jsdom",
    include: ["test/**/*.test.{ts,tsx}"],
    setupFiles: ["test/setup.ts"],
  },
});
