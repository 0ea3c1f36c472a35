/**
 * `@effect/cluster` runners over netfx: the runner-to-runner RPC protocol
 * (`Runners.RpcClientProtocol`) and the runner's `SocketServer`, built on
 * the `Network` service — so the same cluster code runs on `NodeNetwork`,
 * `BunNetwork` (Bun has no cluster socket layer of its own) and
 * `MemoryNetwork` (a whole cluster in one process, under `TestClock`).
 *
 * {@link layer} is the counterpart of `@effect/platform-node`'s
 * `NodeClusterSocket.layer`: a runner (or a client-only node) with its
 * storage, runner health checks, serialization and `ShardingConfig`.
 *
 * @since 0.1.0
 */
import * as MessageStorage from "@effect/cluster/MessageStorage"
import * as RunnerHealth from "@effect/cluster/RunnerHealth"
import * as RunnerStorage from "@effect/cluster/RunnerStorage"
import * as Runners from "@effect/cluster/Runners"
import type { Sharding } from "@effect/cluster/Sharding"
import * as ShardingConfig from "@effect/cluster/ShardingConfig"
import * as SocketRunner from "@effect/cluster/SocketRunner"
import * as SqlMessageStorage from "@effect/cluster/SqlMessageStorage"
import * as SqlRunnerStorage from "@effect/cluster/SqlRunnerStorage"
import { Socket } from "@effect/platform/Socket"
import type * as SocketServer from "@effect/platform/SocketServer"
import * as RpcClient from "@effect/rpc/RpcClient"
import * as RpcSerialization from "@effect/rpc/RpcSerialization"
import type { SqlClient } from "@effect/sql/SqlClient"
import { NetError, type Network, Tcp } from "@netfx/core"
import * as PlatformSocket from "@netfx/core/PlatformSocket"
import type { ConfigError } from "effect/ConfigError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"

/**
 * Options of {@link layerClientProtocolWith}.
 *
 * @example
 * ```ts
 * import { ClusterSocket } from "@netfx/cluster"
 *
 * const options: ClusterSocket.ClientProtocolOptions = { connectTimeout: "2 seconds", noDelay: true }
 * const protocol = ClusterSocket.layerClientProtocolWith(options)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface ClientProtocolOptions {
  /**
   * How long one connect to a runner may take before it fails (default
   * 1 second, as `NodeClusterSocket`); the RPC client then retries. Without
   * it a connect into a partition waits until the partition heals.
   */
  readonly connectTimeout?: Duration.DurationInput | undefined
  /** `TCP_NODELAY` on runner connections (default `true`: RPC messages are small and latency-bound). */
  readonly noDelay?: boolean | undefined
}

const connectTimedOut = (host: string, port: number) => new NetError.ConnectFailed({ host, port, attempts: [] })

