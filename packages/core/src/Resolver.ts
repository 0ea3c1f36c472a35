/**
 * Name resolution as a service: `getaddrinfo` / `getnameinfo`, replaceable
 * with a Layer (Trio's `set_custom_hostname_resolver`, done the Effect way).
 *
 * Two halves:
 * - a **resolver implementation** (`ResolverService`): the system resolver
 *   of a runtime (`NodeNetwork.layerResolver`, `BunNetwork.layerResolver`),
 *   the static map resolver ({@link layerStatic}), or your own;
 * - the **front** every lookup goes through ({@link make}, {@link lookup}):
 *   it strips `[...]`, answers numeric hosts itself (IPv4, IPv6 with a
 *   `%scope`) without calling the implementation, converts non-ASCII names
 *   to ASCII with IDNA 2008 (UTS #46, non-transitional: `straße.de` →
 *   `xn--strae-oqa.de`, never the IDNA 2003 `strasse.de`), applies the
 *   family / socket type / flag semantics and maps failures to
 *   `ResolveFailed` with the EAI code and the host asked for. An
 *   implementation therefore only ever sees ASCII, non-numeric names.
 *
 * Every transport that takes a host name resolves it through the resolver
 * its `Network` captured (`NetworkService.resolver`). To replace it, build
 * the network from a `Resolver` in context:
 *
 * ```ts
 * import { Resolver } from "@netfx/core"
 * import { NodeNetwork } from "@netfx/node"
 * import * as Layer from "effect/Layer"
 *
 * // Network + Resolver, both answering from the map:
 * const TestNetwork = NodeNetwork.layerWithResolver.pipe(
 *   Layer.provideMerge(Resolver.layerStatic({ "db.internal": ["::1", "127.0.0.1"] })),
 * )
 * // the system resolver, cached for 30 seconds:
 * const Cached = NodeNetwork.layerWithResolver.pipe(
 *   Layer.provideMerge(Resolver.layerCached({ ttl: "30 seconds" })),
 *   Layer.provide(NodeNetwork.layerResolver),
 * )
 * ```
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import { cached as cachedImpl } from "./internal/resolver/cache.ts"
import { make as makeFront } from "./internal/resolver/front.ts"
import { toAscii as toAsciiImpl } from "./internal/resolver/idna.ts"
import { logged as loggedImpl } from "./internal/resolver/logged.ts"
import { lookup as lookupImpl } from "./internal/resolver/lookup.ts"
import { wellKnownService as wellKnownImpl } from "./internal/resolver/services.ts"
import { makeStatic as makeStaticImpl } from "./internal/resolver/static.ts"
import type { ResolveFailed } from "./NetError.ts"
import type * as SocketAddress from "./SocketAddress.ts"

// ---------------------------------------------------------------------------
// constants
// ---------------------------------------------------------------------------

/**
 * `getaddrinfo` flag: addresses for binding (a missing host means the
 * wildcard address). Values match glibc's.
 *
 * @example
 * ```ts
 * import { Resolver } from "@netfx/core"
 *
 * // what `Tcp.listen({ host })` asks for: addresses to bind on
 * const options: Resolver.LookupOptions = { type: "stream", flags: Resolver.AI_PASSIVE }
 * const bindable = Resolver.getaddrinfo("localhost", 8080, options)
 * ```
 *
 * @since 0.1.0
 * @category constants
 */
export const AI_PASSIVE = 0x0001
/**
 * `getaddrinfo` flag: report the canonical name (in the first result's
 * `canonicalName`).
 *
 * @example
 * ```ts
 * import { Resolver } from "@netfx/core"
 * import { Effect } from "effect"
 * import * as assert from "node:assert"
 *
 * const r = Resolver.makeStatic({ "www.test": "web.test", "web.test": "10.0.0.1" })
 * const [first] = Effect.runSync(r.getaddrinfo("www.test", 80, { type: "stream", flags: Resolver.AI_CANONNAME }))
 * assert.strictEqual(first?.canonicalName, "web.test")
 * ```
 *
 * @since 0.1.0
 * @category constants
 */
