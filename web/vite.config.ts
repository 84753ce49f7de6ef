/// <reference types="vitest/config" />
import { readFileSync, writeFileSync } from "node:fs";
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

const OUT_DIR = "../python/fwtrack/ui/dist";

// KaTeX's fonts come as woff2, woff and ttf; the static page keeps woff2 alone (every browser
// the dashboard supports reads it), a third of the size once inlined.
function woff2Only(): Plugin {
  return {
    name: "fwtrack-woff2-only",
    apply: "build",
    writeBundle(options, bundle) {
      for (const file of Object.values(bundle)) {
        if (file.type !== "asset" || !file.fileName.endsWith(".css") || options.dir === undefined) continue;
        const path = join(options.dir, file.fileName);
        const css = readFileSync(path, "utf8");
        writeFileSync(path, css.replace(/,\s*url\(data:font\/(?:woff|ttf);base64,[A-Za-z0-9+/=]*\)\s*format\("(?:woff|truetype)"\)/g, ""));
      }
    },
  };
}

// The exported report page (`vite build --mode static-report`, run by `npm run build` after the
// dashboard): src/static/main.tsx as ONE script (static-report.js, an IIFE, no chunks) and ONE
// css (static-report.css, fonts and images inlined as data URLs) in the dashboard's dist, so the
// export can copy both into a single HTML file that opens from disk.
const staticReport = defineConfig({
  base: "./",
  publicDir: false,
  plugins: [woff2Only()],
  build: {
    outDir: OUT_DIR,
    emptyOutDir: false,
    sourcemap: false,
    copyPublicDir: false,
    chunkSizeWarningLimit: 8192,
    assetsInlineLimit: () => true,
    cssCodeSplit: false,
    modulePreload: false,
    rollupOptions: {
      input: join(import.meta.dirname, "src", "static", "main.tsx"),
      // the lazy parts' `import()` are inlined (no chunks): their import.meta goes unused
      checks: { emptyImportMeta: false },
      output: {
        format: "iife",
        entryFileNames: "static-report.js",
        assetFileNames: (asset) => (asset.names.some((n) => n.endsWith(".css")) ? "static-report.css" : "static-report-[name][extname]"),
      },
    },
  },
});

// The dashboard is built into the Python package, which serves it from `fwtrack server` and
// `fwtrack ui`. `npm run dev` proxies the API to a server on FWTRACK_DEV_API (default :8080).
export default defineConfig(({ mode }) => (mode === "static-report" ? staticReport : {
  base: "./",
  plugins: [swaggerUi()],
  build: {
    outDir: OUT_DIR,
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
}));