/**
 * `Runners.RpcClientProtocol` over netfx TCP with options: each runner
 * address gets one connection (`Tcp.connect` through the provided
 * `Network`), framed by the provided `RpcSerialization`.
 *
 * **Resource**: nothing when built; the cluster opens a connection per
 * remote runner and closes it with the RPC client's Scope (a dead runner's
 * client is dropped by `@effect/cluster`).
 *
 * **Errors**: none when built. A connect that fails (`ConnectFailed`,
 * `ResolveFailed`, or no answer within `connectTimeout`) or a broken
 * connection surfaces inside `@effect/cluster` as an RPC client error
 * (the netfx error is the `cause` of the `SocketGenericError`), which the
 * cluster retries or turns into `RunnerUnavailable`.
 *
 * **Interruption**: interrupting a request interrupts only that request;
 * closing the client's Scope closes the connection.
 *
 * @example
 * ```ts
 * import * as RpcSerialization from "@effect/rpc/RpcSerialization"
 * import { ClusterSocket } from "@netfx/cluster"
 * import { NodeNetwork } from "@netfx/node"
 * import { Layer } from "effect"
 *
 * const ProtocolLive = ClusterSocket.layerClientProtocolWith({ connectTimeout: "500 millis" }).pipe(
 *   Layer.provide([RpcSerialization.layerMsgPack, NodeNetwork.layer]),
 * )
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerClientProtocolWith = (
  options: ClientProtocolOptions = {},
): Layer.Layer<Runners.RpcClientProtocol, never, RpcSerialization.RpcSerialization | Network.Network> =>
  Layer.effect(
    Runners.RpcClientProtocol,
    Effect.gen(function* () {
      const serialization = yield* RpcSerialization.RpcSerialization
      const context = yield* Effect.context<Network.Network>()
      const timeout = Duration.decode(options.connectTimeout ?? "1 second")
      const noDelay = options.noDelay ?? true
      return (address) =>
        Effect.gen(function* () {
          const open = Tcp.connect({ host: address.host, port: address.port, noDelay }).pipe(
            Effect.timeoutFail({ duration: timeout, onTimeout: () => connectTimedOut(address.host, address.port) }),
          )
          const socket = yield* PlatformSocket.fromSocketStream(open)
          return yield* RpcClient.makeProtocolSocket().pipe(
            Effect.provideService(Socket, socket),
            Effect.provideService(RpcSerialization.RpcSerialization, serialization),
          )
        }).pipe(Effect.provide(context))
    }),
  )

/**
 * `Runners.RpcClientProtocol` over netfx TCP with the default options
 * (1 second connect timeout, `TCP_NODELAY`): see {@link layerClientProtocolWith}.
 *
 * **Resource**, **Errors**, **Interruption**: as {@link layerClientProtocolWith}.
 *
 * @example
 * ```ts
 * import * as RpcSerialization from "@effect/rpc/RpcSerialization"
 * import { ClusterSocket } from "@netfx/cluster"
 * import { MemoryNetwork } from "@netfx/core"
 * import { Layer } from "effect"
 *
 * const ProtocolLive = ClusterSocket.layerClientProtocol.pipe(
 *   Layer.provide([RpcSerialization.layerNdjson, MemoryNetwork.layer()]),
 * )
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerClientProtocol: Layer.Layer<
  Runners.RpcClientProtocol,
  never,
  RpcSerialization.RpcSerialization | Network.Network
> = layerClientProtocolWith()

/**
 * The runner's `SocketServer`: a netfx TCP listener on
 * `ShardingConfig.runnerListenAddress` (or `runnerAddress` when no listen
 * address is set), through the provided `Network`.
 *
 * **Resource**: the listener, for the Layer's lifetime (closed, with every
 * connection it served, when the Layer's Scope closes).
 *
 * **Errors**: `SocketServerError` (reason `Open`, the netfx `ListenFailed`
 * — e.g. `EADDRINUSE` — or `ResolveFailed` as `cause`) when the listener
 * cannot be opened. A `ShardingConfig` with neither address is a
 * client-only configuration and a defect here (use `clientOnly` in
 * {@link layer}).
 *
 * **Interruption**: closing the Scope stops accepting and closes the
 * served connections.
 *
 * @example
 * ```ts
 * import * as RunnerAddress from "@effect/cluster/RunnerAddress"
 * import * as ShardingConfig from "@effect/cluster/ShardingConfig"
 * import { ClusterSocket } from "@netfx/cluster"
 * import { NodeNetwork } from "@netfx/node"
 * import { Layer, Option } from "effect"
 *
 * const ServerLive = ClusterSocket.layerSocketServer.pipe(
 *   Layer.provide(ShardingConfig.layer({ runnerAddress: Option.some(RunnerAddress.make("127.0.0.1", 34431)) })),
 *   Layer.provide(NodeNetwork.layer),
 * )
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerSocketServer: Layer.Layer<
  SocketServer.SocketServer,
  SocketServer.SocketServerError,
  ShardingConfig.ShardingConfig | Network.Network
> = Layer.unwrapEffect(
  Effect.gen(function* () {
    const config = yield* ShardingConfig.ShardingConfig
    const listen = Option.orElse(config.runnerListenAddress, () => config.runnerAddress)
    if (Option.isNone(listen)) {
      return yield* Effect.dieMessage(
        "ClusterSocket.layerSocketServer: ShardingConfig has neither runnerListenAddress nor runnerAddress",
      )
    }
    return PlatformSocket.layerServerTcp({ host: listen.value.host, port: listen.value.port })
  }),
)

/**
 * Where the cluster keeps its state:
 * - `"sql"` (default): `SqlMessageStorage` and `SqlRunnerStorage` over the
 *   `SqlClient` you provide (PostgreSQL, MySQL, SQLite through `@effect/sql-*`);
 * - `"local"`: a single-runner setup — no message persistence
 *   (`MessageStorage.layerNoop`) and `RunnerStorage.layerMemory`;
 * - `"byo"`: you provide `MessageStorage` and `RunnerStorage` (e.g.
 *   `MessageStorage.layerMemory` and `MemoryRunnerStorage.layer` shared
 *   by simulated runners).
 *
 * @example
 * ```ts
 * import { ClusterSocket } from "@netfx/cluster"
 *
 * const storage: ClusterSocket.Storage = "byo"
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Storage = "local" | "sql" | "byo"

/**
 * How runners decide another runner is gone:
 * - `"ping"` (default): the runner-health singleton pings each runner over
 *   the runner protocol (through the same `Network`);
 * - `"noop"`: every registered runner counts as alive (tests, or when the
 *   lock expiry of the storage is the only failure detector you want);
 * - `"byo"`: you provide `RunnerHealth` (e.g. `RunnerHealth.layerK8s`).
 *
 * @example
 * ```ts
 * import { ClusterSocket } from "@netfx/cluster"
 *
 * const health: ClusterSocket.Health = "ping"
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Health = "ping" | "noop" | "byo"

/**
 * Options of {@link layer}.
 *
 * @example
 * ```ts
 * import { ClusterSocket } from "@netfx/cluster"
 *
 * const options: ClusterSocket.Options<false, "sql", "ping"> = {
 *   storage: "sql",
 *   runnerHealth: "ping",
 *   serialization: "msgpack",
 *   shardingConfig: { shardsPerGroup: 30 },
 * }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Options<ClientOnly extends boolean, S extends Storage, H extends Health> {
  /** Wire format between runners (default `"msgpack"`). Every runner of a cluster must use the same. */
  readonly serialization?: "msgpack" | "ndjson" | undefined
  /** Largest buffered frame the decoder accepts (`RpcSerialization`'s `maxBufferSize`). */
  readonly serializationMaxBufferSize?: number | "unbounded" | undefined
  /** A client of the cluster that hosts no entities and opens no listener (default `false`). */
  readonly clientOnly?: ClientOnly | undefined
  /** Where the cluster keeps its state (default `"sql"`), see {@link Storage}. */
  readonly storage?: S | undefined
  /** How dead runners are detected (default `"ping"`), see {@link Health}. */
  readonly runnerHealth?: H | undefined
  /** `ShardingConfig` fields; the rest come from the environment (`ShardingConfig.layerFromEnv`) and defaults. */
  readonly shardingConfig?: Partial<ShardingConfig.ShardingConfig["Type"]> | undefined
  /** Options of the runner-to-runner connections. */
  readonly clientProtocol?: ClientProtocolOptions | undefined
}

