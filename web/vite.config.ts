import { defineConfig } from "vitest/config";

// React's JSX through esbuild's automatic runtime: no compiler plugin needed.
export default defineConfig({
  esbuild: { jsx: "automatic" },
  build: {
    target: "es2022",
    sourcemap: false,
    // Vite's preload helper would otherwise be the only reason for an inline script.
    modulePreload: { polyfill: false },
    chunkSizeWarningLimit: 400,
  },
  server: { port: 18110, strictPort: true, proxy: { "/api": "http://127.0.0.1:8080" } },
  test: { include: ["test/**/*.test.{ts,tsx}"], environment: "node" },
});
