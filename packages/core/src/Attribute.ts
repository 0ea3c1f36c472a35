/**
 * Typed attributes of a connection, in AnyIO's manner
 * (`stream.extra(SocketAttribute.local_port)`): a key names one fact and
 * its type, and `conn.attribute(key)` returns it as an `Option`.
 *
 * ```ts
 * import { Attribute, Tls, type SocketStream } from "@netfx/core"
 * import { NodeNetwork } from "@netfx/node"
 *
 * const facts = (conn: SocketStream.SocketStream) => ({
 *   peer: conn.attribute(Attribute.RemoteAddress), // Option<SocketAddress>
 *   cert: conn.attribute(Tls.PeerCertificate), // Option<Tls.PeerCertificate>
 *   socket: conn.attribute(NodeNetwork.NativeSocket), // Option<net.Socket>, Node only
 * })
 * ```
 *
 * A key is a lookup function over what the connection already holds (its
 * addresses, descriptor and the runtime's facts): asking costs nothing
 * until you ask, and a connection carries no attribute map. `None` means
 * the fact does not apply (no TLS on this stream, no descriptor on this
 * runtime), never that something failed.
 *
 * Keys for socket facts live here; TLS keys in `Tls`; keys for a runtime's
 * own socket object in `@netfx/node` (`NodeNetwork.NativeSocket`) and
 * `@netfx/bun` (`BunNetwork.NativeSocket`).
 *
 * @since 0.2.0
 */
import * as Option from "effect/Option"
import type * as SocketAddress from "./SocketAddress.ts"

const AttributeTypeId: unique symbol = Symbol.for("@netfx/core/Attribute")

/**
 * What a key's lookup reads: the facts every connection already holds.
 * `extra` are the runtime's facts by name (the driver's
 * `RawConnection.extra`); `handle` is the runtime's own socket object,
 * where there is one.
 *
 * @example
 * ```ts
 * import { Attribute, SocketAddress } from "@netfx/core"
 *
 * const facts: Attribute.Facts = {
 *   localAddress: SocketAddress.ipv4("127.0.0.1", 40000),
 *   remoteAddress: SocketAddress.ipv4("127.0.0.1", 8080),
 *   fd: 12,
 *   extra: {},
 *   handle: undefined,
 * }
 * ```
 *
 * @since 0.2.0
 * @category models
 */
export interface Facts {
  readonly localAddress: SocketAddress.SocketAddress
  readonly remoteAddress: SocketAddress.SocketAddress
  readonly fd: number | undefined
  readonly extra: Readonly<Record<string, unknown>>
  readonly handle?: unknown
}

/**
 * A typed attribute key: `name` for messages and debugging, `lookup` reads
 * the fact from a connection's {@link Facts} (`undefined`: not there).
 *
 * @example
 * ```ts
 * import { Attribute } from "@netfx/core"
 *
 * const port: Attribute.Attribute<number> = Attribute.make("localPort", (facts) =>
 *   facts.localAddress._tag === "Ipv4" || facts.localAddress._tag === "Ipv6" ? facts.localAddress.port : undefined,
 * )
 * ```
 *
 * @since 0.2.0
 * @category models
 */
export interface Attribute<A> {
  readonly [AttributeTypeId]: (_: never) => A
  readonly name: string
  readonly lookup: (facts: Facts) => A | undefined
}

/**
 * Something that has typed attributes: every `SocketStream`.
 *
 * @example
 * ```ts
 * import { Attribute } from "@netfx/core"
 * import { Option } from "effect"
 *
 * const fdOf = (conn: Attribute.HasAttributes) => Option.getOrUndefined(conn.attribute(Attribute.Fd))
 * ```
 *
 * @since 0.2.0
 * @category models
 */
export interface HasAttributes {
  /** The fact `key` names, or `None` when it does not apply to this connection. */
  attribute<A>(key: Attribute<A>): Option.Option<A>
}

/**
 * Defines a key. For library and runtime authors: `lookup` must be cheap
 * and must not throw; return `undefined` when the fact is absent.
 *
 * @example
 * ```ts
 * import { Attribute } from "@netfx/core"
 *
 * // a fact a custom driver puts into RawConnection.extra
 * const Tenant = Attribute.make("tenant", (facts) =>
 *   typeof facts.extra.tenant === "string" ? facts.extra.tenant : undefined,
 * )
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const make = <A>(name: string, lookup: (facts: Facts) => A | undefined): Attribute<A> => ({
  [AttributeTypeId]: identity as (_: never) => A,
  name,
  lookup,
})

const identity = (a: unknown) => a

/**
 * Reads `key` from `facts`. For implementers of `attribute`.
 *
 * @example
 * ```ts
 * import { Attribute, SocketAddress } from "@netfx/core"
 * import { Option } from "effect"
 * import * as assert from "node:assert"
 *
 * const facts: Attribute.Facts = {
 *   localAddress: SocketAddress.unixPath("/tmp/a.sock"),
 *   remoteAddress: SocketAddress.unixPath(""),
 *   fd: undefined,
 *   extra: {},
 * }
 * assert.deepStrictEqual(Attribute.get(facts, Attribute.Fd), Option.none())
 * ```
 *
 * @since 0.2.0
 * @category accessors
 */
