import type { Network } from "@netfx/core"
import type * as Effect from "effect/Effect"

/**
 * One entry of `pnpm demo`: a title and a program that runs an example pair
 * over loopback, printing what it does, and ends by itself.
 */
export interface Demo {
  readonly title: string
  readonly run: Effect.Effect<void, unknown, Network.Network>
}