export const AI_CANONNAME = 0x0002
/**
 * `getaddrinfo` flag: the host must be numeric; names fail with
 * `EAI_NONAME` without any lookup.
 *
 * @example
 * ```ts
 * import { Resolver } from "@netfx/core"
 * import { Effect } from "effect"
 * import * as assert from "node:assert"
 *
 * const r = Resolver.makeStatic({ "a.test": "10.0.0.1" })
 * const error = Effect.runSync(Effect.flip(r.getaddrinfo("a.test", 80, { flags: Resolver.AI_NUMERICHOST })))
 * assert.strictEqual(error.code, "EAI_NONAME")
 * ```
 *
 * @since 0.1.0
 * @category constants
 */
export const AI_NUMERICHOST = 0x0004
/**
 * `getaddrinfo` flag: with `family: 6`, report IPv4 results as IPv4-mapped
 * IPv6 addresses (`::ffff:a.b.c.d`) when there are no IPv6 results.
 *
 * @example
 * ```ts
 * import { Resolver } from "@netfx/core"
 * import { Effect } from "effect"
 * import * as assert from "node:assert"
 *
 * const r = Resolver.makeStatic({ "v4.test": "10.0.0.1" })
 * const infos = Effect.runSync(r.getaddrinfo("v4.test", 80, { family: 6, type: "stream", flags: Resolver.AI_V4MAPPED }))
 * assert.strictEqual(infos[0]?.address.host, "::ffff:10.0.0.1")
 * ```
 *
 * @since 0.1.0
 * @category constants
 */
export const AI_V4MAPPED = 0x0008
/**
 * `getaddrinfo` flag: with `AI_V4MAPPED`, report IPv6 results *and* mapped
 * IPv4 results.
 *
 * @example
 * ```ts
 * import { Resolver } from "@netfx/core"
 * import { Effect } from "effect"
 * import * as assert from "node:assert"
 *
 * const r = Resolver.makeStatic({ "dual.test": ["::1", "10.0.0.1"] })
 * const flags = Resolver.AI_V4MAPPED | Resolver.AI_ALL
 * const infos = Effect.runSync(r.getaddrinfo("dual.test", 80, { family: 6, type: "stream", flags }))
 * assert.deepStrictEqual(
 *   infos.map((i) => i.address.host),
 *   ["::1", "::ffff:10.0.0.1"],
 * )
 * ```
 *
 * @since 0.1.0
 * @category constants
 */
export const AI_ALL = 0x0010
/**
 * `getaddrinfo` flag: only families the host has a configured address of.
 *
 * @example
 * ```ts
 * import { Resolver } from "@netfx/core"
 * import { NodeNetwork } from "@netfx/node"
 * import { Effect } from "effect"
 *
 * // no IPv6 answers on a host without an IPv6 address (the platform decides)
 * const usable = Resolver.getaddrinfo("localhost", 80, { type: "stream", flags: Resolver.AI_ADDRCONFIG }).pipe(
 *   Effect.provide(NodeNetwork.layerResolver),
 * )
 * ```
 *
 * @since 0.1.0
 * @category constants
 */
export const AI_ADDRCONFIG = 0x0020
/**
 * `getaddrinfo` flag: the service must be a port number; a service name
 * (`"https"`) fails with `EAI_NONAME` without a services lookup.
 *
 * @example
 * ```ts
 * import { Resolver } from "@netfx/core"
 * import { Effect } from "effect"
 * import * as assert from "node:assert"
 *
 * const r = Resolver.makeStatic({ "web.test": "10.0.0.8" })
 * const error = Effect.runSync(Effect.flip(Resolver.lookup(r, "web.test", "https", { flags: Resolver.AI_NUMERICSERV })))
 * assert.strictEqual(error.code, "EAI_NONAME")
 * ```
 *
 * @since 0.1.0
 * @category constants
 */
export const AI_NUMERICSERV = 0x0400
/**
 * `getnameinfo` flag: the host as a numeric address, no reverse lookup.
 *
 * @example
 * ```ts
 * import { Resolver, SocketAddress } from "@netfx/core"
 * import { Effect } from "effect"
 * import * as assert from "node:assert"
 *
 * const r = Resolver.makeStatic({ "db.test": "10.0.0.5" })
 * const address = SocketAddress.ipv4("10.0.0.5", 5432)
 * assert.strictEqual(Effect.runSync(r.getnameinfo(address)).host, "db.test")
 * assert.strictEqual(Effect.runSync(r.getnameinfo(address, Resolver.NI_NUMERICHOST)).host, "10.0.0.5")
 * ```
 *
 * @since 0.1.0
 * @category constants
 */
