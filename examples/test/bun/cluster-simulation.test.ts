// The cluster simulation tests, run under Bun (packages/bun/vitest.config.ts includes this folder).
import "../cluster-simulation.test.ts"
