/**
 * How the examples run: on Bun they use `BunNetwork`, on Node `NodeNetwork`,
 * and they stop cleanly on Ctrl-C (the fiber is interrupted, so every
 * socket's Scope closes).
 */

import { pathToFileURL } from "node:url"
import { BunNetwork } from "@netfx/bun"
import type { Network } from "@netfx/core"
import { NodeNetwork } from "@netfx/node"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import type * as Layer from "effect/Layer"

/** True under Bun (`bun examples/src/tcp-server.ts`), false under Node (`tsx ...`). */
export const isBun: boolean = typeof (globalThis as { Bun?: unknown }).Bun !== "undefined"

/** The network of the runtime we are on. */
export const NetworkLive: Layer.Layer<Network.Network> = isBun ? BunNetwork.layer : NodeNetwork.layer

/** True when `importMetaUrl` is the module that was started from the command line. */
export const isMain = (importMetaUrl: string): boolean =>
  process.argv[1] !== undefined && importMetaUrl === pathToFileURL(process.argv[1]).href

/** Reads `--name value` from the command line. */
export const arg = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 && process.argv[i + 1] !== undefined ? (process.argv[i + 1] as string) : fallback
}

/** Runs an example program until it ends or the process gets SIGINT/SIGTERM. */
export const runMain = <E>(program: Effect.Effect<unknown, E, Network.Network>): void => {
  const fiber = Effect.runFork(Effect.provide(program, NetworkLive))
  const stop = () => Effect.runFork(Fiber.interrupt(fiber))
  process.once("SIGINT", stop)
  process.once("SIGTERM", stop)
  fiber.addObserver((exit) => {
    process.off("SIGINT", stop)
    process.off("SIGTERM", stop)
    if (Exit.isFailure(exit) && !Exit.isInterrupted(exit)) {
      console.error(exit.cause.toString())
      process.exitCode = 1
    }
  })
}

export const encode = (s: string): Uint8Array => new TextEncoder().encode(s)
export const decode = (b: Uint8Array): string => new TextDecoder().decode(b)