export const NI_NUMERICHOST = 0x01
/**
 * `getnameinfo` flag: the service as a port number, no services lookup.
 *
 * @example
 * ```ts
 * import { Resolver, SocketAddress } from "@netfx/core"
 * import { Effect } from "effect"
 * import * as assert from "node:assert"
 *
 * const r = Resolver.makeStatic({ "db.test": "10.0.0.5" })
 * const info = Effect.runSync(r.getnameinfo(SocketAddress.ipv4("10.0.0.5", 5432), Resolver.NI_NUMERICSERV))
 * assert.deepStrictEqual(info, { host: "db.test", service: "5432" })
 * ```
 *
 * @since 0.1.0
 * @category constants
 */
export const NI_NUMERICSERV = 0x02
/**
 * `getnameinfo` flag: only the host part of local names.
 *
 * @example
 * ```ts
 * import { Resolver, SocketAddress } from "@netfx/core"
 * import { Effect } from "effect"
 * import * as assert from "node:assert"
 *
 * const r = Resolver.makeStatic({ "db.corp.test": "10.0.0.5" })
 * const info = Effect.runSync(r.getnameinfo(SocketAddress.ipv4("10.0.0.5", 5432), Resolver.NI_NOFQDN))
 * assert.strictEqual(info.host, "db")
 * ```
 *
 * @since 0.1.0
 * @category constants
 */
export const NI_NOFQDN = 0x04
/**
 * `getnameinfo` flag: fail (`ENOTFOUND`) instead of answering with the
 * numeric host when the address has no name.
 *
 * @example
 * ```ts
 * import { Resolver, SocketAddress } from "@netfx/core"
 * import { Effect } from "effect"
 * import * as assert from "node:assert"
 *
 * const r = Resolver.makeStatic({})
 * const address = SocketAddress.ipv4("10.9.9.9", 80)
 * assert.strictEqual(Effect.runSync(r.getnameinfo(address)).host, "10.9.9.9")
 * const error = Effect.runSync(Effect.flip(r.getnameinfo(address, Resolver.NI_NAMEREQD)))
 * assert.strictEqual(error.code, "ENOTFOUND")
 * ```
 *
 * @since 0.1.0
 * @category constants
 */
export const NI_NAMEREQD = 0x08
/**
 * `getnameinfo` flag: the service is a datagram service (`udp`).
 *
 * @example
 * ```ts
 * import { Resolver, SocketAddress } from "@netfx/core"
 *
 * // the name of UDP port 53; the system resolver ignores NI_DGRAM (services are looked up as TCP)
 * const service = Resolver.getnameinfo(SocketAddress.ipv4("127.0.0.1", 53), Resolver.NI_NUMERICHOST | Resolver.NI_DGRAM)
 * ```
 *
 * @since 0.1.0
 * @category constants
 */
export const NI_DGRAM = 0x10

// ---------------------------------------------------------------------------
// models
// ---------------------------------------------------------------------------

/**
 * The socket type an address is for.
 *
 * @example
 * ```ts
 * import { Resolver } from "@netfx/core"
 * import { Effect } from "effect"
 * import * as assert from "node:assert"
 *
 * // no `type` asked for: every address once per socket type
 * const infos = Effect.runSync(Resolver.makeStatic({ "a.test": "10.0.0.1" }).getaddrinfo("a.test", 53))
 * const types: ReadonlyArray<Resolver.SocketType | undefined> = infos.map((i) => i.type)
 * assert.deepStrictEqual(types, ["stream", "dgram"])
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type SocketType = "stream" | "dgram"

/**
 * One result of `getaddrinfo`.
 *
 * @example
 * ```ts
 * import { Resolver, SocketAddress } from "@netfx/core"
 * import { Effect } from "effect"
 * import * as assert from "node:assert"
 *
 * const r = Resolver.makeStatic({ "a.test": "::1" })
 * const [info]: ReadonlyArray<Resolver.AddressInfo> = Effect.runSync(r.getaddrinfo("a.test", 443, { type: "stream" }))
 * assert.ok(info)
 * assert.strictEqual(info.family, 6)
 * assert.strictEqual(info.protocol, 6)
 * assert.strictEqual(SocketAddress.format(info.address), "[::1]:443")
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface AddressInfo {
  readonly family: 4 | 6
  /** The socket type; always set in answers of the front ({@link make}), optional for implementations. */
  readonly type?: SocketType | undefined
  /** The IP protocol number: 6 (TCP) for streams, 17 (UDP) for datagrams; always set by the front. */
  readonly protocol?: number | undefined
  /** Set on the first result when `AI_CANONNAME` was asked for. */
  readonly canonicalName?: string | undefined
  readonly address: SocketAddress.Ipv4 | SocketAddress.Ipv6
}

