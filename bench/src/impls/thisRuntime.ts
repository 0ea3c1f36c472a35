/**
 * The raw and netfx implementations for the runtime this script runs on
 * (Bun or Node), for the one-process measurement scripts (acceptCpu,
 * idleHeap).
 */
import type { Network } from "@netfx/core"
import type * as Layer from "effect/Layer"
import { netfx } from "./netfx.ts"
import type { Impl } from "./types.ts"

export const isBun = typeof (globalThis as { Bun?: unknown }).Bun !== "undefined"

/** A full collection now: `Bun.gc(true)` on Bun, `gc()` on Node (run node with --expose-gc). */
export const fullGc = (): void => {
  const g = globalThis as { Bun?: { gc(force: boolean): void }; gc?: () => void }
  if (g.Bun !== undefined) g.Bun.gc(true)
  else if (g.gc !== undefined) g.gc()
  else throw new Error("run node with --expose-gc")
}

/** Raw Bun under Bun, raw node:net under Node. */
export const rawImpl = async (): Promise<Impl> =>
  isBun ? (await import("./rawBun.ts")).rawBun : (await import("./rawNode.ts")).rawNode

/** netfx over BunNetwork under Bun, over NodeNetwork under Node. */
export const netfxImpl = async (): Promise<Impl> => {
  const layer: Layer.Layer<Network.Network> = isBun
    ? (await import("@netfx/bun")).BunNetwork.layer
    : (await import("@netfx/node")).NodeNetwork.layer
  return netfx("netfx", layer)
}
