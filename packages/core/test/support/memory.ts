import { MemoryNetwork, type Network } from "@netfx/core"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as TestClock from "effect/TestClock"

/** Runs `effect` on a fresh memory network, letting virtual time (TestClock) run until it is done. */
export const virtual = <A, E>(
  effect: Effect.Effect<A, E, Scope.Scope | Network.Network | MemoryNetwork.Control>,
  options?: MemoryNetwork.Options,
) =>
  Effect.gen(function* () {
    const fiber = yield* Effect.fork(effect.pipe(Effect.scoped, Effect.provide(MemoryNetwork.layer(options))))
    yield* TestClock.adjust("1 hour")
    return yield* Fiber.join(fiber)
  })

/**
 * A memory network Layer that remembers the control of the network built
 * last (each test run builds a fresh one), so the contract suites can count
 * its open handles synchronously, as they count a process's descriptors.
 */
export const trackedMemory = (options?: MemoryNetwork.Options) => {
  let current: MemoryNetwork.ControlService | undefined
  const control = (): MemoryNetwork.ControlService => {
    if (current === undefined) throw new Error("no memory network has been built yet")
    return current
  }
  const layer = MemoryNetwork.layer(options).pipe(
    Layer.tap((context) =>
      Effect.sync(() => {
        current = Context.unsafeGet(context, MemoryNetwork.Control)
      }),
    ),
  )
  /** Live sockets + listeners and datagram endpoints + virtual descriptors of the current network. */
  const openFds = (): number =>
    Effect.runSync(
      Effect.map(
        Effect.all([control().sockets, control().listeners, control().descriptors]),
        ([sockets, listeners, descriptors]) => sockets.length + listeners.length + descriptors,
      ),
    )
  return { layer, control, openFds }
}