export const get = <A>(facts: Facts, key: Attribute<A>): Option.Option<A> => Option.fromNullable(key.lookup(facts))

/**
 * The local end's address (the `localAddress` member, as an attribute).
 *
 * @example
 * ```ts
 * import { Attribute, type SocketStream } from "@netfx/core"
 *
 * const local = (conn: SocketStream.SocketStream) => conn.attribute(Attribute.LocalAddress)
 * ```
 *
 * @since 0.2.0
 * @category keys
 */
export const LocalAddress: Attribute<SocketAddress.SocketAddress> = make("localAddress", (f) => f.localAddress)

/**
 * The peer's address (the `remoteAddress` member, as an attribute).
 *
 * @example
 * ```ts
 * import { Attribute, type SocketStream } from "@netfx/core"
 *
 * const peer = (conn: SocketStream.SocketStream) => conn.attribute(Attribute.RemoteAddress)
 * ```
 *
 * @since 0.2.0
 * @category keys
 */
export const RemoteAddress: Attribute<SocketAddress.SocketAddress> = make("remoteAddress", (f) => f.remoteAddress)

/**
 * The local port of an IP connection; `None` for Unix sockets (AnyIO's
 * `SocketAttribute.local_port`).
 *
 * @example
 * ```ts
 * import { Attribute, type SocketStream } from "@netfx/core"
 *
 * const port = (conn: SocketStream.SocketStream) => conn.attribute(Attribute.LocalPort)
 * ```
 *
 * @since 0.2.0
 * @category keys
 */
export const LocalPort: Attribute<number> = make("localPort", (f) => portOf(f.localAddress))

/**
 * The peer's port of an IP connection; `None` for Unix sockets.
 *
 * @example
 * ```ts
 * import { Attribute, type SocketStream } from "@netfx/core"
 *
 * const port = (conn: SocketStream.SocketStream) => conn.attribute(Attribute.RemotePort)
 * ```
 *
 * @since 0.2.0
 * @category keys
 */
export const RemotePort: Attribute<number> = make("remotePort", (f) => portOf(f.remoteAddress))

const portOf = (a: SocketAddress.SocketAddress): number | undefined =>
  a._tag === "Ipv4" || a._tag === "Ipv6" ? a.port : undefined

/**
 * `"ipv4"`, `"ipv6"` or `"unix"`.
 *
 * @example
 * ```ts
 * import { Attribute, type SocketStream } from "@netfx/core"
 *
 * const family = (conn: SocketStream.SocketStream) => conn.attribute(Attribute.Family)
 * ```
 *
 * @since 0.2.0
 * @category keys
 */
export const Family: Attribute<SocketAddress.Family> = make("family", (f) =>
  f.remoteAddress._tag === "Ipv4" ? "ipv4" : f.remoteAddress._tag === "Ipv6" ? "ipv6" : "unix",
)

/**
 * The OS descriptor, where the runtime exposes one (Node, native Unix
 * sockets); `None` on Bun's own sockets and in memory. The descriptor stays
 * the connection's: do not close it.
 *
 * @example
 * ```ts
 * import { Attribute, type SocketStream } from "@netfx/core"
 *
 * const fd = (conn: SocketStream.SocketStream) => conn.attribute(Attribute.Fd)
 * ```
 *
 * @since 0.2.0
 * @category keys
 */
export const Fd: Attribute<number> = make("fd", (f) => f.fd)

/**
 * The runtime's own socket object (a `net.Socket`/`tls.TLSSocket` on Node,
 * a `Bun.Socket` on Bun), untyped: an escape hatch for options netfx does
 * not model. For a typed handle use `NodeNetwork.NativeSocket` or
 * `BunNetwork.NativeSocket`. Reading or writing through it bypasses
 * netfx's buffering and backpressure: use it for socket options, not I/O.
 *
 * @example
 * ```ts
 * import { Attribute, type SocketStream } from "@netfx/core"
 * import { Option } from "effect"
 *
 * const hasHandle = (conn: SocketStream.SocketStream) => Option.isSome(conn.attribute(Attribute.NativeHandle))
 * ```
 *
 * @since 0.2.0
 * @category keys
 */
export const NativeHandle: Attribute<unknown> = make("nativeHandle", (f) => f.handle)
