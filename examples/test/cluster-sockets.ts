/**
 * Two @effect/cluster runners in one process over real loopback sockets, through whichever
 * `Network` is given (NodeNetwork in cluster-sockets.test.ts, BunNetwork in
 * bun/cluster-sockets.test.ts): entities spread over both runners, and runner 1 reaches the
 * other runner's entities through `ClusterSocket`'s protocol and server.
 */
import * as Entity from "@effect/cluster/Entity"
import * as MessageStorage from "@effect/cluster/MessageStorage"
import * as RunnerAddress from "@effect/cluster/RunnerAddress"
import * as Sharding from "@effect/cluster/Sharding"
import * as ShardingConfig from "@effect/cluster/ShardingConfig"
import * as Rpc from "@effect/rpc/Rpc"
import { ClusterSocket, MemoryRunnerStorage } from "@netfx/cluster"
import { type Network, SocketAddress, Tcp } from "@netfx/core"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"

const Where = Entity.make("Where", [Rpc.make("Ask", { success: Schema.String })])

const config = {
  shardsPerGroup: 8,
  refreshAssignmentsInterval: "100 millis",
  entityMessagePollInterval: "200 millis",
  sendRetryInterval: "20 millis",
} as const

/** Which runner ("127.0.0.1:<port>") answered for each of 8 entities, once both runners host some. */
export const crossRunner = (network: Layer.Layer<Network.Network>) =>
  Effect.gen(function* () {
    const storage = yield* Layer.build(
      Layer.merge(MemoryRunnerStorage.layer, MessageStorage.layerMemory).pipe(
        Layer.provide(ShardingConfig.layer(config)),
      ),
    )
    // two free ports (a runner advertises its address before it listens, so port 0 cannot be used)
    const listen = Tcp.listen({ host: "127.0.0.1", port: 0 })
    const [p1 = 0, p2 = 0] = yield* Effect.scoped(
      Effect.map(Effect.all([listen, listen]), (ls) =>
        ls.map((l) => (SocketAddress.isIp(l.address) ? l.address.port : 0)),
      ),
    ).pipe(Effect.provide(network))
    const runner = (port: number) =>
      Where.toLayer(Effect.succeed({ Ask: () => Effect.succeed(`127.0.0.1:${port}`) })).pipe(
        Layer.provideMerge(
          ClusterSocket.layer({
            storage: "byo",
            runnerHealth: "noop",
            serialization: "ndjson",
            shardingConfig: { ...config, runnerAddress: Option.some(RunnerAddress.make("127.0.0.1", port)) },
          }),
        ),
        Layer.provide(Layer.succeedContext(storage)),
        Layer.provide(network),
      )
    const first = yield* Layer.build(runner(p1))
    yield* Layer.build(runner(p2))
    const makeClient = yield* Effect.provideService(
      Where.client,
      Sharding.Sharding,
      Context.get(first, Sharding.Sharding),
    )
    while (true) {
      const answers = yield* Effect.forEach(
        Array.from({ length: 8 }, (_, i) => `e${i}`),
        (id) => makeClient(id).Ask(),
        { concurrency: "unbounded" },
      )
      if (new Set(answers).size === 2) return { answers, ports: [p1, p2] }
      yield* Effect.sleep("100 millis")
    }
  }).pipe(Effect.scoped, Effect.timeout("60 seconds"), Logger.withMinimumLogLevel(LogLevel.Error))
