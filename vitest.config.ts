import { defineConfig } from "vitest/config"

// `pnpm test:node` runs every package's tests under Node. The Bun package's
// tests run under Bun (`pnpm test:bun`, see packages/bun/vitest.config.ts).
export default defineConfig({
  test: {
    include: ["packages/*/test/**/*.test.ts", "examples/test/**/*.test.ts", "bench/test/**/*.test.ts"],
    exclude: ["packages/bun/**", "examples/test/bun/**", "**/node_modules/**"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
  },
})
