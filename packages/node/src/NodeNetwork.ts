/**
 * The Node.js runtime for netfx: `node:net` for TCP, `node:dgram` for UDP,
 * `node:dns` for names. `reusePort` (SO_REUSEPORT) works on every supported
 * Node: from 22.12 `node:net`/`node:dgram` set it; before, the
 * `@netfx/native` addon opens and binds the socket and Node adopts the
 * descriptor (without the addon: `Unsupported` naming the fix).
 *
 * @since 0.1.0
 */
import * as net from "node:net"
import { Attribute, Network, Resolver } from "@netfx/core"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as native from "./internal/native.ts"
import * as resolver from "./internal/resolver.ts"
import * as tcp from "./internal/tcp.ts"
import * as tls from "./internal/tls.ts"
import * as udp from "./internal/udp.ts"
import * as unix from "./internal/unix.ts"

const nativeDriver = native.driver

/**
 * The connection's own `net.Socket` (a `tls.TLSSocket` for TLS), typed:
 * `conn.attribute(NodeNetwork.NativeSocket)`. An escape hatch for socket
 * options netfx does not model (`setTimeout`, `setKeepAlive` with other
 * values, ...). `None` for connections Node's sockets do not carry (native
 * fd-passing streams, the in-memory network, Bun).
 *
 * Reading or writing through it bypasses netfx's buffering, backpressure
 * and interruption guarantees: use it for options, not for I/O. Closing it
 * closes the connection under netfx (later operations fail with
 * `BrokenResource` or read `EndOfStream`).
 *
 * @example
 * ```ts
 * import { Tcp } from "@netfx/core"
 * import { NodeNetwork } from "@netfx/node"
 * import { Effect, Option } from "effect"
 *
 * const program = Effect.gen(function* () {
 *   const conn = yield* Tcp.connect({ host: "127.0.0.1", port: 8080 })
 *   const socket = Option.getOrThrow(conn.attribute(NodeNetwork.NativeSocket))
 *   socket.setKeepAlive(true, 10_000)
 * }).pipe(Effect.scoped, Effect.provide(NodeNetwork.layer))
 * ```
 *
 * @since 0.2.0
 * @category attributes
 */
export const NativeSocket: Attribute.Attribute<net.Socket> = Attribute.make("node.socket", (facts) =>
  facts.handle instanceof net.Socket ? facts.handle : undefined,
)

/**
 * The Node network service value. `options.resolver` replaces the system
 * resolver for every transport (it is wrapped with `Resolver.make`, so it
 * receives ASCII, non-numeric names only).
 *
 * **Resource**: none; the value holds only the drivers, and every socket
 * belongs to the Scope of the effect that opened it.
 *
 * **Errors**: none here; each transport reports its own when used.
 *
 * @example
 * ```ts
 * import { Network, Resolver } from "@netfx/core"
 * import { NodeNetwork } from "@netfx/node"
 * import { Layer } from "effect"
 * import * as assert from "node:assert"
 *
 * const network = NodeNetwork.make({ resolver: Resolver.makeStatic({ "db.test": "127.0.0.1" }) })
 * assert.strictEqual(network.runtime, "node")
 * const PinnedNetwork = Layer.succeed(Network.Network, network)
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options?: {
  readonly resolver?: Resolver.ResolverService | undefined
}): Network.NetworkService => ({
  runtime: "node",
  resolver: options?.resolver === undefined ? resolver.system : Resolver.make(options.resolver),
  tcp: tcp.driver,
  udp: udp.driver,
  tls: tls.driver,
  unix: unix.driver,
  native: nativeDriver,
})

/**
 * Provides `Network` backed by Node's own sockets and the system resolver,
 * and that resolver as `Resolver` (for `Resolver.getaddrinfo`). To replace
 * the resolver, see {@link layerWithResolver}.
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
export const layer: Layer.Layer<Network.Network | Resolver.Resolver> = Layer.suspend(() =>
  Layer.provideMerge(layerWithResolver, layerResolver),
)

/**
 * The system resolver (getaddrinfo/getnameinfo through `node:dns`) as a
 * `Resolver` layer, for building a network around a wrapped resolver.
 *
 * **Resource**: none.
 *
 * @example
 * ```ts
 * import { Resolver } from "@netfx/core"
 * import { NodeNetwork } from "@netfx/node"
 * import { Layer } from "effect"
 *
 * const CachedNetwork = NodeNetwork.layerWithResolver.pipe(
 *   Layer.provideMerge(Resolver.layerCached({ ttl: "30 seconds" })),
 *   Layer.provide(NodeNetwork.layerResolver),
 * )
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerResolver: Layer.Layer<Resolver.Resolver> = Layer.succeed(Resolver.Resolver, resolver.system)

/**
 * Provides `Network` backed by Node's sockets, resolving host names with the
 * `Resolver` in context — how you replace name resolution for every
 * transport (Trio's custom hostname resolver): provide
 * `Resolver.layerStatic(...)`, your own `Resolver.layer(...)`, or a wrapped
 * system resolver. Use `Layer.provideMerge` to keep `Resolver` available to
 * `Resolver.getaddrinfo` too.
 *
 * **Resource**: none; sockets belong to the Scopes that open them.
 *
 * @example
 * ```ts
 * import { Resolver, Tcp } from "@netfx/core"
 * import { NodeNetwork } from "@netfx/node"
 * import { Effect, Layer } from "effect"
 *
 * const TestNetwork = NodeNetwork.layerWithResolver.pipe(
 *   Layer.provide(Resolver.layerStatic({ "db.test": ["::1", "127.0.0.1"] })),
 * )
 * const conn = Tcp.connect({ host: "db.test", port: 5432 }).pipe(Effect.scoped, Effect.provide(TestNetwork))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerWithResolver: Layer.Layer<Network.Network, never, Resolver.Resolver> = Layer.effect(
  Network.Network,
  Effect.map(Resolver.Resolver, (service) => make({ resolver: service })),
)
