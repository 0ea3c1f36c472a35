import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as net from "node:net"
import type { NetError, SocketAddress } from "@netfx/core"
import type * as Driver from "@netfx/core/Driver"
import { NativeDriver } from "@netfx/core/Driver"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { brokenFrom, NodeConnection } from "./connection.ts"

/** @internal Node: `new net.Socket({ fd })` (it guesses TCP or pipe from the descriptor). */
export const adoptStream = (fd: number): Effect.Effect<Driver.RawConnection, NetError.BrokenResource, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.try({
      try: () => {
        const socket = new net.Socket({ fd, readable: true, writable: true, allowHalfOpen: true })
        socket.pause()
        return new NodeConnection(socket)
      },
      catch: (error) => brokenFrom("adoptStream", error),
    }),
    (c) => Effect.sync(() => c.close()),
  )

/** @internal */
export const file: NativeDriver.FileOps = NativeDriver.makeFileOps(fs)

/** @internal The native driver; the addon loads on first use. */
export const driver: NativeDriver.NativeDriver = NativeDriver.make({
  runtime: "node",
  // resolved from this package, which depends on @netfx/native
  load: () => createRequire(import.meta.url)("@netfx/native") as NativeDriver.NativeAddon,
  adoptStream,
  file,
})

/** @internal */
export const addon = (): NativeDriver.NativeAddon => driver.addon

/**
 * A bound IP socket with SO_REUSEPORT (and SO_REUSEADDR when asked),
 * opened through the addon, for Node versions whose `node:net`/`node:dgram`
 * cannot set SO_REUSEPORT (before 22.12): the runtime then adopts the
 * descriptor (`server.listen({ fd })`, `socket.bind({ fd })`). Returns the
 * descriptor, an errno name (the bind failed), or `undefined` when the
 * addon is missing (the caller reports `Unsupported`).
 *
 * @internal
 */
export const reusePortSocket = (
  address: SocketAddress.Ipv4 | SocketAddress.Ipv6,
  type: "stream" | "dgram",
  options: { readonly ipv6Only: boolean; readonly reuseAddress: boolean },
): { readonly fd: number } | { readonly code: string } | undefined => {
  const a = addon()
  const b = a.binding
  if (b === undefined || b.socketIp === undefined || b.bindIp === undefined) return undefined
  const c = b.constants
  const fd = b.socketIp(address._tag === "Ipv6" ? 6 : 4, (type === "stream" ? c.SOCK_STREAM : c.SOCK_DGRAM) as number)
  if (fd < 0) return { code: a.errnoName(fd) }
  const set = (level: number | undefined, name: number | undefined, value: number) =>
    // a constant this addon build lacks: EINVAL (22)
    level === undefined || name === undefined ? -22 : b.setsockopt(fd, level, name, value)
  const steps = [
    options.reuseAddress ? set(c.SOL_SOCKET, c.SO_REUSEADDR, 1) : 0,
    set(c.SOL_SOCKET, c.SO_REUSEPORT, 1),
    address._tag === "Ipv6" ? set(c.IPPROTO_IPV6, c.IPV6_V6ONLY, options.ipv6Only ? 1 : 0) : 0,
    b.bindIp(fd, address.host, address.port, address._tag === "Ipv6" ? address.scopeId : 0),
  ]
  const failed = steps.find((r) => r < 0)
  if (failed !== undefined) {
    b.close(fd)
    return { code: a.errnoName(failed) }
  }
  return { fd }
}