/**
 * Options of `getaddrinfo`.
 *
 * @example
 * ```ts
 * import { Resolver } from "@netfx/core"
 *
 * const options: Resolver.LookupOptions = { family: 4, type: "dgram", flags: Resolver.AI_ADDRCONFIG }
 * const infos = Resolver.getaddrinfo("localhost", 53, options)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface LookupOptions {
  /** Restrict to one family (`0`, the default, means any). */
  readonly family?: 0 | 4 | 6
  /**
   * The socket type the addresses are for. Omitted: every address is
   * reported once per type (`stream`, then `dgram`), as `getaddrinfo` does.
   */
  readonly type?: SocketType
  /** The protocol (6 TCP, 17 UDP); by default derived from `type`. */
  readonly protocol?: number
  /** `AI_*` flags as a bit set (`AI_CANONNAME | AI_ADDRCONFIG`, ...). */
  readonly flags?: number
}

/**
 * The result of `getnameinfo`.
 *
 * @example
 * ```ts
 * import { Resolver, SocketAddress } from "@netfx/core"
 * import { Effect } from "effect"
 * import * as assert from "node:assert"
 *
 * const r = Resolver.makeStatic({ "db.test": "10.0.0.5" })
 * const info: Resolver.NameInfo = Effect.runSync(r.getnameinfo(SocketAddress.ipv4("10.0.0.5", 5432)))
 * assert.deepStrictEqual(info, { host: "db.test", service: "5432" })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface NameInfo {
  readonly host: string
  readonly service: string
}

/**
 * The resolver service: what a `Resolver` implementation provides and what
 * transports call.
 *
 * An implementation receives ASCII, non-numeric host names only (the
 * front, {@link make}, handles the rest) and may ignore `type`/`protocol`
 * (the front sets them). Values from {@link make} — every layer of this
 * module and of the runtimes — accept any host.
 *
 * @example
 * ```ts
 * import { NetError, Resolver, SocketAddress } from "@netfx/core"
 * import { Effect } from "effect"
 *
 * // every name is 10.0.0.1; no reverse names
 * const fixed: Resolver.ResolverService = {
 *   getaddrinfo: (_host, port) => Effect.succeed([{ family: 4, address: SocketAddress.ipv4("10.0.0.1", port) }]),
 *   getnameinfo: (address) => Effect.fail(new NetError.ResolveFailed({ host: address.host, code: "ENOTFOUND" })),
 * }
 * const FixedResolver = Resolver.layer(fixed)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface ResolverService {
  /**
   * Resolves `host` (a name or a numeric address) for `port`.
   *
   * **Errors**: `ResolveFailed` with the EAI code and the host.
   * **Interruption**: stops waiting; the platform lookup may finish in the
   * background and its result is dropped.
   */
  readonly getaddrinfo: (
    host: string,
    port: number,
    options?: LookupOptions,
  ) => Effect.Effect<ReadonlyArray<AddressInfo>, ResolveFailed>
  /**
   * Turns an address back into a host name and service name.
   *
   * **Errors**: `ResolveFailed` with the EAI code.
   * **Interruption**: stops waiting; the result is dropped.
   */
  readonly getnameinfo: (
    address: SocketAddress.Ipv4 | SocketAddress.Ipv6,
    flags?: number,
  ) => Effect.Effect<NameInfo, ResolveFailed>
  /**
   * Optional: the port of a service name (`"https"`, an alias such as
   * `"www"`) for a protocol, or `undefined` when the services database has
   * no such entry; the system resolver reads `/etc/services`. Omitted:
   * {@link lookup} uses netfx's table of well-known services
   * ({@link wellKnownService}).
   *
   * **Errors**: none (a missing entry is `undefined`).
   */
  readonly getservbyname?: ((name: string, protocol: "tcp" | "udp") => Effect.Effect<number | undefined>) | undefined
}

