/**
 * Socket addresses: one tagged union for every family netfx speaks.
 *
 * Unix abstract-namespace names (Linux) are their own case, never a path
 * that starts with `"\0"`.
 *
 * @since 0.1.0
 */

import * as Data from "effect/Data"
import { printable } from "./internal/printable.ts"

/**
 * An IPv4 address and port.
 *
 * @example
 * ```ts
 * import { SocketAddress } from "@netfx/core"
 * import * as assert from "node:assert"
 *
 * const a: SocketAddress.Ipv4 = SocketAddress.ipv4("127.0.0.1", 80)
 * assert.strictEqual(a.host, "127.0.0.1")
 * assert.strictEqual(a.port, 80)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Ipv4 {
  readonly _tag: "Ipv4"
  readonly host: string
  readonly port: number
}

/**
 * An IPv6 address and port, with its flow label and scope (zone) id.
 *
 * @example
 * ```ts
 * import { SocketAddress } from "@netfx/core"
 * import * as assert from "node:assert"
 *
 * const a: SocketAddress.Ipv6 = SocketAddress.ipv6("::1", 443)
 * assert.strictEqual(a.flowInfo, 0)
 * assert.strictEqual(a.scopeId, 0)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Ipv6 {
  readonly _tag: "Ipv6"
  readonly host: string
  readonly port: number
  readonly flowInfo: number
  readonly scopeId: number
}

/**
 * A Unix domain socket bound to a file system path. The empty path is an
 * unnamed (unbound) socket.
 *
 * @example
 * ```ts
 * import { SocketAddress } from "@netfx/core"
 * import * as assert from "node:assert"
 *
 * const unnamed: SocketAddress.UnixPath = SocketAddress.unixPath("")
 * assert.strictEqual(SocketAddress.format(unnamed), "(unnamed)")
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface UnixPath {
  readonly _tag: "UnixPath"
  readonly path: string
}

/**
 * A Unix domain socket in Linux's abstract namespace: the name has no file
 * and no leading NUL byte here (netfx adds it when talking to the kernel).
 *
 * @example
 * ```ts
 * import { SocketAddress } from "@netfx/core"
 * import * as assert from "node:assert"
 *
 * const a: SocketAddress.UnixAbstract = SocketAddress.unixAbstract("netfx")
 * assert.strictEqual(a.name, "netfx") // no leading NUL
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface UnixAbstract {
  readonly _tag: "UnixAbstract"
  readonly name: string
}

/**
 * Every address netfx can connect to, listen on or report.
 *
 * @example
 * ```ts
 * import { SocketAddress } from "@netfx/core"
 * import * as assert from "node:assert"
 *
 * const a = SocketAddress.ipv4("127.0.0.1", 8080)
 * assert.strictEqual(SocketAddress.format(a), "127.0.0.1:8080")
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type SocketAddress = Ipv4 | Ipv6 | UnixPath | UnixAbstract

/**
 * The address family of an address.
 *
 * @example
 * ```ts
 * import { SocketAddress } from "@netfx/core"
 * import * as assert from "node:assert"
 *
 * const f: SocketAddress.Family = SocketAddress.family(SocketAddress.unixAbstract("netfx"))
 * assert.strictEqual(f, "unix")
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Family = "ipv4" | "ipv6" | "unix"

/**
 * An IPv4 address (numeric host) and port.
 *
 * @example
 * ```ts
 * import { SocketAddress } from "@netfx/core"
 * import * as assert from "node:assert"
 *
 * assert.strictEqual(SocketAddress.format(SocketAddress.ipv4("127.0.0.1", 80)), "127.0.0.1:80")
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const ipv4 = (host: string, port: number): Ipv4 => Data.struct({ _tag: "Ipv4", host, port })

/**
 * An IPv6 address (numeric host) and port; flow label and scope id default to 0.
 *
 * @example
 * ```ts
 * import { SocketAddress } from "@netfx/core"
 * import * as assert from "node:assert"
 *
 * const a = SocketAddress.ipv6("fe80::1", 22, { scopeId: 2 })
 * assert.strictEqual(SocketAddress.format(a), "[fe80::1%2]:22")
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const ipv6 = (
  host: string,
  port: number,
  options?: { readonly flowInfo?: number; readonly scopeId?: number },
): Ipv6 => Data.struct({ _tag: "Ipv6", host, port, flowInfo: options?.flowInfo ?? 0, scopeId: options?.scopeId ?? 0 })

/**
 * A Unix socket path; `""` is an unnamed socket.
 *
 * @example
 * ```ts
 * import { SocketAddress } from "@netfx/core"
 * import * as assert from "node:assert"
 *
 * assert.strictEqual(SocketAddress.format(SocketAddress.unixPath("/run/app.sock")), "/run/app.sock")
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const unixPath = (path: string): UnixPath => Data.struct({ _tag: "UnixPath", path })

/**
 * A name in Linux's abstract Unix socket namespace (no leading NUL here).
 *
 * @example
 * ```ts
 * import { SocketAddress } from "@netfx/core"
 * import * as assert from "node:assert"
 *
 * assert.strictEqual(SocketAddress.format(SocketAddress.unixAbstract("netfx")), "@netfx")
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const unixAbstract = (name: string): UnixAbstract => Data.struct({ _tag: "UnixAbstract", name })

/**
 * Builds an IP address from a numeric host, choosing the family by its form.
 *
 * @example
 * ```ts
 * import { SocketAddress } from "@netfx/core"
 * import * as assert from "node:assert"
 *
 * assert.strictEqual(SocketAddress.ip("::1", 80)._tag, "Ipv6")
 * assert.strictEqual(SocketAddress.ip("10.0.0.1", 80)._tag, "Ipv4")
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const ip = (host: string, port: number, scopeId = 0): Ipv4 | Ipv6 =>
  host.includes(":") ? ipv6(host, port, { scopeId }) : ipv4(host, port)

/**
 * An IP address as a runtime reports it (`socket.remoteAddress`, a UDP
 * sender): an IPv6 host may carry a `%zone` — a numeric zone becomes the
 * scope id, a named one (`fe80::1%eth0`) stays in the host. `ipv6` forces
 * the family (when the runtime reports it apart from the host).
 *
 * @example
 * ```ts
 * import { SocketAddress } from "@netfx/core"
 * import * as assert from "node:assert"
 *
 * assert.deepStrictEqual(SocketAddress.fromRuntime("fe80::1%2", 80), SocketAddress.ipv6("fe80::1", 80, { scopeId: 2 }))
 * assert.strictEqual(SocketAddress.fromRuntime("fe80::1%eth0", 80).host, "fe80::1%eth0")
 * assert.strictEqual(SocketAddress.fromRuntime("10.0.0.1", 80)._tag, "Ipv4")
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromRuntime = (host: string, port: number, ipv6Family: boolean = host.includes(":")): Ipv4 | Ipv6 => {
  if (!ipv6Family) return ipv4(host, port)
  const [bare, zone] = host.split("%")
  const scopeId = zone !== undefined && /^\d+$/.test(zone) ? Number(zone) : 0
  return ipv6(zone !== undefined && scopeId === 0 ? host : (bare as string), port, { scopeId })
}

/**
 * The host string a runtime takes for an IP address: an IPv6 scope id is
 * written as a `%zone` (the inverse of {@link fromRuntime}).
 *
 * @example
 * ```ts
 * import { SocketAddress } from "@netfx/core"
 * import * as assert from "node:assert"
 *
 * assert.strictEqual(SocketAddress.runtimeHost(SocketAddress.ipv6("fe80::1", 80, { scopeId: 2 })), "fe80::1%2")
 * assert.strictEqual(SocketAddress.runtimeHost(SocketAddress.ipv4("10.0.0.1", 80)), "10.0.0.1")
 * ```
 *
 * @since 0.1.0
 * @category formatting
 */
