/**
 * Simulating an `@effect/cluster` cluster: three runners in one process on
 * `MemoryNetwork`, under `TestClock`, with latency, loss and a partition
 * between them while entities are messaged.
 *
 * Nothing here is a mock of the cluster: each runner is the real
 * `@effect/cluster` runner (`ClusterSocket.layer` from `@netfx/cluster`),
 * its runner-to-runner RPC runs over netfx TCP on its own virtual host
 * (`control.host(...)`), and all runners share one runner storage
 * (`MemoryRunnerStorage`, with shard locks that expire) and one message
 * storage (`MessageStorage.layerMemory`). Time is virtual: a run takes
 * a couple of seconds of real time for minutes of cluster time, and the same seed gives the
 * same message history, step for step.
 *
 * Steps (each timed in virtual time):
 * 1. boot: three runners start and every entity answers once;
 * 2. partition: runner 3 is cut off from runners 1 and 2; runner 1 keeps
 *    messaging every entity — runner 3 is found dead, its shards move, and
 *    the messages persisted for its entities are processed elsewhere;
 * 3. heal: the partition heals, runner 3 takes its shards back.
 *
 *   tsx examples/src/cluster-simulation.ts [seed]
 */
import * as ClusterSchema from "@effect/cluster/ClusterSchema"
import * as Entity from "@effect/cluster/Entity"
import * as MessageStorage from "@effect/cluster/MessageStorage"
import * as RunnerAddress from "@effect/cluster/RunnerAddress"
import type * as RunnerStorage from "@effect/cluster/RunnerStorage"
import * as Sharding from "@effect/cluster/Sharding"
import * as ShardingConfig from "@effect/cluster/ShardingConfig"
import * as Rpc from "@effect/rpc/Rpc"
import { ClusterSocket, MemoryRunnerStorage } from "@netfx/cluster"
import { MemoryNetwork, Network } from "@netfx/core"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as TestClock from "effect/TestClock"
import * as TestContext from "effect/TestContext"
import { isMain } from "./runtime.ts"

// ---------------------------------------------------------------------------
// The application: an entity with one persisted message.
// ---------------------------------------------------------------------------

/** An account that records deposits; `Deposit` is persisted, so it survives its runner. */
export const Account = Entity.make("Account", [
  Rpc.make("Deposit", { payload: { seq: Schema.Number }, success: Schema.Number }),
]).annotateRpcs(ClusterSchema.Persisted, true)

/** One processed message, as the simulation records it. */
export interface Delivery {
  /** Virtual time, milliseconds since the simulation started. */
  readonly at: number
  readonly runner: string
  readonly entity: string
  readonly seq: number
}

/** The Account entity on runner `name`: every delivery is appended to `history`. */
const AccountLive = (name: string, history: Array<Delivery>, start: number) =>
  Account.toLayer(
    Effect.gen(function* () {
      const address = yield* Entity.CurrentAddress
      let deposits = 0
      return {
        Deposit: (envelope) =>
          Effect.map(Clock.currentTimeMillis, (now) => {
            history.push({ at: now - start, runner: name, entity: address.entityId, seq: envelope.payload.seq })
            return ++deposits
          }),
      }
    }),
  )

// ---------------------------------------------------------------------------
// The simulated cluster.
// ---------------------------------------------------------------------------

/** Options of {@link simulate}. */
export interface SimulationOptions {
  /** Seed of the memory network's PRNG (jitter and loss). */
  readonly seed: number
  /** Entities messaged in each step (default 12). */
  readonly entities?: number
}

/** What one step took and did. */
export interface Step {
  readonly name: string
  /** Virtual milliseconds the step took. */
  readonly millis: number
  /** Messages sent and acknowledged (the `Deposit` call returned) in the step. */
  readonly acknowledged: ReadonlyArray<number>
  /** Which runner processed each entity's message of this step. */
  readonly placement: Readonly<Record<string, string>>
}

/** The result of {@link simulate}: the steps and the whole message history. */
export interface Report {
  readonly steps: ReadonlyArray<Step>
  readonly history: ReadonlyArray<Delivery>
  /** Acknowledged messages missing from the history (must be empty). */
  readonly lost: ReadonlyArray<number>
  readonly stats: MemoryNetwork.Stats
}

const RUNNERS = ["10.0.1.1", "10.0.1.2", "10.0.1.3"] as const
const PORT = 34431

/** Sharding settings scaled down so failures are detected in seconds of (virtual) time. */
const shardingConfig = {
  shardsPerGroup: 12,
  shardLockRefreshInterval: "1 second",
  shardLockExpiration: "4 seconds",
  refreshAssignmentsInterval: "500 millis",
  runnerHealthCheckInterval: "2 seconds",
  entityMessagePollInterval: "500 millis",
  entityReplyPollInterval: "100 millis",
  sendRetryInterval: "50 millis",
  entityTerminationTimeout: "1 second",
} satisfies Partial<ShardingConfig.ShardingConfig["Type"]>

/**
 * A runner on virtual host `host`: `ClusterSocket.layer` over that host's
 * view of the memory network, with the shared storages.
 */
