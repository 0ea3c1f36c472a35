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
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import { ResolveFailed } from "./NetError.ts"
import * as SocketAddress from "./SocketAddress.ts"

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

const isAscii = (s: string): boolean => {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false
  return true
}
// WHATWG forbidden host code points, controls and space: never part of a
// domain name, and the URL parser would treat them as syntax.
// biome-ignore lint/suspicious/noControlCharactersInRegex: controls are what it rejects
const FORBIDDEN_RE = /[\x00-\x20\x7f#%/:<>?@[\\\]^|]/

/** A label starting with the ACE prefix (`xn--`, any case). */
const A_LABEL_RE = /(?:^|\.)xn--/i

// RFC 3492 Punycode parameters
const PUNY_BASE = 36
const PUNY_TMIN = 1
const PUNY_TMAX = 26
const PUNY_MAX = 0x7fffffff

const punyAdapt = (delta: number, points: number, first: boolean): number => {
  let d = first ? Math.floor(delta / 700) : delta >> 1
  d += Math.floor(d / points)
  let k = 0
  while (d > ((PUNY_BASE - PUNY_TMIN) * PUNY_TMAX) >> 1) {
    d = Math.floor(d / (PUNY_BASE - PUNY_TMIN))
    k += PUNY_BASE
  }
  return k + Math.floor(((PUNY_BASE - PUNY_TMIN + 1) * d) / (d + 38))
}

const punyDigit = (c: number): number =>
  c >= 48 && c <= 57 ? c - 22 : c >= 65 && c <= 90 ? c - 65 : c >= 97 && c <= 122 ? c - 97 : PUNY_BASE

/** RFC 3492 decoding of the part after `xn--`; `undefined` where it is not valid Punycode. */
const punycodeDecode = (input: string): string | undefined => {
  const dash = input.lastIndexOf("-")
  const out: Array<number> = []
  for (let j = 0; j < Math.max(dash, 0); j++) {
    const c = input.charCodeAt(j)
    if (c >= 0x80) return undefined
    out.push(c)
  }
  let n = 0x80
  let i = 0
  let bias = 72
  for (let pos = dash > 0 ? dash + 1 : 0; pos < input.length; ) {
    const old = i
    let w = 1
    for (let k = PUNY_BASE; ; k += PUNY_BASE) {
      if (pos >= input.length) return undefined
      const digit = punyDigit(input.charCodeAt(pos++))
      if (digit >= PUNY_BASE || digit > Math.floor((PUNY_MAX - i) / w)) return undefined
      i += digit * w
      const t = k <= bias ? PUNY_TMIN : k >= bias + PUNY_TMAX ? PUNY_TMAX : k - bias
      if (digit < t) break
      if (w > Math.floor(PUNY_MAX / (PUNY_BASE - t))) return undefined
      w *= PUNY_BASE - t
    }
    const points = out.length + 1
    bias = punyAdapt(i - old, points, old === 0)
    if (Math.floor(i / points) > PUNY_MAX - n) return undefined
    n += Math.floor(i / points)
    i %= points
    if (n > 0x10ffff || (n >= 0xd800 && n <= 0xdfff)) return undefined
    out.splice(i, 0, n)
    i++
  }
  return String.fromCodePoint(...out)
}

/**
 * Whether `label` (starting `xn--`) is a valid A-label: its Punycode
 * decodes, to a label with a non-ASCII code point, which UTS #46 (the
 * platform's URL host parser) maps back to exactly this label. Decoded here
 * rather than left to the URL parser, whose acceptance of an undecodable
 * A-label differs between runtimes (Node 24 passes `xn--zz` through).
 */
const isValidALabel = (label: string): boolean => {
  const decoded = punycodeDecode(label.slice(4))
  if (decoded === undefined || decoded === "" || isAscii(decoded)) return false
  try {
    return new URL(`http://${decoded}/`).hostname === label.toLowerCase()
  } catch {
    return false
  }
}

/** Every label starting `xn--` (any case) is a valid A-label. */
const aLabelsValid = (host: string): boolean =>
  !A_LABEL_RE.test(host) ||
  host.split(".").every((label) => !label.toLowerCase().startsWith("xn--") || isValidALabel(label))

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
export const toAscii = (host: string): Either.Either<string, ResolveFailed> => {
  const invalid = (reason: string) =>
    Either.left(new ResolveFailed({ host, code: "EAI_IDN_ENCODE", syscall: "idna", cause: reason }))
  if (isAscii(host)) {
    if (!A_LABEL_RE.test(host)) return Either.right(host)
    // UTS #46 decodes and checks every A-label (Punycode, then the U-label's validity)
    if (FORBIDDEN_RE.test(host) || !aLabelsValid(host)) {
      return invalid("the name has an invalid A-label (xn--): no valid IDNA 2008 (UTS #46) label decodes from it")
    }
    return Either.right(host)
  }
  if (FORBIDDEN_RE.test(host)) return invalid("the name contains a character that is not allowed in a host name")
  let ascii: string
  try {
    ascii = new URL(`http://${host}/`).hostname
  } catch {
    return invalid("the name has no valid IDNA 2008 (UTS #46) ASCII form")
  }
  if (ascii === "" || !isAscii(ascii) || !aLabelsValid(ascii))
    return invalid("the name has no valid IDNA 2008 (UTS #46) ASCII form")
  return Either.right(ascii.startsWith("[") ? ascii.slice(1, -1) : ascii)
}

// ---------------------------------------------------------------------------
// the front
// ---------------------------------------------------------------------------

const fronts = new WeakSet<ResolverService>()

const protocolOf = (type: SocketType): number => (type === "stream" ? 6 : 17)

const failed = (host: string, code: string, syscall = "getaddrinfo") => new ResolveFailed({ host, code, syscall })

/** A numeric host as an address (IPv6 keeps its `%zone`; a numeric zone is also the scope id). */
const numericAddress = (host: string, port: number): SocketAddress.Ipv4 | SocketAddress.Ipv6 => {
  if (!host.includes(":")) return SocketAddress.ipv4(host, port)
  const zone = host.includes("%") ? host.slice(host.indexOf("%") + 1) : ""
  return SocketAddress.ipv6(host, port, { scopeId: /^\d+$/.test(zone) ? Number(zone) : 0 })
}

const v4Mapped = (address: SocketAddress.Ipv4): SocketAddress.Ipv6 =>
  SocketAddress.ipv6(`::ffff:${address.host}`, address.port)

/** Family filtering, AI_V4MAPPED/AI_ALL, the socket type expansion and the canonical name. */
const shape = (
  host: string,
  port: number,
  found: ReadonlyArray<SocketAddress.Ipv4 | SocketAddress.Ipv6>,
  options: LookupOptions | undefined,
  canonicalName: string | undefined,
): Effect.Effect<ReadonlyArray<AddressInfo>, ResolveFailed> => {
  const family = options?.family ?? 0
  const flags = options?.flags ?? 0
  let addresses = found.map((a) => SocketAddress.withPort(a, port))
  if (family === 6 && (flags & AI_V4MAPPED) !== 0) {
    const v6 = addresses.filter((a) => a._tag === "Ipv6")
    const mapped = addresses.filter((a) => a._tag === "Ipv4").map(v4Mapped)
    addresses = (flags & AI_ALL) !== 0 ? [...v6, ...mapped] : v6.length > 0 ? v6 : mapped
  } else if (family !== 0) {
    addresses = addresses.filter((a) => (a._tag === "Ipv6" ? 6 : 4) === family)
  }
  const seen = new Set<string>()
  addresses = addresses.filter((a) => {
    const key = SocketAddress.format(a)
    if (seen.has(key)) return false
    seen.add(key)
    return true
  })
  if (addresses.length === 0) {
    return Effect.fail(failed(host, found.length === 0 || family === 0 ? "ENOTFOUND" : "EAI_ADDRFAMILY"))
  }
  const types: ReadonlyArray<SocketType> = options?.type === undefined ? ["stream", "dgram"] : [options.type]
  const infos: Array<AddressInfo> = []
  for (const address of addresses) {
    for (const type of types) {
      infos.push({
        family: address._tag === "Ipv6" ? 6 : 4,
        type,
        protocol: options?.protocol ?? protocolOf(type),
        address,
        ...(infos.length === 0 && (flags & AI_CANONNAME) !== 0 ? { canonicalName: canonicalName ?? host } : {}),
      })
    }
  }
  return Effect.succeed(infos)
}

const frontGetaddrinfo = (
  impl: ResolverService,
  host: string,
  port: number,
  options: LookupOptions | undefined,
): Effect.Effect<ReadonlyArray<AddressInfo>, ResolveFailed> =>
  Effect.suspend(() => {
    if (!Number.isInteger(port) || port < 0 || port > 65535) return Effect.fail(failed(host, "EAI_SERVICE"))
    const bare = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host
    if (bare === "") return Effect.fail(failed(host, "EAI_NONAME"))
    if (SocketAddress.numericFamily(bare) !== 0) return shape(bare, port, [numericAddress(bare, port)], options, bare)
    if (((options?.flags ?? 0) & AI_NUMERICHOST) !== 0) return Effect.fail(failed(host, "EAI_NONAME"))
    const converted = toAscii(bare)
    if (Either.isLeft(converted)) {
      const e = converted.left
      return Effect.fail(new ResolveFailed({ host, code: e.code, syscall: e.syscall, cause: e.cause }))
    }
    const ascii = converted.right
    if (SocketAddress.numericFamily(ascii) !== 0)
      return shape(ascii, port, [numericAddress(ascii, port)], options, ascii)
    return impl.getaddrinfo(ascii, port, options).pipe(
      Effect.mapError((e) =>
        e.host === host ? e : new ResolveFailed({ host, code: e.code, syscall: e.syscall, cause: e.cause ?? e }),
      ),
      Effect.flatMap((infos) =>
        shape(
          host,
          port,
          infos.map((i) => i.address),
          options,
          infos.find((i) => i.canonicalName !== undefined)?.canonicalName ?? ascii,
        ),
      ),
    )
  })

const frontGetnameinfo = (
  impl: ResolverService,
  address: SocketAddress.Ipv4 | SocketAddress.Ipv6,
  flags: number,
): Effect.Effect<NameInfo, ResolveFailed> => {
  const numericHost = address.host
  const numericService = String(address.port)
  const wantsNumericHost = (flags & NI_NUMERICHOST) !== 0
  const wantsNumericService = (flags & NI_NUMERICSERV) !== 0
  if (wantsNumericHost && wantsNumericService) return Effect.succeed({ host: numericHost, service: numericService })
  return impl.getnameinfo(address, flags).pipe(
    Effect.catchAll((error) =>
      // Without NI_NAMEREQD, an address with no name reads as its numeric form (POSIX).
      (flags & NI_NAMEREQD) === 0 && (error.code === "ENOTFOUND" || error.code === "EAI_NONAME")
        ? Effect.succeed({ host: numericHost, service: numericService })
        : Effect.fail(error),
    ),
    Effect.map((info) => ({
      host: wantsNumericHost
        ? numericHost
        : (flags & NI_NOFQDN) !== 0
          ? (info.host.split(".")[0] ?? info.host)
          : info.host,
      service: wantsNumericService ? numericService : info.service,
    })),
  )
}

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
export const make = (impl: ResolverService): ResolverService => {
  if (fronts.has(impl)) return impl
  const service: ResolverService = {
    getaddrinfo: (host, port, options) => frontGetaddrinfo(impl, host, port, options),
    getnameinfo: (address, flags) => frontGetnameinfo(impl, address, flags ?? 0),
    getservbyname: impl.getservbyname,
  }
  fronts.add(service)
  return service
}

// ---------------------------------------------------------------------------
// service names
// ---------------------------------------------------------------------------

/** Parses a services database in the `/etc/services` format into `name/protocol` → port (aliases included). */
const parseServices = (text: string): ReadonlyMap<string, number> => {
  const table = new Map<string, number>()
  for (const raw of text.split("\n")) {
    const line = raw.replace(/#.*/, "").trim()
    if (line === "") continue
    const [name, portProto, ...aliases] = line.split(/\s+/)
    const m = /^(\d+)\/(tcp|udp)$/i.exec(portProto ?? "")
    if (name === undefined || m === null) continue
    const port = Number(m[1])
    if (port > 65535) continue
    const protocol = (m[2] as string).toLowerCase()
    for (const n of [name, ...aliases]) {
      const key = `${n}/${protocol}`
      // the first entry wins, as getservbyname(3) reads the file
      if (!table.has(key)) table.set(key, port)
    }
  }
  return table
}

/** Well-known services (IANA names and ports, with the common aliases). */
const WELL_KNOWN = parseServices(
  [
    "echo 7/tcp",
    "echo 7/udp",
    "discard 9/tcp sink",
    "discard 9/udp sink",
    "daytime 13/tcp",
    "daytime 13/udp",
    "ftp-data 20/tcp",
    "ftp 21/tcp",
    "ssh 22/tcp",
    "telnet 23/tcp",
    "smtp 25/tcp mail",
    "time 37/tcp",
    "time 37/udp",
    "whois 43/tcp nicname",
    "domain 53/tcp",
    "domain 53/udp",
    "bootps 67/udp",
    "bootpc 68/udp",
    "tftp 69/udp",
    "gopher 70/tcp",
    "finger 79/tcp",
    "http 80/tcp www",
    "kerberos 88/tcp kerberos5",
    "kerberos 88/udp kerberos5",
    "pop3 110/tcp pop-3",
    "sunrpc 111/tcp portmapper",
    "sunrpc 111/udp portmapper",
    "nntp 119/tcp readnews",
    "ntp 123/udp",
    "netbios-ns 137/udp",
    "netbios-dgm 138/udp",
    "netbios-ssn 139/tcp",
    "imap2 143/tcp imap",
    "snmp 161/tcp",
    "snmp 161/udp",
    "snmp-trap 162/tcp snmptrap",
    "snmp-trap 162/udp snmptrap",
    "bgp 179/tcp",
    "ldap 389/tcp",
    "ldap 389/udp",
    "https 443/tcp",
    "https 443/udp",
    "microsoft-ds 445/tcp",
    "submissions 465/tcp ssmtp",
    "syslog 514/udp",
    "printer 515/tcp spooler",
    "rtsp 554/tcp",
    "rtsp 554/udp",
    "submission 587/tcp",
    "ipp 631/tcp",
    "ldaps 636/tcp",
    "ldaps 636/udp",
    "domain-s 853/tcp",
    "domain-s 853/udp",
    "rsync 873/tcp",
    "ftps 990/tcp",
    "imaps 993/tcp",
    "pop3s 995/tcp",
    "socks 1080/tcp",
    "openvpn 1194/tcp",
    "openvpn 1194/udp",
    "radius 1812/tcp",
    "radius 1812/udp",
    "radius-acct 1813/tcp radacct",
    "radius-acct 1813/udp radacct",
    "nfs 2049/tcp",
    "nfs 2049/udp",
    "mysql 3306/tcp",
    "svn 3690/tcp subversion",
    "sip 5060/tcp",
    "sip 5060/udp",
    "sip-tls 5061/tcp",
    "sip-tls 5061/udp",
    "xmpp-client 5222/tcp jabber-client",
    "xmpp-server 5269/tcp jabber-server",
    "mdns 5353/udp",
    "postgresql 5432/tcp postgres",
    "amqps 5671/tcp",
    "amqp 5672/tcp",
    "x11 6000/tcp x11-0",
    "redis 6379/tcp",
    "http-alt 8080/tcp webcache",
    "git 9418/tcp",
  ].join("\n"),
)

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
  WELL_KNOWN.get(`${name}/${protocol}`)

interface ServicePort {
  readonly type: SocketType
  readonly port: number
}

/**
 * A service (`"443"`, `"https"`) as the port(s) to look up: a number for
 * a numeric service, else the port for each asked socket type that has
 * the service (`EAI_SERVICE` when none has it; `EAI_NONAME` for a name
 * under `AI_NUMERICSERV`).
 */
const servicePorts = (
  resolver: ResolverService,
  host: string,
  service: string,
  options: LookupOptions | undefined,
): Effect.Effect<number | ReadonlyArray<ServicePort>, ResolveFailed> =>
  Effect.suspend((): Effect.Effect<number | ReadonlyArray<ServicePort>, ResolveFailed> => {
    const name = service.trim()
    if (/^\d+$/.test(name)) return Effect.succeed(Number(name))
    if (name === "" || ((options?.flags ?? 0) & AI_NUMERICSERV) !== 0) return Effect.fail(failed(host, "EAI_NONAME"))
    const types: ReadonlyArray<SocketType> = options?.type === undefined ? ["stream", "dgram"] : [options.type]
    const byName = resolver.getservbyname ?? ((n, p) => Effect.succeed(wellKnownService(n, p)))
    return Effect.map(
      Effect.forEach(types, (type) =>
        Effect.map(byName(name, type === "stream" ? "tcp" : "udp"), (port) =>
          port === undefined ? undefined : { type, port },
        ),
      ),
      (found) => found.filter((f): f is ServicePort => f !== undefined),
    ).pipe(
      Effect.filterOrFail(
        (found) => found.length > 0,
        () => new ResolveFailed({ host, code: "EAI_SERVICE", syscall: "getaddrinfo" }),
      ),
    )
  })

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
): Effect.Effect<ReadonlyArray<AddressInfo>, ResolveFailed> => {
  const front = make(service)
  const label = host ?? ""
  const one = (p: number, o: LookupOptions | undefined) =>
    host === null ? localHost(p, o) : front.getaddrinfo(host, p, o)
  if (typeof port === "number") return one(port, options)
  return Effect.flatMap(servicePorts(front, label, port, options), (ports) => {
    if (typeof ports === "number") return one(ports, options)
    const [first, second] = ports as readonly [ServicePort, ServicePort | undefined]
    // one port for every type asked (the usual case): one lookup
    if (second === undefined || second.port === first.port)
      return one(first.port, second === undefined ? { ...options, type: first.type } : options)
    // the service has another port per type: one lookup per type, merged address by address
    return Effect.map(
      Effect.all([
        one(first.port, { ...options, type: first.type }),
        one(second.port, { ...options, type: second.type }),
      ]),
      ([a, b]) => a.flatMap((info, i) => (b[i] === undefined ? [info] : [info, b[i] as AddressInfo])),
    )
  })
}

/** No host (`getaddrinfo(NULL, ...)`): the loopback addresses, or the wildcards with `AI_PASSIVE`, in glibc's order. */
const localHost = (port: number, options: LookupOptions | undefined) =>
  Effect.suspend(() => {
    if (!Number.isInteger(port) || port < 0 || port > 65535) return Effect.fail(failed("", "EAI_SERVICE"))
    const passive = ((options?.flags ?? 0) & AI_PASSIVE) !== 0
    const addresses = passive
      ? [SocketAddress.ipv4("0.0.0.0", port), SocketAddress.ipv6("::", port)]
      : [SocketAddress.ipv6("::1", port), SocketAddress.ipv4("127.0.0.1", port)]
    return shape("", port, addresses, options, undefined)
  })

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
// the system resolver over a node:dns-compatible module
// ---------------------------------------------------------------------------

/**
 * The part of a `node:dns`-compatible module the system resolver uses
 * (Node's `node:dns`, Bun's native `node:dns`).
 *
 * @example
 * ```ts
 * import { Resolver } from "@netfx/core"
 * import * as dns from "node:dns"
 *
 * const dnsModule: Resolver.DnsModule = dns
 * const system = Resolver.makeSystem(dnsModule)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface DnsModule {
  readonly ADDRCONFIG: number
  readonly V4MAPPED: number
  readonly ALL: number
  readonly lookup: (
    hostname: string,
    options: { all: true; family: number; hints: number; verbatim: boolean },
    callback: (error: Error | null, addresses: Array<{ address: string; family: number }>) => void,
  ) => void
  readonly lookupService: (
    address: string,
    port: number,
    callback: (error: Error | null, hostname: string, service: string) => void,
  ) => void
}

const platformFailed = (host: string, error: unknown, syscall: string) => {
  const e = typeof error === "object" && error !== null ? (error as { code?: unknown; syscall?: unknown }) : {}
  return new ResolveFailed({
    host,
    code: typeof e.code === "string" ? e.code : "EAI_FAIL",
    syscall: typeof e.syscall === "string" ? e.syscall : syscall,
    cause: error,
  })
}

/**
 * The system resolver — getaddrinfo(3) / getnameinfo(3), honouring
 * /etc/hosts and nsswitch — over a `node:dns`-compatible module
 * (`dns.lookup` with `all`, `verbatim`; `dns.lookupService`). This is what
 * `NodeNetwork.layerResolver` and `BunNetwork.layerResolver` are; it lives
 * here so both runtimes share it. Wrapped with {@link make}: `AI_ADDRCONFIG`,
 * `AI_V4MAPPED` and `AI_ALL` reach the platform, the other flags are
 * applied by the front. `node:dns` does not expose `ai_canonname`, so
 * `AI_CANONNAME` reports the name asked for (after IDNA), not a CNAME
 * target; `NI_DGRAM` is not passed (services are looked up as TCP).
 * Service names (`Resolver.getaddrinfo(host, "https")`) come from the
 * services database `readServices` returns (`/etc/services`, read once on
 * first use); without it, or when it cannot be read, from
 * {@link wellKnownService}.
 *
 * **Errors** (of the service): `ResolveFailed` with the platform's code
 * (`ENOTFOUND` for EAI_NONAME, `EAI_AGAIN`, `EAI_FAIL`, ...).
 *
 * **Interruption**: the platform lookup cannot be cancelled; it finishes in
 * libuv's thread pool and its result is dropped.
 *
 * @example
 * ```ts
 * import * as dns from "node:dns"
 * import * as fs from "node:fs"
 * import { Resolver } from "@netfx/core"
 *
 * const system = Resolver.makeSystem(dns, () => fs.promises.readFile("/etc/services", "utf8"))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeSystem = (dns: DnsModule, readServices?: () => Promise<string | undefined>): ResolverService => {
  const hints = dns.ADDRCONFIG | dns.V4MAPPED | dns.ALL
  // /etc/services, read once on the first service name; missing: the well-known table
  let services: Promise<ReadonlyMap<string, number> | undefined> | undefined
  const loadServices = () => {
    if (services === undefined)
      services =
        readServices === undefined
          ? Promise.resolve(undefined)
          : readServices().then(
              (text) => (text === undefined ? undefined : parseServices(text)),
              () => undefined,
            )
    return services
  }
  return make({
    getservbyname: (name, protocol) =>
      Effect.map(Effect.promise(loadServices), (table) =>
        table === undefined ? wellKnownService(name, protocol) : table.get(`${name}/${protocol}`),
      ),
    getaddrinfo: (host, port, options) =>
      Effect.async<ReadonlyArray<AddressInfo>, ResolveFailed>((resume) => {
        let active = true
        const type = options?.type ?? "stream"
        try {
          dns.lookup(
            host,
            { all: true, family: options?.family ?? 0, hints: (options?.flags ?? 0) & hints, verbatim: true },
            (error, addresses) => {
              if (!active) return
              if (error) return resume(Effect.fail(platformFailed(host, error, "getaddrinfo")))
              resume(
                Effect.succeed(
                  addresses.map((a) => ({
                    family: a.family === 6 ? (6 as const) : (4 as const),
                    type,
                    protocol: protocolOf(type),
                    address: a.family === 6 ? numericAddress(a.address, port) : SocketAddress.ipv4(a.address, port),
                  })),
                ),
              )
            },
          )
        } catch (error) {
          // argument validation: a name the platform rejects before looking it up
          resume(Effect.fail(platformFailed(host, error, "getaddrinfo")))
        }
        return Effect.sync(() => {
          active = false
        })
      }),
    getnameinfo: (address) =>
      Effect.async<NameInfo, ResolveFailed>((resume) => {
        let active = true
        try {
          dns.lookupService(address.host, address.port, (error, hostname, service) => {
            if (!active) return
            if (error) return resume(Effect.fail(platformFailed(address.host, error, "getnameinfo")))
            resume(Effect.succeed({ host: hostname, service }))
          })
        } catch (error) {
          resume(Effect.fail(platformFailed(address.host, error, "getnameinfo")))
        }
        return Effect.sync(() => {
          active = false
        })
      }),
  })
}

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
 * import * as dns from "node:dns"
 *
 * // pin one name, ask the system for every other
 * const options: Resolver.StaticOptions = { fallback: Resolver.makeSystem(dns) }
 * const service = Resolver.makeStatic({ "db.test": "127.0.0.1" }, options)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface StaticOptions {
  /** Asked for names (and addresses) the map does not know; otherwise they fail with `ENOTFOUND`. */
  readonly fallback?: ResolverService
}