/**
 * The `Resolver` service tag. Runtime layers (`NodeNetwork.layer`) provide
 * it next to `Network`; `NodeNetwork.layerWithResolver` builds a `Network`
 * from whichever `Resolver` you provide.
 *
 * @example
 * ```ts
 * import { Resolver } from "@netfx/core"
 * import { Effect } from "effect"
 *
 * const lookup = Effect.flatMap(Resolver.Resolver, (r) => r.getaddrinfo("localhost", 80))
 * ```
 *
 * @since 0.1.0
 * @category tags
 */
export class Resolver extends Context.Tag("@netfx/core/Resolver")<Resolver, ResolverService>() {}

// ---------------------------------------------------------------------------
// IDNA
// ---------------------------------------------------------------------------

/**
 * Converts a host name to its ASCII (A-label) form with IDNA 2008, UTS #46
 * non-transitional processing: `straße.de` → `xn--strae-oqa.de`, `faß.de`
 * → `xn--fa-hia.de`, `ＡＢＣ.com` → `abc.com`. ASCII hosts are returned
 * unchanged (no case folding), as `getaddrinfo` would see them; the only
 * check they get is that each A-label (a label starting `xn--`) is a valid
 * one, which the same UTS #46 processing decides (`xn--zz` is not), so an
 * invalid A-label is refused locally on every runtime instead of being
 * sent to DNS.
 *
 * Uses the platform's WHATWG URL host parser, whose domain-to-ASCII step is
 * UTS #46 non-transitional with CheckBidi and CheckJoiners (the same
 * mapping on Node, Bun, Deno and browsers; verified equal on Node 20 and
 * Bun 1.4 for the test vectors).
 *
 * **Errors**: `ResolveFailed` with code `EAI_IDN_ENCODE` for a name with no
 * valid ASCII form (a disallowed code point, a bad joiner, URL syntax
 * characters) or with an invalid A-label (`xn--zz`, ASCII or not).
 *
 * @example
 * ```ts
 * import { Resolver } from "@netfx/core"
 * import { Either } from "effect"
 * import * as assert from "node:assert"
 *
 * assert.deepStrictEqual(Resolver.toAscii("straße.de"), Either.right("xn--strae-oqa.de"))
 * ```
 *
 * @since 0.1.0
 * @category idna
 */
export const toAscii = (host: string): Either.Either<string, ResolveFailed> => toAsciiImpl(host)

// ---------------------------------------------------------------------------
// the front
// ---------------------------------------------------------------------------

/**
 * Wraps a resolver implementation in the front every lookup goes through:
 * numeric hosts (IPv4; IPv6 with or without `[...]` and `%scope`) are
 * answered without calling `impl`; non-ASCII names are converted with
 * {@link toAscii} first, so `impl` receives `xn--strae-oqa.de` for
 * `straße.de`; family (`AI_V4MAPPED`, `AI_ALL`), `AI_NUMERICHOST`,
 * `AI_CANONNAME` and the socket type are applied to `impl`'s answer;
 * `NI_NUMERICHOST` / `NI_NUMERICSERV` skip the reverse lookup; an address
 * without a name reads as its numeric form unless `NI_NAMEREQD`. Applying
 * it to a value it already made returns that value.
 *
 * **Errors** (of the returned service): `ResolveFailed` with the host as
 * the caller wrote it and the EAI code: `ENOTFOUND` (no such name / no
 * address), `EAI_ADDRFAMILY` (no address of the asked family),
 * `EAI_NONAME` (a name under `AI_NUMERICHOST`), `EAI_SERVICE` (bad port),
 * `EAI_IDN_ENCODE` (no IDNA form), or whatever `impl` reports
 * (`EAI_AGAIN`, `EAI_FAIL`, ...).
 *
 * @example
 * ```ts
 * import { NetError, Resolver } from "@netfx/core"
 * import { Effect } from "effect"
 *
 * const seen: Array<string> = []
 * const custom = Resolver.make({
 *   getaddrinfo: (host) => {
 *     seen.push(host) // "xn--strae-oqa.de"
 *     return Effect.fail(new NetError.ResolveFailed({ host, code: "ENOTFOUND" }))
 *   },
 *   getnameinfo: (address) => Effect.succeed({ host: address.host, service: String(address.port) }),
 * })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (impl: ResolverService): ResolverService => makeFront(impl)

// ---------------------------------------------------------------------------
// lookups
// ---------------------------------------------------------------------------

/**
 * The port of a well-known service in netfx's own table (IANA names and
 * ports with their usual aliases, as Debian's `/etc/services` lists them;
 * e.g. `https` 443 for TCP and UDP, `domain` 53, `ntp` 123 for UDP only).
 * Resolvers without a services database of their own (static, memory)
 * use it, and so does the system resolver where `/etc/services` is
 * missing. Names are case-sensitive, as for getservbyname(3).
 *
 * @example
 * ```ts
 * import { Resolver } from "@netfx/core"
 * import * as assert from "node:assert"
 *
 * assert.strictEqual(Resolver.wellKnownService("https", "tcp"), 443)
 * assert.strictEqual(Resolver.wellKnownService("ntp", "tcp"), undefined) // UDP only
 * ```
 *
 * @since 0.1.0
 * @category lookups
 */