export const runtimeHost = (address: Ipv4 | Ipv6): string =>
  address._tag === "Ipv6" && address.scopeId !== 0 && !address.host.includes("%")
    ? `${address.host}%${address.scopeId}`
    : address.host

/**
 * The same address on another port.
 *
 * @example
 * ```ts
 * import { SocketAddress } from "@netfx/core"
 * import * as assert from "node:assert"
 *
 * assert.deepStrictEqual(SocketAddress.withPort(SocketAddress.ipv4("10.0.0.1", 0), 80), SocketAddress.ipv4("10.0.0.1", 80))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const withPort = (address: Ipv4 | Ipv6, port: number): Ipv4 | Ipv6 =>
  address.port === port
    ? address
    : address._tag === "Ipv4"
      ? ipv4(address.host, port)
      : ipv6(address.host, port, { flowInfo: address.flowInfo, scopeId: address.scopeId })

/**
 * True for IPv4 and IPv6 addresses.
 *
 * @example
 * ```ts
 * import { SocketAddress } from "@netfx/core"
 * import * as assert from "node:assert"
 *
 * assert.ok(SocketAddress.isIp(SocketAddress.ipv4("1.2.3.4", 1)))
 * ```
 *
 * @since 0.1.0
 * @category guards
 */
export const isIp = (address: SocketAddress): address is Ipv4 | Ipv6 =>
  address._tag === "Ipv4" || address._tag === "Ipv6"

