import * as Runner from "@effect/cluster/Runner"
import * as RunnerAddress from "@effect/cluster/RunnerAddress"
import * as ShardId from "@effect/cluster/ShardId"
import { assert, describe, it } from "@effect/vitest"
import { MemoryRunnerStorage } from "@netfx/cluster"
import * as Effect from "effect/Effect"
import * as TestClock from "effect/TestClock"

const a = RunnerAddress.make("10.0.1.1", 1)
const b = RunnerAddress.make("10.0.1.2", 2)
const shards = [ShardId.make("default", 1), ShardId.make("default", 2)]
const ids = (list: ReadonlyArray<ShardId.ShardId>) => list.map((s) => s.id).sort()

describe("MemoryRunnerStorage: one runner storage shared by simulated runners", () => {
  it.effect("a held shard lock is not granted to another runner until it expires or is released", () =>
    Effect.gen(function* () {
      const storage = yield* MemoryRunnerStorage.make({ lockExpiration: "10 seconds" })
      assert.deepStrictEqual(ids(yield* storage.acquire(a, shards)), [1, 2])
      // b gets nothing while a holds both, and a's refresh keeps them
      assert.deepStrictEqual(yield* storage.acquire(b, shards), [])
      yield* TestClock.adjust("9 seconds")
      assert.deepStrictEqual(ids(yield* storage.refresh(a, shards)), [1, 2])
      yield* TestClock.adjust("9 seconds")
      assert.deepStrictEqual(yield* storage.acquire(b, shards), [])
      // a releases shard 1; shard 2 expires without a refresh
      yield* storage.release(a, shards[0]!)
      assert.deepStrictEqual(ids(yield* storage.acquire(b, [shards[0]!])), [1])
      yield* TestClock.adjust("10 seconds")
      assert.deepStrictEqual(ids(yield* storage.acquire(b, shards)), [1, 2])
      // a's refresh no longer returns what b took
      assert.deepStrictEqual(yield* storage.refresh(a, shards), [])
    }),
  )

  it.effect("runners register with a machine id each, report health, and unregistering frees their shards", () =>
    Effect.gen(function* () {
      const storage = yield* MemoryRunnerStorage.make()
      const m1 = yield* storage.register(Runner.make({ address: a, groups: ["default"], weight: 1 }), true)
      const m2 = yield* storage.register(Runner.make({ address: b, groups: ["default"], weight: 1 }), true)
      assert.notStrictEqual(m1, m2)
      yield* storage.setRunnerHealth(b, false)
      const runners = yield* storage.getRunners
      assert.deepStrictEqual(
        runners.map(([r, healthy]) => [r.address.host, healthy]),
        [
          ["10.0.1.1", true],
          ["10.0.1.2", false],
        ],
      )
      yield* storage.acquire(a, shards)
      yield* storage.unregister(a)
      assert.deepStrictEqual(ids(yield* storage.acquire(b, shards)), [1, 2])
      assert.strictEqual((yield* storage.getRunners).length, 1)
    }),
  )
})
