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