export const wellKnownService = (name: string, protocol: "tcp" | "udp"): number | undefined =>
  wellKnownImpl(name, protocol)

/**
 * Resolves through a given resolver service (normally `network.resolver`)
 * with the front's semantics ({@link make}): numeric hosts skip
 * resolution, names are converted with IDNA 2008 first. This is the
 * function transports (TCP, UDP, TLS) call.
 *
 * `port` is a number or a service, as for getaddrinfo(3): `"443"`, or a
 * name (`"https"`, `"domain"`) looked up for each asked socket type in the
 * resolver's services database ({@link ResolverService.getservbyname};
 * {@link wellKnownService} when it has none) — a type the service does
 * not exist for is left out (`ntp` is UDP only). `host` `null` is
 * getaddrinfo(NULL, ...): the loopback addresses (`::1`, `127.0.0.1`), or
 * the wildcards with `AI_PASSIVE` — Trio's `getaddrinfo(None, service)`.
 *
 * **Errors**: `ResolveFailed` with the EAI code and the host: those of
 * {@link make}, and for a service `EAI_SERVICE` (no such service for the
 * asked types, or a port out of range) or `EAI_NONAME` (a name under
 * {@link AI_NUMERICSERV}).
 *
 * **Interruption**: stops waiting; a platform lookup may finish in the
 * background and its result is dropped.
 *
 * @example
 * ```ts
 * import { Network, Resolver } from "@netfx/core"
 * import { Effect } from "effect"
 *
 * const addresses = Effect.flatMap(Network.Network, (network) =>
 *   Resolver.lookup(network.resolver, "localhost", 80, { type: "stream" }),
 * )
 * ```
 *
 * @since 0.1.0
 * @category lookups
 */
export const lookup = (
  service: ResolverService,
  host: string | null,
  port: number | string,
  options?: LookupOptions,
): Effect.Effect<ReadonlyArray<AddressInfo>, ResolveFailed> => lookupImpl(service, host, port, options)

/**
 * `getaddrinfo` through the `Resolver` in context: every result (family,
 * type, protocol, address; the canonical name on the first one with
 * `AI_CANONNAME`). `port` may be a service (`"https"`) and `host` `null`,
 * as in {@link lookup}.
 *
 * **Errors**: `ResolveFailed` with the EAI code and the host (see
 * {@link lookup}).
 *
 * **Interruption**: stops waiting; the platform lookup may finish in the
 * background and its result is dropped.
 *
 * @example
 * ```ts
 * import { Resolver } from "@netfx/core"
 * import { NodeNetwork } from "@netfx/node"
 * import { Effect } from "effect"
 *
 * const infos = Resolver.getaddrinfo("localhost", 80, { type: "stream" }).pipe(
 *   Effect.provide(NodeNetwork.layerResolver),
 * )
 * // Trio's `getaddrinfo(None, "https")` (instead of `getservbyname`): ::1 and 127.0.0.1, port 443
 * const https = Resolver.getaddrinfo(null, "https").pipe(Effect.provide(NodeNetwork.layerResolver))
 * ```
 *
 * @since 0.1.0
 * @category lookups
 */
export const getaddrinfo = (
  host: string | null,
  port: number | string,
  options?: LookupOptions,
): Effect.Effect<ReadonlyArray<AddressInfo>, ResolveFailed, Resolver> =>
  Effect.flatMap(Resolver, (service) => lookup(service, host, port, options))

