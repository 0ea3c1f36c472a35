import type * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import { SingleShotGen, YieldWrap } from "effect/Utils"
import { currentFiber } from "./ioScheduler.ts"

/**
 * `yield*` of a netfx operation inside `Effect.gen`, completed in the
 * generator step when it can be.
 *
 * An Effect's `[Symbol.iterator]` is what `yield*` calls, on the fiber
 * running the generator, at the moment the fiber runs that step; Effect's
 * own iterator yields the Effect to the fiber, which runs it as a separate
 * operation (an iterator, a wrapper and two result objects, then a
 * `commit` and a `succeed` step through the run loop, and the generator is
 * resumed with the value). A `send` whose bytes the socket takes at once,
 * or a `receive` with bytes buffered, needs none of that: its iterator does
 * the work right there and hands the value back as a finished iteration,
 * as if the operation had been `Effect.succeed(value)`. Anything else (a
 * wait, a failure) is yielded to the fiber as before.
 *
 * The fiber's fairness is kept: each inline operation adds the two
 * operations it replaces to the fiber's count, and once the fiber's
 * scheduler says it should yield, the operation goes through the run loop
 * (which yields first). Outside a fiber (someone iterating the Effect by
 * hand) nothing runs early: the plain iterator is returned.
 */

/** What netfx touches of Effect 3's `FiberRuntime`: its operation count and scheduler. */
interface CountingFiber {
  currentOpCount: number
  readonly currentScheduler: { shouldYield(fiber: Fiber.RuntimeFiber<unknown, unknown>): number | false }
}

/**
 * Whether fibers count operations in a writable own number field: checked
 * on the first fiber seen; where they do not (another Effect version),
 * nothing runs inline.
 */
let counting: boolean | undefined

/**
 * The fiber running this `yield*`, if the operation may complete inline
 * (it is charged two operations here), else `undefined`.
 *
 * @internal
 */
export const inlineFiber = (): Fiber.RuntimeFiber<unknown, unknown> | undefined => {
  const fiber = currentFiber()
  if (fiber === undefined) return undefined
  const f = fiber as unknown as CountingFiber
  if (counting === undefined) {
    const field = Object.getOwnPropertyDescriptor(fiber, "currentOpCount")
    counting = field !== undefined && field.writable === true && typeof field.value === "number"
  }
  if (!counting) return undefined
  f.currentOpCount += 2
  return f.currentScheduler.shouldYield(fiber) === false ? fiber : undefined
}

/**
 * An iterator that is its own result object (`next` returns itself), as
 * `yield*` uses it: `return` and `throw` are only called if the generator is
 * closed while delegating, which Effect never does.
 */
abstract class OwnIterator<A> {
  abstract next(resumed: A): this
  return(value: A): { readonly value: A; readonly done: true } {
    return { value, done: true }
  }
  throw(e: unknown): never {
    throw e
  }
  [Symbol.iterator](): this {
    return this
  }
}

/**
 * A finished iteration: `yield*` of it evaluates to `value` at once (one
 * allocation, or none for {@link doneVoid}).
 *
 * @internal
 */
export class Done<A> extends OwnIterator<A> {
  readonly done = true
  constructor(readonly value: A) {
    super()
  }
  next(): this {
    return this
  }
}

/** `yield*` of it evaluates to `undefined` (a completed send). @internal */
export const doneVoid: Done<void> = Object.freeze(new Done<void>(undefined))

/**
 * An iteration that yields one Effect to the fiber (a wait) and finishes
 * with what the fiber resumes it with: one allocation where Effect's
 * iterator takes four.
 *
 * @internal
 */
export class YieldOnce<A> extends OwnIterator<A> {
  done = false
  private yielded = false
  value: unknown
  constructor(wrapped: YieldWrap<Effect.Effect<A, unknown, unknown>>) {
    super()
    this.value = wrapped
  }
  next(resumed: A): this {
    if (!this.yielded) {
      this.yielded = true
      return this
    }
    this.done = true
    this.value = resumed
    return this
  }
}

/** Effect's own iterator for `effect`: yields it to the fiber. @internal */
export const plainIterator = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
): Effect.EffectGenerator<Effect.Effect<A, E, R>> =>
  new SingleShotGen(new YieldWrap(effect)) as unknown as Effect.EffectGenerator<Effect.Effect<A, E, R>>
