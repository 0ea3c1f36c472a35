import { defineConfig } from "vitest/config"

// Run under Bun: `bun --bun vitest run` (see package.json `test:bun`).
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts", "../../examples/test/bun/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
  },
})
