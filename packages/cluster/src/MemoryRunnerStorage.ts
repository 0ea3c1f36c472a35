/**
 * A `RunnerStorage` in memory that several runners of one process share:
 * the runner registry, runner health and shard locks with expiry, with the
 * semantics of `SqlRunnerStorage` (a lock is taken when it is free,
 * expired or already the caller's; `refresh` extends only the caller's
 * locks). Time comes from Effect's `Clock`, so lock expiry runs in virtual
 * time under `TestClock`.
 *
 * `@effect/cluster`'s own `RunnerStorage.layerMemory` is meant for a single
 * runner: it grants every shard to whoever asks and remembers one set of
 * shards for all callers, so runners sharing it would steal each other's
 * shards. Use this one to simulate a cluster in one process (with
 * `MessageStorage.layerMemory`, shared too).
 *
 * @since 0.1.0
 */

import * as MachineId from "@effect/cluster/MachineId"
import type * as Runner from "@effect/cluster/Runner"
import type * as RunnerAddress from "@effect/cluster/RunnerAddress"
import * as RunnerStorage from "@effect/cluster/RunnerStorage"
import type * as ShardId from "@effect/cluster/ShardId"
import * as ShardingConfig from "@effect/cluster/ShardingConfig"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"

/**
 * Options of {@link make}.
 *
 * @example
 * ```ts
 * import { MemoryRunnerStorage } from "@netfx/cluster"
 *
 * const options: MemoryRunnerStorage.Options = { lockExpiration: "10 seconds" }
 * const storage = MemoryRunnerStorage.make(options)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /**
   * How long a shard lock lasts without a refresh; then another runner may
   * take the shard. Default: `ShardingConfig.shardLockExpiration` from the
   * context of {@link layer}, or 35 seconds for {@link make}.
   */
  readonly lockExpiration?: Duration.DurationInput | undefined
}

interface Lock {
  readonly owner: string
  readonly shard: ShardId.ShardId
  expiresAt: number
}

/**
 * Builds one shared storage. Give the same service to every runner of the
 * simulated cluster (`Layer.succeed(RunnerStorage.RunnerStorage, storage)`),
 * or build {@link layer} once and share the built Layer.
 *
 * **Resource**: memory only.
 *
 * **Errors**: none; its operations never fail (the `PersistenceError` of
 * the interface does not occur).
 *
 * **Interruption**: every operation is atomic.
 *
 * @example
 * ```ts
 * import * as RunnerStorage from "@effect/cluster/RunnerStorage"
 * import { MemoryRunnerStorage } from "@netfx/cluster"
 * import { Effect, Layer } from "effect"
 *
 * const shared = Effect.map(MemoryRunnerStorage.make({ lockExpiration: "5 seconds" }), (storage) =>
 *   Layer.succeed(RunnerStorage.RunnerStorage, storage),
 * )
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options = {}): Effect.Effect<RunnerStorage.RunnerStorage["Type"]> =>
  Effect.sync(() => {
    const expiration = Duration.toMillis(Duration.decode(options.lockExpiration ?? "35 seconds"))
    const runners = new Map<string, { runner: Runner.Runner; healthy: boolean }>()
    const locks = new Map<string, Lock>()
    let nextMachineId = 0
    const key = (address: RunnerAddress.RunnerAddress) => `${address.host}:${address.port}`
    const shardKey = (shard: ShardId.ShardId) => `${shard.group}:${shard.id}`
    const releaseAll = (owner: string) => {
      for (const [k, lock] of locks) if (lock.owner === owner) locks.delete(k)
    }
    return RunnerStorage.RunnerStorage.of({
      register: (runner, healthy) =>
        Effect.sync(() => {
          runners.set(key(runner.address), { runner, healthy })
          return MachineId.make(nextMachineId++)
        }),
      unregister: (address) =>
        Effect.sync(() => {
          runners.delete(key(address))
          releaseAll(key(address))
        }),
      getRunners: Effect.sync(() => Array.from(runners.values(), ({ runner, healthy }) => [runner, healthy] as const)),
      setRunnerHealth: (address, healthy) =>
        Effect.sync(() => {
          const entry = runners.get(key(address))
          if (entry !== undefined) entry.healthy = healthy
        }),
      acquire: (address, shardIds) =>
        Effect.map(Clock.currentTimeMillis, (now) => {
          const owner = key(address)
          const acquired: Array<ShardId.ShardId> = []
          for (const shard of shardIds) {
            const k = shardKey(shard)
            const lock = locks.get(k)
            if (lock === undefined || lock.owner === owner || lock.expiresAt <= now) {
              locks.set(k, { owner, shard, expiresAt: now + expiration })
              acquired.push(shard)
            }
          }
          return acquired
        }),
      refresh: (address, shardIds) =>
        Effect.map(Clock.currentTimeMillis, (now) => {
          const owner = key(address)
          const held: Array<ShardId.ShardId> = []
          for (const shard of shardIds) {
            const lock = locks.get(shardKey(shard))
            if (lock === undefined || lock.owner !== owner) continue
            lock.expiresAt = now + expiration
            held.push(lock.shard)
          }
          return held
        }),
      release: (address, shardId) =>
        Effect.sync(() => {
          const k = shardKey(shardId)
          if (locks.get(k)?.owner === key(address)) locks.delete(k)
        }),
      releaseAll: (address) => Effect.sync(() => releaseAll(key(address))),
    })
  })

/**
 * The shared storage as a Layer, with the lock expiration of the
 * context's `ShardingConfig`. Build it once and provide the built Layer to
 * every runner (a Layer built per runner would give each its own storage).
 *
 * **Resource**, **Errors**, **Interruption**: as {@link make}.
 *
 * @example
 * ```ts
 * import * as ShardingConfig from "@effect/cluster/ShardingConfig"
 * import { MemoryRunnerStorage } from "@netfx/cluster"
 * import { Layer } from "effect"
 *
 * const StorageLive = MemoryRunnerStorage.layer.pipe(Layer.provide(ShardingConfig.layer({ shardLockExpiration: "5 seconds" })))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<RunnerStorage.RunnerStorage, never, ShardingConfig.ShardingConfig> = Layer.effect(
  RunnerStorage.RunnerStorage,
  Effect.flatMap(ShardingConfig.ShardingConfig, (config) => make({ lockExpiration: config.shardLockExpiration })),
)
