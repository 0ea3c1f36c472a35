/**
 * The Node.js runtime for netfx: `node:net` for TCP, `node:dns` for names.
 *
 * @since 0.1.0
 */
import { Network } from "@netfx/core"
import * as Layer from "effect/Layer"
import * as resolver from "./internal/resolver.ts"
import * as tcp from "./internal/tcp.ts"
import * as unix from "./internal/unix.ts"

/**
 * The Node network service value.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (): Network.NetworkService => ({
  runtime: "node",
  resolver: resolver.system,
  tcp: tcp.driver,
  unix: unix.driver,
})

/**
 * Provides `Network` backed by Node's own sockets and the system resolver.
 *
 * **Resource**: the Layer holds nothing itself; every socket belongs to the
 * Scope of the effect that opened it.
 *
 * @example
 * ```ts
 * import { Tcp } from "@netfx/core"
 * import { NodeNetwork } from "@netfx/node"
 * import { Effect } from "effect"
 *
 * Effect.scoped(Tcp.listen({ port: 0 })).pipe(Effect.provide(NodeNetwork.layer), Effect.runPromise)
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Network.Network> = Layer.sync(Network.Network, make)
