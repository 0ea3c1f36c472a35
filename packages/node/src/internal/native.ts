import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as net from "node:net"
import type { Driver, NetError } from "@netfx/core"
import { NativeDriver } from "@netfx/core"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { brokenFrom, NodeConnection } from "./connection.ts"

const FIX =
  "the @netfx/native addon is not installed or not built; install a C toolchain (cc, make, python3) and run `pnpm rebuild @netfx/native`"

/** @internal Loads `@netfx/native`; never throws (a missing addon becomes `Unsupported` later). */
export const loadAddon = (runtime: string): NativeDriver.NativeAddon => {
  try {
    const require = createRequire(import.meta.url)
    return require("@netfx/native") as NativeDriver.NativeAddon
  } catch (error) {
    return {
      binding: undefined,
      loadError: `${FIX} (${error instanceof Error ? error.message.split("\n")[0] : String(error)})`,
      fix: FIX,
      runtime,
      readiness: "none",
      errnoName: (n) => `E${Math.abs(n)}`,
      watch: undefined,
    }
  }
}

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

/** @internal */
export const driver = (): NativeDriver.NativeDriver => {
  let addon: NativeDriver.NativeAddon | undefined
  return {
    // loaded on first use, so programs that never need it never load it
    get addon() {
      if (addon === undefined) addon = loadAddon("node")
      return addon
    },
    adoptStream,
    file,
  }
}
