import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"

/**
 * Effect 3's asynchronous primitive (`_op: "Async"`), as the run loop sees
 * it: `effect_instruction_i0` is the registration it calls with the fiber's
 * resume callback, `effect_instruction_i1` the fiber id it blocks on.
 */
interface AsyncPrimitive {
  readonly _op: string
  readonly effect_instruction_i0: unknown
  readonly effect_instruction_i1: unknown
}

/**
 * The primitive `Effect.async` builds each time it runs, taken from one run
 * at load; `undefined` where it does not have the expected shape (another
 * Effect version), and then {@link reusableAsync} is plain `Effect.async`.
 */
const template: AsyncPrimitive | undefined = (() => {
  try {
    // a registration of exactly one parameter and no canceler: the run builds
    // the bare primitive (no AbortController, no `onInterrupt` around it)
    const wrapper = Effect.async<never>((_resume) => {}) as unknown as { commit?: () => unknown }
    const primitive = typeof wrapper.commit === "function" ? (wrapper.commit() as AsyncPrimitive) : undefined
    return primitive !== undefined &&
      primitive._op === "Async" &&
      Object.hasOwn(primitive, "effect_instruction_i0") &&
      Object.hasOwn(primitive, "effect_instruction_i1")
      ? primitive
      : undefined
  } catch {
    return undefined
  }
})()

/**
 * `Effect.async(register)` for a registration that returns no canceler,
 * built once and run any number of times.
 *
 * Each run of an `Effect.async` builds a new primitive, a proxy resume
 * callback with its state, and two closures, and takes one more run-loop
 * step (the commit that builds them) before the fiber parks: about 0.6 KB
 * of garbage per wait on Bun (JSC), which is what a ping-pong's receive
 * does once per message. This Effect is that primitive itself, built once
 * with `register` as its registration: the fiber calls `register` with its
 * own resume callback when it runs it. What the fiber does is the same as
 * for `Effect.async` without a canceler (interruption resumes the fiber
 * without running any code of the caller; a second resume is ignored); the
 * difference is that `register` runs when the fiber evaluates the wait, not
 * one step earlier.
 *
 * @internal
 */
export const reusableAsync = <A, E>(
  register: (resume: (effect: Effect.Effect<A, E>) => void) => void,
): Effect.Effect<A, E> =>
  template === undefined
    ? Effect.async<A, E>(register)
    : (Object.assign(Object.create(Object.getPrototypeOf(template) as object) as object, template, {
        effect_instruction_i0: register,
      }) as unknown as Effect.Effect<A, E>)

/**
 * Whether `holder`, the fiber that took a one-at-a-time slot (a socket's
 * receive, a stream's waiting send) and parked there, still holds it as
 * `asker` sees it: it is another fiber and it is not done. A fiber
 * interrupted while parked keeps the slot until it is done
 * (`Fiber.interrupt`, a race or a timeout waits for that), and the asker
 * itself cannot be parked and asking at once. When this
 * answers `false` the caller clears its slot; what arrived meanwhile stays
 * buffered for the next call.
 *
 * @internal
 */
export const holdsSlot = (
  holder: Fiber.RuntimeFiber<unknown, unknown>,
  asker: Fiber.RuntimeFiber<unknown, unknown> | undefined,
): boolean => holder !== asker && holder.unsafePoll() === null
