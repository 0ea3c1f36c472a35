import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { type Report, simulate } from "../src/cluster-simulation.ts"

// Three @effect/cluster runners on MemoryNetwork under TestClock (see
// examples/src/cluster-simulation.ts). Also run under Bun: examples/test/bun/cluster-simulation.test.ts.
const runners = (report: Report, step: string) =>
  [...new Set(Object.values(report.steps.find((s) => s.name === step)?.placement ?? {}))].sort()

describe("cluster simulation: three runners on MemoryNetwork under TestClock", () => {
  it.live(
    "the same seed replays the same message history; a partition moves shards and loses no acknowledged message",
    () =>
      Effect.gen(function* () {
        const first = yield* simulate({ seed: 7 })
        const again = yield* simulate({ seed: 7 })
        // replay: every delivery (virtual time, runner, entity, message), every step and the network counters
        assert.deepStrictEqual(again.history, first.history)
        assert.deepStrictEqual(again.steps, first.steps)
        // and the same connections and retransmissions (byte counts are left out: the RPC messages carry
        // fiber and span ids, which count up across runs in one process and so vary in encoded length)
        const { bytesSent: _s, bytesDelivered: _d, ...counters } = first.stats
        const { bytesSent: _s2, bytesDelivered: _d2, ...againCounters } = again.stats
        assert.deepStrictEqual(againCounters, counters)
        assert.isAbove(first.stats.retransmissions, 0)

        // another seed: other loss and jitter draws, another history, the same guarantees
        const other = yield* simulate({ seed: 8 })
        assert.notDeepEqual(other.history, first.history)
        assert.deepStrictEqual(other.lost, [])

        // boot spreads the entities over all three runners
        assert.deepStrictEqual(runners(first, "boot"), ["10.0.1.1", "10.0.1.2", "10.0.1.3"])
        // while runner 3 is cut off, its entities move to runners 1 and 2 and every message is answered
        assert.deepStrictEqual(runners(first, "partition"), ["10.0.1.1", "10.0.1.2"])
        // after the heal runner 3 takes shards again
        assert.deepStrictEqual(runners(first, "heal"), ["10.0.1.1", "10.0.1.2", "10.0.1.3"])
        // no acknowledged (persisted, answered) message is missing from the history
        const acknowledged = first.steps.flatMap((s) => s.acknowledged)
        assert.isAbove(acknowledged.length, 3 * 12 - 1)
        assert.deepStrictEqual(first.lost, [])
        const processed = new Set(first.history.map((d) => d.seq))
        for (const seq of acknowledged) assert.isTrue(processed.has(seq), `message ${seq} was acknowledged`)

        // each step took bounded virtual time (failure detection is the slow one: pings time out)
        const [boot, partition, heal] = first.steps.map((s) => s.millis)
        assert.isBelow(boot ?? Infinity, 10_000, "boot")
        assert.isBelow(partition ?? Infinity, 60_000, "partition")
        assert.isBelow(heal ?? Infinity, 10_000, "heal")
      }),
    300_000,
  )
})
