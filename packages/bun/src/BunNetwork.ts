/**
 * The Bun runtime for netfx: Bun's own sockets (`Bun.connect`,
 * `Bun.listen`) for TCP, the system resolver for names.
 *
 * @since 0.1.0
 */
import { Network } from "@netfx/core"
import * as Layer from "effect/Layer"
import * as resolver from "./internal/resolver.ts"
import * as tcp from "./internal/tcp.ts"

/**
 * The Bun network service value: one field per transport driver.
 *
 * **Resource**: creating it acquires nothing; every socket belongs to the
 * Scope of the effect that opens it.
 *
 * **Errors**: none; transports Bun's layer does not provide fail with
 * `Unsupported` when used.
 *
 * **Interruption**: not applicable (pure value).
 *
 * @example
 * ```ts
 * import { Network } from "@netfx/core"
 * import { BunNetwork } from "@netfx/bun"
 * import { Layer } from "effect"
 *
 * const layer = Layer.succeed(Network.Network, BunNetwork.make())
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (): Network.NetworkService => ({
  runtime: "bun",
  resolver: resolver.system,
  tcp: tcp.driver,
})

/**
 * Provides `Network` backed by Bun's own sockets and the system resolver.
 * Requires the Bun runtime (`globalThis.Bun`).
 *
 * TCP specifics: half-close (`sendEof`) is a real `shutdown(SHUT_WR)`;
 * writes Bun's socket does not take at once are held and flushed on drain,
 * and `send` waits for them; reading pauses in the kernel while the
 * read-ahead is full; TCP_NODELAY is on by default; `reusePort` is
 * supported; `backlog` is not configurable (Bun's default queue is used).
 *
 * **Resource**: the Layer holds nothing itself; every socket belongs to the
 * Scope of the effect that opened it.
 *
 * **Errors**: none when built; socket operations report the errors
 * documented on `Tcp.connect`, `Tcp.listen` and `SocketStream`.
 *
 * **Interruption**: interrupting `Tcp.connect` closes the socket being
 * connected (on Linux a connect still in progress is aborted at once).
 *
 * @example
 * ```ts
 * import { Tcp } from "@netfx/core"
 * import { BunNetwork } from "@netfx/bun"
 * import { Effect } from "effect"
 *
 * Effect.scoped(Tcp.listen({ port: 0 })).pipe(Effect.provide(BunNetwork.layer), Effect.runPromise)
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Network.Network> = Layer.sync(Network.Network, make)