const normalizeName = (name: string): string => {
  const ascii = Either.getOrElse(toAscii(name), () => name).toLowerCase()
  return ascii.endsWith(".") && ascii.length > 1 ? ascii.slice(0, -1) : ascii
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
export const makeStatic = (entries: StaticEntries, options: StaticOptions = {}): ResolverService => {
  const table = new Map<string, ReadonlyArray<string>>()
  for (const [name, value] of Object.entries(entries)) {
    table.set(normalizeName(name), typeof value === "string" ? [value] : value)
  }
  const resolveName = (
    name: string,
    depth: number,
  ): { readonly addresses: ReadonlyArray<string>; readonly canonical: string } | "loop" | undefined => {
    const values = table.get(name)
    if (values === undefined) return undefined
    if (depth > 16) return "loop"
    const addresses: Array<string> = []
    let canonical = name
    for (const value of values) {
      if (SocketAddress.numericFamily(value) !== 0) {
        addresses.push(value.startsWith("[") ? value.slice(1, -1) : value)
        continue
      }
      const target = resolveName(normalizeName(value), depth + 1)
      if (target === "loop") return "loop"
      if (target === undefined) continue
      addresses.push(...target.addresses)
      if (canonical === name) canonical = target.canonical
    }
    return { addresses, canonical }
  }
  return make({
    getaddrinfo: (host, port, lookupOptions) =>
      Effect.suspend(() => {
        const found = resolveName(normalizeName(host), 0)
        if (found === "loop") return Effect.fail(failed(host, "EAI_FAIL"))
        if (found === undefined || found.addresses.length === 0) {
          return options.fallback === undefined
            ? Effect.fail(failed(host, "ENOTFOUND"))
            : options.fallback.getaddrinfo(host, port, lookupOptions)
        }
        return Effect.succeed(
          found.addresses.map(
            (a, i): AddressInfo => ({
              family: a.includes(":") ? 6 : 4,
              type: lookupOptions?.type ?? "stream",
              protocol: protocolOf(lookupOptions?.type ?? "stream"),
              address: numericAddress(a, port),
              ...(i === 0 ? { canonicalName: found.canonical } : {}),
            }),
          ),
        )
      }),
    getnameinfo: (address, flags) =>
      Effect.suspend(() => {
        for (const name of table.keys()) {
          const found = resolveName(name, 0)
          if (typeof found === "object" && found.addresses.includes(address.host)) {
            return Effect.succeed({ host: name, service: String(address.port) })
          }
        }
        return options.fallback === undefined
          ? Effect.fail(failed(address.host, "ENOTFOUND", "getnameinfo"))
          : options.fallback.getnameinfo(address, flags)
      }),
    // the fallback's services database (the system's, say), else the well-known table
    getservbyname: options.fallback?.getservbyname,
  })
}

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
  /** At most this many answers are kept (oldest dropped first); default 1024. */
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
export const cached = (service: ResolverService, options: CacheOptions): ResolverService => {
  const ttl = Duration.toMillis(Duration.decode(options.ttl))
  const maxEntries = Math.max(1, options.maxEntries ?? 1024)
  const entries = new Map<string, { readonly expires: number; readonly infos: ReadonlyArray<AddressInfo> }>()
  const inner = make(service)
  return make({
    getaddrinfo: (host, port, lookupOptions) =>
      Effect.gen(function* () {
        const key = JSON.stringify([
          host.toLowerCase(),
          lookupOptions?.family ?? 0,
          lookupOptions?.type ?? "",
          lookupOptions?.protocol ?? -1,
          lookupOptions?.flags ?? 0,
        ])
        const now = yield* Clock.currentTimeMillis
        const hit = entries.get(key)
        if (hit !== undefined && hit.expires > now) {
          return hit.infos.map((i) => ({ ...i, address: SocketAddress.withPort(i.address, port) }))
        }
        entries.delete(key)
        const infos = yield* inner.getaddrinfo(host, port, lookupOptions)
        if (ttl > 0) {
          while (entries.size >= maxEntries) {
            const oldest = entries.keys().next()
            if (oldest.done) break
            entries.delete(oldest.value)
          }
          entries.set(key, { expires: now + ttl, infos })
        }
        return infos
      }),
    getnameinfo: (address, flags) => inner.getnameinfo(address, flags),
    getservbyname: inner.getservbyname,
  })
}

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
export const logged = (service: ResolverService): ResolverService => {
  const inner = make(service)
  return make({
    getaddrinfo: (host, port, options) =>
      inner.getaddrinfo(host, port, options).pipe(
        Effect.timed,
        Effect.tap(([took, infos]) =>
          Effect.logDebug(
            `getaddrinfo ${host} -> ${infos.map((i) => SocketAddress.format(i.address)).join(", ")} (${Duration.format(took)})`,
          ),
        ),
        Effect.map(([, infos]) => infos),
        Effect.tapError((e) => Effect.logDebug(`getaddrinfo ${host} failed: ${e.code}`)),
        Effect.annotateLogs({ "netfx.resolver": "getaddrinfo", host, port }),
      ),
    getnameinfo: (address, flags) =>
      inner.getnameinfo(address, flags).pipe(
        Effect.tap((info) =>
          Effect.logDebug(`getnameinfo ${SocketAddress.format(address)} -> ${info.host} ${info.service}`),
        ),
        Effect.tapError((e) => Effect.logDebug(`getnameinfo ${SocketAddress.format(address)} failed: ${e.code}`)),
        Effect.annotateLogs({ "netfx.resolver": "getnameinfo" }),
      ),
    getservbyname: inner.getservbyname,
  })
}

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
