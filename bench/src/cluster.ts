/**
 * The "cluster" scenario: @effect/cluster entity messages between two runners
 * over loopback TCP, with netfx (`@netfx/cluster`'s `ClusterSocket` on
 * NodeNetwork) or with `@effect/platform-node`'s `NodeClusterSocket`.
 *
 * One process (`tsx bench/src/cluster.ts <impl> <millis>`) holds runner A,
 * which hosts the entities (storage "local"), and node B, a client-only node
 * that knows A from a fixed runner list; B messages A's entities:
 * - round trips: one entity, one request at a time (request/reply latency);
 * - messages: 64 callers at once over 64 entities (messages/s).
 * It prints one JSON line: `{ roundTrips, messages, cpuMicros }` (rates per
 * second, CPU time of the whole run).
 */

import * as net from "node:net"
import * as Entity from "@effect/cluster/Entity"
import * as MachineId from "@effect/cluster/MachineId"
import * as MessageStorage from "@effect/cluster/MessageStorage"
import * as Runner from "@effect/cluster/Runner"
import * as RunnerAddress from "@effect/cluster/RunnerAddress"
import * as RunnerStorage from "@effect/cluster/RunnerStorage"
import * as NodeClusterSocket from "@effect/platform-node/NodeClusterSocket"
import * as Rpc from "@effect/rpc/Rpc"
import { ClusterSocket } from "@netfx/cluster"
import { NodeNetwork } from "@netfx/node"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"

export type ClusterImpl = "netfx-node" | "platform-node"

export interface ClusterResult {
  readonly roundTrips: number
  readonly messages: number
  readonly cpuMicros: number
}

const Echo = Entity.make("Echo", [Rpc.make("Echo", { payload: { n: Schema.Number }, success: Schema.Number })])
const EchoLive = Echo.toLayer(Effect.succeed({ Echo: (envelope) => Effect.succeed(envelope.payload.n) }))

/** A runner storage for a client-only node that knows exactly one runner. */
const fixedRunners = (address: RunnerAddress.RunnerAddress) =>
  Layer.succeed(
    RunnerStorage.RunnerStorage,
    RunnerStorage.RunnerStorage.of({
      register: () => Effect.succeed(MachineId.make(1)),
      unregister: () => Effect.void,
      getRunners: Effect.succeed([[Runner.make({ address, groups: ["default"], weight: 1 }), true] as const]),
      setRunnerHealth: () => Effect.void,
      acquire: () => Effect.succeed([]),
      refresh: () => Effect.succeed([]),
      release: () => Effect.void,
      releaseAll: () => Effect.void,
    }),
  )

const config = { shardsPerGroup: 64 }

/** A free loopback port (a runner advertises its address before it listens, so port 0 cannot be used). */
const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      server.close(() => resolve(typeof address === "object" && address !== null ? address.port : 0))
    })
  })

export const measure = async (impl: ClusterImpl, millis: number): Promise<ClusterResult> => {
  const port = await freePort()
  const address = RunnerAddress.make("127.0.0.1", port)
  const runnerConfig = { ...config, runnerAddress: Option.some(address) }
  const clientConfig = { ...config, runnerAddress: Option.none() }
  const runnerA =
    impl === "netfx-node"
      ? EchoLive.pipe(
          Layer.provideMerge(ClusterSocket.layer({ storage: "local", shardingConfig: runnerConfig })),
          Layer.provide(NodeNetwork.layer),
        )
      : EchoLive.pipe(Layer.provideMerge(NodeClusterSocket.layer({ storage: "local", shardingConfig: runnerConfig })))
  const clientB = (
    impl === "netfx-node"
      ? ClusterSocket.layer({ storage: "byo", clientOnly: true, shardingConfig: clientConfig }).pipe(
          Layer.provide(NodeNetwork.layer),
        )
      : NodeClusterSocket.layer({ storage: "byo", clientOnly: true, shardingConfig: clientConfig })
  ).pipe(Layer.provide([fixedRunners(address), MessageStorage.layerNoop]))

  const program = Effect.gen(function* () {
    yield* Layer.build(runnerA)
    const client = yield* Effect.provide(Echo.client, yield* Layer.build(clientB))
    const forMillis = (f: (i: number) => Effect.Effect<unknown, unknown>) =>
      Effect.gen(function* () {
        const end = Date.now() + millis
        let count = 0
        while (Date.now() < end) {
          yield* f(count)
          count++
        }
        return count
      })
    // warm-up: connections, the entities started
    yield* Effect.forEach(
      Array.from({ length: 64 }, (_, i) => i),
      (i) => client(`e${i}`).Echo({ n: i }),
      {
        concurrency: "unbounded",
      },
    )
    const cpu0 = process.cpuUsage()
    const t0 = performance.now()
    const sequential = yield* forMillis((n) => client("e0").Echo({ n }))
    const t1 = performance.now()
    const concurrent = yield* Effect.forEach(
      Array.from({ length: 64 }, (_, i) => i),
      (i) => forMillis((n) => client(`e${i}`).Echo({ n })),
      { concurrency: "unbounded" },
    )
    const t2 = performance.now()
    const cpu = process.cpuUsage(cpu0)
    return {
      roundTrips: sequential / ((t1 - t0) / 1000),
      messages: concurrent.reduce((a, b) => a + b, 0) / ((t2 - t1) / 1000),
      cpuMicros: cpu.user + cpu.system,
    } satisfies ClusterResult
  })
  return Effect.runPromise(program.pipe(Effect.scoped, Logger.withMinimumLogLevel(LogLevel.Error)))
}

// `tsx bench/src/cluster.ts <impl> <millis>`: one measurement, one JSON line
if (/cluster\.[jt]s$/.test(process.argv[1] ?? "") && process.argv.length >= 4) {
  const impl = process.argv[2] as ClusterImpl
  measure(impl, Number(process.argv[3])).then(
    (r) => {
      process.stdout.write(`${JSON.stringify(r)}\n`)
      process.exit(0)
    },
    (e) => {
      process.stderr.write(`${String(e)}\n`)
      process.exit(1)
    },
  )
}