/**
 * `getnameinfo` through the `Resolver` in context: the host name and
 * service name of an address. `NI_NUMERICHOST` / `NI_NUMERICSERV` give the
 * numeric forms (both together: no lookup at all); an address with no name
 * reads as its numeric form unless `NI_NAMEREQD`.
 *
 * **Errors**: `ResolveFailed` with the EAI code (`ENOTFOUND` under
 * `NI_NAMEREQD`).
 *
 * **Interruption**: stops waiting; the result is dropped.
 *
 * @example
 * ```ts
 * import { Resolver, SocketAddress } from "@netfx/core"
 * import { NodeNetwork } from "@netfx/node"
 * import { Effect } from "effect"
 *
 * // Trio's `getnameinfo(("127.0.0.1", port), NI_NUMERICHOST)`: the service name of a port
 * const service = Resolver.getnameinfo(SocketAddress.ipv4("127.0.0.1", 22), Resolver.NI_NUMERICHOST).pipe(
 *   Effect.map((info) => info.service), // "ssh"
 *   Effect.provide(NodeNetwork.layerResolver),
 * )
 * ```
 *
 * @since 0.1.0
 * @category lookups
 */
export const getnameinfo = (
  address: SocketAddress.Ipv4 | SocketAddress.Ipv6,
  flags = 0,
): Effect.Effect<NameInfo, ResolveFailed, Resolver> =>
  Effect.flatMap(Resolver, (service) => make(service).getnameinfo(address, flags))

/**
 * A `Resolver` layer from an implementation (wrapped with {@link make}).
 *
 * **Resource**: none; the layer holds only the service value.
 *
 * @example
 * ```ts
 * import { NetError, Resolver } from "@netfx/core"
 * import { Effect } from "effect"
 *
 * const NoNames = Resolver.layer({
 *   getaddrinfo: (host) => Effect.fail(new NetError.ResolveFailed({ host, code: "ENOTFOUND" })),
 *   getnameinfo: (address) => Effect.succeed({ host: address.host, service: String(address.port) }),
 * })
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (impl: ResolverService): Layer.Layer<Resolver> => Layer.succeed(Resolver, make(impl))

// ---------------------------------------------------------------------------
// the static resolver
// ---------------------------------------------------------------------------

/**
 * Entries of a static resolver: each name maps to numeric addresses (both
 * families, in the order given) or to other names of the map (aliases,
 * followed like CNAMEs; the last name is the canonical name).
 *
 * @example
 * ```ts
 * import { Resolver } from "@netfx/core"
 * import { Effect } from "effect"
 * import * as assert from "node:assert"
 *
 * const entries: Resolver.StaticEntries = { "db.test": ["::1", "127.0.0.1"], "primary.test": "db.test" }
 * const infos = Effect.runSync(Resolver.makeStatic(entries).getaddrinfo("primary.test", 5432, { type: "stream" }))
 * assert.deepStrictEqual(
 *   infos.map((i) => i.address.host),
 *   ["::1", "127.0.0.1"],
 * )
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type StaticEntries = Readonly<Record<string, string | ReadonlyArray<string>>>

/**
 * Options of {@link makeStatic}.
 *
 * @example
 * ```ts
 * import { Resolver } from "@netfx/core"
 * import { NodeNetwork } from "@netfx/node"
 * import { Effect, Layer } from "effect"
 *
 * // pin one name, ask the runtime's system resolver for every other
 * const Pinned = Layer.effect(
 *   Resolver.Resolver,
 *   Effect.map(Resolver.Resolver, (system) => {
 *     const options: Resolver.StaticOptions = { fallback: system }
 *     return Resolver.makeStatic({ "db.test": "127.0.0.1" }, options)
 *   }),
 * ).pipe(Layer.provide(NodeNetwork.layerResolver))
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface StaticOptions {
  /** Asked for names (and addresses) the map does not know; otherwise they fail with `ENOTFOUND`. */
  readonly fallback?: ResolverService
}

