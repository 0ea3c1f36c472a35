import * as Effect from "effect/Effect"
import { simulate } from "../cluster-simulation.ts"
import type { Demo } from "./Demo.ts"

export const demo: Demo = {
  title:
    "@effect/cluster simulated: three runners on MemoryNetwork with latency, loss and a partition (cluster-simulation.ts)",
  run: Effect.gen(function* () {
    const started = Date.now()
    const report = yield* simulate({ seed: 1 })
    for (const step of report.steps) {
      const runners = [...new Set(Object.values(step.placement))].sort().join(", ")
      console.log(
        `  ${step.name}: ${step.millis} ms of virtual time, ${step.acknowledged.length} messages acknowledged; entities on ${runners}`,
      )
    }
    console.log(
      `  ${report.history.length} deliveries, ${report.lost.length} acknowledged messages lost, ${report.stats.retransmissions} TCP retransmissions; ${Date.now() - started} ms of real time`,
    )
  }),
}
