import * as fs from "node:fs"
import { createRequire } from "node:module"
import type { NetError } from "@netfx/core"
import type * as Driver from "@netfx/core/Driver"
import { NativeDriver } from "@netfx/core/Driver"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { BunConnection, type BunSocket, brokenFrom, type SocketData, streamHandlers } from "./connection.ts"

/** @internal Bun: `Bun.connect({ fd })` (`new net.Socket({ fd })` does not work on Bun 1.4). */
export const adoptStream = (fd: number): Effect.Effect<Driver.RawConnection, NetError.BrokenResource, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.tryPromise({
      try: async () => {
        const socket = (await Bun.connect({
          fd,
          allowHalfOpen: true,
          data: { conn: undefined },
          socket: streamHandlers as unknown as Bun.SocketHandler<SocketData>,
        } as unknown as Bun.TCPSocketConnectOptions<SocketData>)) as unknown as BunSocket
        return new BunConnection(socket, { noDelay: true })
      },
      catch: (error) => brokenFrom("adoptStream", error),
    }),
    (c) => Effect.sync(() => c.close()),
  )

/** @internal */
export const file: NativeDriver.FileOps = NativeDriver.makeFileOps(fs)

/** @internal The native driver; the addon loads on first use. */
export const driver: NativeDriver.NativeDriver = NativeDriver.make({
  runtime: "bun",
  // under Bun the addon's loader selects its epoll thread (uv_poll would abort Bun)
  load: () => createRequire(import.meta.url)("@netfx/native") as NativeDriver.NativeAddon,
  adoptStream,
  file,
})

/** @internal */
export const addon = (): NativeDriver.NativeAddon => driver.addon