/**
 * What {@link layer} needs from its context for a storage and health choice.
 *
 * @example
 * ```ts
 * import type { ClusterSocket } from "@netfx/cluster"
 *
 * // "sql" storage with "ping" health needs an SqlClient and a Network
 * type Needs = ClusterSocket.Requirements<"sql", "ping">
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Requirements<S extends Storage, H extends Health> =
  | Network.Network
  | ("local" extends S
      ? never
      : "byo" extends S
        ? MessageStorage.MessageStorage | RunnerStorage.RunnerStorage
        : SqlClient)
  | ("byo" extends H ? RunnerHealth.RunnerHealth : never)

/**
 * A cluster runner (or client-only node) whose runners talk over netfx:
 * `SocketRunner` with {@link layerSocketServer} and
 * {@link layerClientProtocol}, runner health, storage, `ShardingConfig`
 * (from `options.shardingConfig`, then the environment) and serialization.
 * Provide a `Network` (`NodeNetwork.layer`, `BunNetwork.layer`, a
 * `MemoryNetwork` host view) and what the storage choice needs.
 *
 * **Resource**: the listener (unless `clientOnly`), connections to other
 * runners as needed, the sharding fibers; the runner registers in the
 * runner storage when built and unregisters, releasing its shards, when
 * the Layer's Scope closes.
 *
 * **Errors**: `SocketServerError` when the listener cannot be opened;
 * `ConfigError` when the environment's sharding configuration is invalid.
 * Storage construction errors are defects (as in `NodeClusterSocket`).
 *
 * **Interruption**: closing the Layer's Scope shuts the runner down
 * gracefully (entities stopped, shards released, listener closed).
 *
 * @example
 * ```ts
 * import { ClusterSocket } from "@netfx/cluster"
 * import { NodeNetwork } from "@netfx/node"
 * import * as RunnerAddress from "@effect/cluster/RunnerAddress"
 * import { Layer, Option } from "effect"
 *
 * // a runner with SQL storage; provide an SqlClient (e.g. @effect/sql-pg's PgClient.layer)
 * const RunnerLive = ClusterSocket.layer({
 *   storage: "sql",
 *   shardingConfig: { runnerAddress: Option.some(RunnerAddress.make("10.1.0.2", 34431)) },
 * }).pipe(Layer.provide(NodeNetwork.layer))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = <
  const ClientOnly extends boolean = false,
  const S extends Storage = "sql",
  const H extends Health = "ping",
>(
  options?: Options<ClientOnly, S, H>,
): Layer.Layer<
  Sharding | Runners.Runners | ("byo" extends S ? never : MessageStorage.MessageStorage),
  (ClientOnly extends true ? never : SocketServer.SocketServerError) | ConfigError,
  Requirements<S, H>
> => {
  const protocol = layerClientProtocolWith(options?.clientProtocol)
  // The pieces are chosen at run time; the result type is computed from the options above.
  type Any = Layer.Layer<unknown, unknown, unknown>
  const runner = (
    options?.clientOnly
      ? Layer.provide(SocketRunner.layerClientOnly, protocol)
      : Layer.provide(SocketRunner.layer, [layerSocketServer, protocol])
  ) as Any
  const health = (
    options?.clientOnly || options?.runnerHealth === "byo"
      ? Layer.empty
      : options?.runnerHealth === "noop"
        ? RunnerHealth.layerNoop
        : RunnerHealth.layerPing.pipe(Layer.provide(Runners.layerRpc), Layer.provide(protocol))
  ) as Any
  const storage = options?.storage ?? "sql"
  const built = runner.pipe(
    Layer.provide(health),
    Layer.provideMerge(
      storage === "local"
        ? MessageStorage.layerNoop
        : storage === "byo"
          ? Layer.empty
          : Layer.orDie(SqlMessageStorage.layer),
    ),
    Layer.provide(
      storage === "local"
        ? RunnerStorage.layerMemory
        : storage === "byo"
          ? Layer.empty
          : Layer.orDie(SqlRunnerStorage.layer),
    ),
    Layer.provide(ShardingConfig.layerFromEnv(options?.shardingConfig)),
    Layer.provide(
      options?.serialization === "ndjson"
        ? RpcSerialization.layerNdjsonWith({ maxBufferSize: options?.serializationMaxBufferSize })
        : RpcSerialization.layerMsgPackWith({ maxBufferSize: options?.serializationMaxBufferSize }),
    ),
  )
  return built as Layer.Layer<
    Sharding | Runners.Runners | ("byo" extends S ? never : MessageStorage.MessageStorage),
    (ClientOnly extends true ? never : SocketServer.SocketServerError) | ConfigError,
    Requirements<S, H>
  >
}
