/// <reference types="vitest/config" />
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { defineConfig, type Plugin } from "vite";

// The API docs page (/api/v1/docs) loads Swagger UI from the dashboard's own files, never from a
// CDN: it works offline and under the dashboard's Content-Security-Policy. The pinned npm
// `swagger-ui-dist` is copied into `swagger-ui/` of the build (the server names these files).
const SWAGGER_UI_DIR = join(import.meta.dirname, "node_modules", "swagger-ui-dist");
const SWAGGER_UI_FILES = [
  "swagger-ui-bundle.js",
  "swagger-ui-bundle.js.LICENSE.txt",
  "swagger-ui.css",
  "favicon-32x32.png",
  "LICENSE",
  "NOTICE",
];

function swaggerUi(): Plugin {
  return {
    name: "fwtrack-swagger-ui",
    apply: "build",
    generateBundle() {
      for (const name of SWAGGER_UI_FILES) {
        this.emitFile({ type: "asset", fileName: `swagger-ui/${name}`, source: readFileSync(join(SWAGGER_UI_DIR, name)) });
      }
    },
  };
}

// The dashboard is built into the Python package, which serves it from `fwtrack server` and
// `fwtrack ui`. `npm run dev` proxies the API to a server on FWTRACK_DEV_API (default :8080).
export default defineConfig({
  base: "./",
  plugins: [swaggerUi()],
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
