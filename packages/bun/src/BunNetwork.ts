/**
 * The Bun runtime for netfx: Bun's own sockets (`Bun.connect`,
 * `Bun.listen`) for TCP, Bun's native TLS (`socket.upgradeTLS`; a peer's
 * missing close_notify reads as EndOfStream there, Bun does not report it),
 * `Bun.udpSocket` for UDP (socket buffer sizes, which it cannot set, are
 * set on its descriptor through the `@netfx/native` addon),
 * the system resolver for names.
 *
 * @since 0.1.0
 */
import { Attribute, Network, Resolver } from "@netfx/core"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as native from "./internal/native.ts"
import * as resolver from "./internal/resolver.ts"
import * as tcp from "./internal/tcp.ts"
import * as tls from "./internal/tls/index.ts"
import * as udp from "./internal/udp.ts"
import * as unix from "./internal/unix.ts"

const nativeDriver = native.driver

/**
 * The connection's own `Bun.Socket` (the TLS one for TLS), typed:
 * `conn.attribute(BunNetwork.NativeSocket)`. An escape hatch for options
 * netfx does not model (`setKeepAlive`, `setNoDelay`, `getPeerCertificate`,
 * ...). `None` for connections Bun's sockets do not carry (native
 * fd-passing streams, the in-memory network, Node).
 *
 * Reading or writing through it bypasses netfx's buffering, backpressure
 * and interruption guarantees: use it for options, not for I/O. Its `data`
 * field belongs to netfx.
 *
 * @example
 * ```ts
 * import { Tcp } from "@netfx/core"
 * import { BunNetwork } from "@netfx/bun"
 * import { Effect, Option } from "effect"
 *
 * const program = Effect.gen(function* () {
 *   const conn = yield* Tcp.connect({ host: "127.0.0.1", port: 8080 })
 *   const socket = Option.getOrThrow(conn.attribute(BunNetwork.NativeSocket))
 *   socket.setKeepAlive(true, 10_000)
 * }).pipe(Effect.scoped, Effect.provide(BunNetwork.layer))
 * ```
 *
 * @since 0.2.0
 * @category attributes
 */
export const NativeSocket: Attribute.Attribute<BunSocket> = Attribute.make("bun.socket", (facts) =>
  isBunSocket(facts.handle) ? facts.handle : undefined,
)

/**
 * The part of Bun's `Bun.Socket` that `NativeSocket` promises, written out
 * so that these declarations type-check without `@types/bun` (a Node
 * project type-checking its imports of `@netfx/bun` has no `Bun` namespace).
 * With `@types/bun` installed, `socket as unknown as Bun.Socket` gives the
 * whole API; the object is the runtime's `Bun.Socket` either way.
 *
 * @example
 * ```ts
 * import type { BunNetwork } from "@netfx/bun"
 *
 * const tune = (socket: BunNetwork.BunSocket) => {
 *   socket.setNoDelay(true)
 *   socket.setKeepAlive(true, 10_000)
 * }
 * ```
 *
 * @since 0.2.0
 * @category attributes
 */
export interface BunSocket {
  readonly remoteAddress: string
  readonly remotePort: number
  readonly localPort: number
  setKeepAlive(enable?: boolean, initialDelay?: number): boolean
  setNoDelay(noDelay?: boolean): boolean
  ref(): void
  unref(): void
  terminate(): void
}

const isBunSocket = (u: unknown): u is BunSocket =>
  typeof u === "object" &&
  u !== null &&
  typeof (u as { terminate?: unknown }).terminate === "function" &&
  typeof (u as { upgradeTLS?: unknown }).upgradeTLS === "function"

/**
 * The Bun network service value: one field per transport driver.
 * `options.resolver` replaces the system resolver for every transport (it
 * is wrapped with `Resolver.make`, so it receives ASCII, non-numeric names).
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
export const make = (options?: {
  readonly resolver?: Resolver.ResolverService | undefined
}): Network.NetworkService => ({
  runtime: "bun",
  resolver: options?.resolver === undefined ? resolver.system : Resolver.make(options.resolver),
  tcp: tcp.driver,
  tls: tls.driver,
  udp: udp.driver,
  unix: unix.driver,
  native: nativeDriver,
})

/**
 * Provides `Network` backed by Bun's own sockets and the system resolver,
 * and that resolver as `Resolver`. Requires the Bun runtime
 * (`globalThis.Bun`). To replace the resolver, see {@link layerWithResolver}.
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
export const layer: Layer.Layer<Network.Network | Resolver.Resolver> = Layer.suspend(() =>
  Layer.provideMerge(layerWithResolver, layerResolver),
)

/**
 * The system resolver (getaddrinfo/getnameinfo through Bun's `node:dns`) as
 * a `Resolver` layer, for building a network around a wrapped resolver.
 *
 * **Resource**: none.
 *
 * @example
 * ```ts
 * import { Resolver } from "@netfx/core"
 * import { BunNetwork } from "@netfx/bun"
 * import { Layer } from "effect"
 *
 * const CachedNetwork = BunNetwork.layerWithResolver.pipe(
 *   Layer.provideMerge(Resolver.layerCached({ ttl: "30 seconds" })),
 *   Layer.provide(BunNetwork.layerResolver),
 * )
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerResolver: Layer.Layer<Resolver.Resolver> = Layer.succeed(Resolver.Resolver, resolver.system)

/**
 * Provides `Network` backed by Bun's sockets, resolving host names with the
 * `Resolver` in context (Trio's custom hostname resolver, the Effect way).
 * Use `Layer.provideMerge` to keep `Resolver` available to
 * `Resolver.getaddrinfo` too.
 *
 * **Resource**: none; sockets belong to the Scopes that open them.
 *
 * @example
 * ```ts
 * import { Resolver, Tcp } from "@netfx/core"
 * import { BunNetwork } from "@netfx/bun"
 * import { Effect, Layer } from "effect"
 *
 * const TestNetwork = BunNetwork.layerWithResolver.pipe(
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