/**
 * True for Unix path and abstract addresses.
 *
 * @example
 * ```ts
 * import { SocketAddress } from "@netfx/core"
 * import * as assert from "node:assert"
 *
 * assert.ok(SocketAddress.isUnix(SocketAddress.unixPath("/x")))
 * ```
 *
 * @since 0.1.0
 * @category guards
 */
export const isUnix = (address: SocketAddress): address is UnixPath | UnixAbstract =>
  address._tag === "UnixPath" || address._tag === "UnixAbstract"

/**
 * The family of an address: `"ipv4"`, `"ipv6"` or `"unix"`.
 *
 * @example
 * ```ts
 * import { SocketAddress } from "@netfx/core"
 * import * as assert from "node:assert"
 *
 * assert.strictEqual(SocketAddress.family(SocketAddress.ip("::1", 1)), "ipv6")
 * ```
 *
 * @since 0.1.0
 * @category getters
 */
export const family = (address: SocketAddress): Family =>
  address._tag === "Ipv4" ? "ipv4" : address._tag === "Ipv6" ? "ipv6" : "unix"

/**
 * The unspecified address of `like`'s family with port 0 (`0.0.0.0:0`,
 * `[::]:0`, an unnamed Unix address): what netfx reports for a peer the
 * system no longer knows, e.g. a TCP connection reset before it was
 * accepted.
 *
 * @example
 * ```ts
 * import { SocketAddress } from "@netfx/core"
 * import * as assert from "node:assert"
 *
 * assert.deepStrictEqual(SocketAddress.unspecified(SocketAddress.ipv6("::1", 80)), SocketAddress.ipv6("::", 0))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const unspecified = (like: SocketAddress): SocketAddress =>
  like._tag === "Ipv4" ? ipv4("0.0.0.0", 0) : like._tag === "Ipv6" ? ipv6("::", 0) : unixPath("")

/**
 * Formats an address the way people write it: `127.0.0.1:80`, `[::1]:80`,
 * `/run/app.sock`, `@abstract-name`, `(unnamed)`.
 *
 * @example
 * ```ts
 * import { SocketAddress } from "@netfx/core"
 * import * as assert from "node:assert"
 *
 * assert.strictEqual(SocketAddress.format(SocketAddress.ipv6("::1", 80)), "[::1]:80")
 * ```
 *
 * @since 0.1.0
 * @category formatting
 */
export const format = (address: SocketAddress): string => {
  switch (address._tag) {
    case "Ipv4":
      return `${address.host}:${address.port}`
    case "Ipv6":
      return `[${runtimeHost(address)}]:${address.port}`
    case "UnixPath":
      return address.path === "" ? "(unnamed)" : printable(address.path)
    case "UnixAbstract":
      return `@${printable(address.name)}`
  }
}

const IPV4_RE = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/

/**
 * The IP version of a numeric host (`4` or `6`), or `0` when the string is a
 * name that needs resolution. IPv6 zone suffixes (`fe80::1%eth0`) count as IPv6.
 *
 * @example
 * ```ts
 * import { SocketAddress } from "@netfx/core"
 * import * as assert from "node:assert"
 *
 * assert.strictEqual(SocketAddress.numericFamily("localhost"), 0)
 * assert.strictEqual(SocketAddress.numericFamily("fe80::1%eth0"), 6)
 * ```
 *
 * @since 0.1.0
 * @category utils
 */
export const numericFamily = (host: string): 0 | 4 | 6 => {
  if (IPV4_RE.test(host)) return 4
  const bare = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host
  const noZone = bare.split("%")[0] ?? ""
  if (noZone.includes(":") && /^[0-9a-fA-F:.]+$/.test(noZone)) return 6
  return 0
}
