/// <reference types="vitest/config" />
import { defineConfig } from "vite";

// The dashboard is built into the Python package, which serves it from `fwtrack server` and
// `fwtrack ui`. `npm run dev` proxies the API to a server on FWTRACK_DEV_API (default :8080).
export default defineConfig({
  base: "./",
  build: {
    outDir: "../python/fwtrack/ui/dist",
    emptyOutDir: true,
    sourcemap: false,
    chunkSizeWarningLimit: 1024,
  },
  server: {
    proxy: { "/api": process.env.FWTRACK_DEV_API ?? "http://127.0.0.1:8080" },
  },
  test: {
    environment: "happy-dom",
    include: ["src/**/*.test.ts", "src/**/*.test.tsx"],
  },
});