/**
 * A resolver answering from a fixed map — for tests and for pinning names.
 * Names match case-insensitively, after IDNA conversion and without a
 * trailing dot (`"straße.de"` and `"XN--STRAE-OQA.DE."` are one entry).
 * Reverse lookups (`getnameinfo`) answer with the first name listing the
 * address; services are numeric.
 *
 * **Errors** (of the service): `ResolveFailed` with `ENOTFOUND` for names
 * it does not know (unless a `fallback` is given), `EAI_FAIL` for an alias
 * loop.
 *
 * @example
 * ```ts
 * import { Resolver } from "@netfx/core"
 *
 * const service = Resolver.makeStatic({
 *   "db.test": ["::1", "127.0.0.1"],
 *   "primary.test": "db.test",
 * })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeStatic = (entries: StaticEntries, options: StaticOptions = {}): ResolverService =>
  makeStaticImpl(entries, options)

/**
 * A `Resolver` layer answering from a fixed map ({@link makeStatic}).
 * Several addresses per name, both families, in the order given — which is
 * the order `Tcp.connect` interleaves them in.
 *
 * **Resource**: none.
 *
 * @example
 * ```ts
 * import { Resolver, Tcp } from "@netfx/core"
 * import { NodeNetwork } from "@netfx/node"
 * import { Effect, Layer } from "effect"
 *
 * const TestNetwork = NodeNetwork.layerWithResolver.pipe(
 *   Layer.provideMerge(Resolver.layerStatic({ "app.test": ["127.0.0.1", "::1"] })),
 * )
 * const conn = Tcp.connect({ host: "app.test", port: 8080 }).pipe(Effect.scoped, Effect.provide(TestNetwork))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerStatic = (entries: StaticEntries, options?: StaticOptions): Layer.Layer<Resolver> =>
  Layer.succeed(Resolver, makeStatic(entries, options))

// ---------------------------------------------------------------------------
// wrappers
// ---------------------------------------------------------------------------

/**
 * Options of {@link cached}.
 *
 * @example
 * ```ts
 * import { Resolver } from "@netfx/core"
 *
 * const options: Resolver.CacheOptions = { ttl: "30 seconds", maxEntries: 256 }
 * const service = Resolver.cached(Resolver.makeStatic({ "a.test": "127.0.0.1" }), options)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface CacheOptions {
  /** How long an answer is reused. */
  readonly ttl: Duration.DurationInput
  /** At most this many answers are kept (oldest dropped first); default 1024 (also for `NaN`; at least 1). */
  readonly maxEntries?: number
}

/**
 * Wraps a resolver with a cache of successful `getaddrinfo` answers, per
 * (name, family, type, protocol, flags) and for any port, kept for `ttl`
 * as measured by Effect's `Clock` (so `TestClock` drives expiry). Failures
 * and `getnameinfo` are not cached.
 *
 * **Resource**: the cache lives as long as the returned service.
 *
 * @example
 * ```ts
 * import { Resolver } from "@netfx/core"
 *
 * const service = Resolver.cached(Resolver.makeStatic({ "a.test": "127.0.0.1" }), { ttl: "1 minute" })
 * ```
 *
 * @since 0.1.0
 * @category wrappers
 */
export const cached = (service: ResolverService, options: CacheOptions): ResolverService => cachedImpl(service, options)

/**
 * A layer replacing the `Resolver` in context with a cached one
 * ({@link cached}). Provide the resolver it wraps below it.
 *
 * **Resource**: the cache lives as long as the layer.
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
export const layerCached = (options: CacheOptions): Layer.Layer<Resolver, never, Resolver> =>
  Layer.effect(
    Resolver,
    Effect.map(Resolver, (service) => cached(service, options)),
  )

/**
 * Wraps a resolver so every lookup is logged at Debug level (host, port,
 * options, the answer or the error code, and the time taken).
 *
 * @example
 * ```ts
 * import { Resolver } from "@netfx/core"
 *
 * const service = Resolver.logged(Resolver.makeStatic({ "a.test": "127.0.0.1" }))
 * ```
 *
 * @since 0.1.0
 * @category wrappers
 */
export const logged = (service: ResolverService): ResolverService => loggedImpl(service)

/**
 * A layer replacing the `Resolver` in context with a logging one
 * ({@link logged}).
 *
 * **Resource**: none.
 *
 * @example
 * ```ts
 * import { Resolver } from "@netfx/core"
 * import { NodeNetwork } from "@netfx/node"
 * import { Layer } from "effect"
 *
 * const LoggedNetwork = NodeNetwork.layerWithResolver.pipe(
 *   Layer.provideMerge(Resolver.layerLogged),
 *   Layer.provide(NodeNetwork.layerResolver),
 * )
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerLogged: Layer.Layer<Resolver, never, Resolver> = Layer.effect(Resolver, Effect.map(Resolver, logged))