const runner = (
  control: MemoryNetwork.ControlService,
  host: string,
  port: number,
  storage: Context.Context<RunnerStorage.RunnerStorage | MessageStorage.MessageStorage>,
  history: Array<Delivery>,
  start: number,
) =>
  AccountLive(host, history, start).pipe(
    Layer.provideMerge(
      ClusterSocket.layer({
        storage: "byo",
        runnerHealth: "ping",
        shardingConfig: { ...shardingConfig, runnerAddress: Option.some(RunnerAddress.make(host, port)) },
      }),
    ),
    Layer.provide(Layer.succeedContext(storage)),
    Layer.provide(Layer.succeed(Network.Network, control.host(host))),
  )

/** The cluster scenario itself, on a memory network (needs `TestClock` to make time pass). */
const scenario = (options: SimulationOptions) =>
  Effect.gen(function* () {
    const control = yield* MemoryNetwork.Control
    const start = yield* Clock.currentTimeMillis
    const history: Array<Delivery> = []
    const entities = Array.from({ length: options.entities ?? 12 }, (_, i) => `account-${i}`)
    const config = ShardingConfig.layer(shardingConfig)
    const storage = yield* Layer.build(
      Layer.merge(MemoryRunnerStorage.layer, MessageStorage.layerMemory).pipe(Layer.provide(config)),
    )
    // each runner in its own Scope, so one can be stopped on its own
    const runners = yield* Effect.forEach(RUNNERS, (host, i) =>
      Effect.gen(function* () {
        const scope = yield* Scope.make()
        const context = yield* Layer.buildWithScope(runner(control, host, PORT + i, storage, history, start), scope)
        return { host, scope, sharding: Context.get(context, Sharding.Sharding) }
      }),
    )
    const client = Effect.provideService(Account.client, Sharding.Sharding, runners[0]!.sharding)
    let seq = 0
    // one Deposit per entity from runner 1; the step's acknowledged messages
    const round = Effect.gen(function* () {
      const makeClient = yield* client
      return yield* Effect.forEach(
        entities,
        (entity) => {
          const n = seq++
          return Effect.as(makeClient(entity).Deposit({ seq: n }), n)
        },
        { concurrency: "unbounded" },
      )
    })
    // rounds (every 500 ms) until the runners that processed a round's messages satisfy `done`
    const step = (name: string, done: (runners: ReadonlySet<string>) => boolean) =>
      Effect.gen(function* () {
        const started = yield* Clock.currentTimeMillis
        const acknowledged: Array<number> = []
        while (true) {
          const acked = yield* round
          acknowledged.push(...acked)
          const placement: Record<string, string> = {}
          for (const d of history) if (acked.includes(d.seq)) placement[d.entity] = d.runner
          if (done(new Set(Object.values(placement)))) {
            const millis = (yield* Clock.currentTimeMillis) - started
            return { name, millis, acknowledged, placement } satisfies Step
          }
          yield* Effect.sleep("500 millis")
        }
      })

    yield* control.setFaults({ latency: "2 millis", jitter: "3 millis", loss: 0.02 })
    // 1. until the shards are spread over all three runners
    const boot = yield* step("boot", (placed) => placed.size === RUNNERS.length)
    // 2. runner 3 cut off from runners 1 and 2: until its entities live elsewhere
    yield* control.partition(RUNNERS[2], [RUNNERS[0], RUNNERS[1]])
    const partitioned = yield* step("partition", (placed) => !placed.has(RUNNERS[2]))
    // 3. healed: until runner 3 is healthy again and has its shards back
    yield* control.heal
    const healed = yield* step("heal", (placed) => placed.size === RUNNERS.length)
    yield* Effect.forEach(runners, (r) => Scope.close(r.scope, Exit.void), { discard: true, concurrency: "unbounded" })
    const processed = new Set(history.map((d) => d.seq))
    const steps: ReadonlyArray<Step> = [boot, partitioned, healed]
    const lost = steps.flatMap((s) => s.acknowledged).filter((n) => !processed.has(n))
    return { steps, history, lost, stats: yield* control.stats } satisfies Report
  })

/**
 * Runs the simulation with seed `options.seed` and returns its report.
 * Self-contained: it brings its own `TestClock` and advances virtual time
 * until the scenario is done (at most one virtual hour).
 */
export const simulate = (options: SimulationOptions): Effect.Effect<Report, unknown> =>
  Effect.gen(function* () {
    const fiber = yield* Effect.fork(
      scenario(options).pipe(
        Effect.scoped,
        Effect.provide(MemoryNetwork.layer({ seed: options.seed })),
        Logger.withMinimumLogLevel(LogLevel.Error),
      ),
    )
    yield* TestClock.adjust("1 hour")
    return yield* Fiber.join(fiber)
  }).pipe(Effect.provide(TestContext.TestContext))

if (isMain(import.meta.url)) {
  const seed = Number(process.argv[2] ?? 1)
  Effect.runPromise(simulate({ seed })).then(
    (report) => {
      for (const s of report.steps) {
        const runners = [...new Set(Object.values(s.placement))].sort()
        console.log(
          `${s.name}: ${s.millis} ms virtual, ${s.acknowledged.length} acknowledged, on ${runners.join(", ")}`,
        )
      }
      console.log(
        `${report.history.length} deliveries, ${report.lost.length} lost, ${report.stats.retransmissions} retransmissions`,
      )
      // @effect/cluster 0.60 can leave runner RPC clients parked after shutdown (see demo.ts)
      process.exit()
    },
    (e) => {
      console.error(e)
      process.exitCode = 1
    },
  )
}
