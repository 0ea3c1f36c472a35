import type * as Fiber from "effect/Fiber"
import * as Scheduler from "effect/Scheduler"

/**
 * The key under which Effect's fiber runtime publishes the fiber running on
 * this thread (`globalThis["effect/FiberCurrent"]`, Effect 3.x); set only
 * while a fiber's run loop is on the stack.
 */
const CURRENT_FIBER = "effect/FiberCurrent"

/**
 * The fiber running now (the one whose run loop is on the stack), or
 * `undefined` outside any fiber or where Effect does not publish it.
 *
 * @internal
 */
export const currentFiber = (): Fiber.RuntimeFiber<unknown, unknown> | undefined =>
  (globalThis as Record<string, unknown>)[CURRENT_FIBER] as Fiber.RuntimeFiber<unknown, unknown> | undefined

/**
 * The scheduler `serve` runs its accept loop and handler fibers on.
 *
 * Effect's default scheduler runs a woken fiber in a later microtask, with
 * one `SchedulerRunner` (and its closures and bucket arrays) per fiber since
 * Effect 3.20. For a server that is pure overhead on the hottest path: a
 * socket's data callback resumes the handler parked in `receive`, and the
 * handler then waits a microtask hop (a Promise, a bucket, a closure) before
 * it runs. This scheduler runs such a task inline, in the I/O callback that
 * woke the fiber, which is what a raw `node:net` handler does.
 *
 * A task runs inline only when nothing else is running: not one of this
 * scheduler's tasks (so a fiber that yields, or a fiber forked by a running
 * fiber, goes through the default scheduler and the event loop keeps
 * turning) and not any Effect fiber (a wake-up from inside another fiber's
 * run, as the in-memory network does, is deferred too). Deferred tasks go to
 * the default scheduler's shared runner, not a per-fiber one, so a parked
 * handler fiber holds no runner of its own.
 *
 * Fairness is unchanged: an inline run lasts until the fiber parks or has
 * run `maxOpsBeforeYield` operations, then it yields through the default
 * scheduler like any fiber.
 *
 * @internal
 */
export class IoScheduler implements Scheduler.Scheduler {
  private running = false

  private readonly deferred =
    (task: Scheduler.Task): Scheduler.Task =>
    () =>
      this.runTask(task)

  /** Whether a task scheduled now may run inline: nothing else is running. */
  canRunInline(): boolean {
    return !this.running && currentFiber() === undefined
  }

  /** @internal */
  runTask(task: Scheduler.Task): void {
    this.running = true
    try {
      task()
    } finally {
      this.running = false
    }
  }

  scheduleTask(task: Scheduler.Task, priority: number): void {
    if (!this.canRunInline()) {
      Scheduler.defaultScheduler.scheduleTask(this.deferred(task), priority)
      return
    }
    this.runTask(task)
  }

  shouldYield(fiber: Parameters<Scheduler.Scheduler["shouldYield"]>[0]): number | false {
    return Scheduler.defaultScheduler.shouldYield(fiber)
  }
}

/** @internal */
export const ioScheduler: IoScheduler = new IoScheduler()

/**
 * What netfx touches of a fiber: Effect 3's `FiberRuntime` keeps the
 * scheduler it resumes through in a plain field (`currentScheduler`, a cache
 * of the `currentScheduler` FiberRef, refreshed whenever a FiberRef changes).
 */
interface SwappableFiber {
  currentScheduler: Scheduler.Scheduler
}

/** true while {@link resumeFromIo} runs. */
let waking = false

/**
 * The scheduler one parked fiber's next wake-up goes through, installed by
 * {@link wakeInline} in place of the fiber's own (`original`) and removed
 * by that wake-up itself.
 *
 * A parked fiber resumes through `fiber.currentScheduler.scheduleTask(run,
 * priority, fiber)`, called from the resume callback, only while the fiber
 * is not running. This scheduler gives the fiber its own scheduler back
 * first, then runs the task inline when netfx's own I/O callback is waking
 * it ({@link resumeFromIo}) and the I/O scheduler may (nothing else
 * running), else hands it to the fiber's own scheduler exactly as the fiber
 * would have (an interruption, a message from another fiber). So the swap
 * lasts from the park to the next wake-up, whatever wakes the fiber, and
 * everything else (yields, forks) goes through the fiber's own scheduler as
 * before.
 */
class WakeScheduler implements Scheduler.Scheduler {
  constructor(readonly original: Scheduler.Scheduler) {}

  scheduleTask(task: Scheduler.Task, priority: number, fiber?: Fiber.RuntimeFiber<unknown, unknown>): void {
    if (fiber !== undefined && (fiber as unknown as SwappableFiber).currentScheduler === this) {
      ;(fiber as unknown as SwappableFiber).currentScheduler = this.original
    }
    if (waking && ioScheduler.canRunInline()) ioScheduler.runTask(task)
    else this.original.scheduleTask(task, priority, fiber)
  }

  shouldYield(fiber: Fiber.RuntimeFiber<unknown, unknown>): number | false {
    return this.original.shouldYield(fiber)
  }
}

const wakeDefault = new WakeScheduler(Scheduler.defaultScheduler)

/** The WakeScheduler of each deferred `SyncScheduler` seen (a `ManagedRuntime`'s fibers run on one). */
const wakeSync = new WeakMap<Scheduler.Scheduler, WakeScheduler>()

/**
 * The scheduler to swap in for `scheduler`, or `undefined` to leave it:
 * only Effect's default scheduler, and a `SyncScheduler` that has gone
 * asynchronous (it then hands every task to the default scheduler; a
 * `ManagedRuntime` and `Layer.toRuntime` leave their fibers on one). Any
 * other scheduler the user installed (a test scheduler, a custom one) is
 * left alone.
 */
const wakeFor = (scheduler: Scheduler.Scheduler): WakeScheduler | undefined => {
  if (scheduler === Scheduler.defaultScheduler) return wakeDefault
  if (!(scheduler instanceof Scheduler.SyncScheduler) || !scheduler.deferred) return undefined
  let wake = wakeSync.get(scheduler)
  if (wake === undefined) {
    wake = new WakeScheduler(scheduler)
    wakeSync.set(scheduler, wake)
  }
  return wake
}

/**
 * Whether fibers keep their scheduler in a writable own field: checked once,
 * on the first fiber seen; when an Effect version does not, nothing is
 * swapped and wake-ups go through the fiber's scheduler as usual.
 */
let swappable: boolean | undefined

/**
 * Called from an `Effect.async` registration (so on the parking fiber,
 * published in `globalThis["effect/FiberCurrent"]`) for a wait that netfx's
 * own I/O callback ends: the fiber's next wake-up runs it inline, in that
 * callback, instead of a microtask later through its scheduler's runner.
 * Only for fibers on Effect's default scheduler (see `wakeFor`).
 * Fairness is as before: the inline run lasts until the fiber parks again
 * or yields after `maxOpsBeforeYield` operations, through its own
 * scheduler.
 *
 * @internal
 */
export const wakeInline = (): void => {
  const fiber = currentFiber() as unknown as SwappableFiber | undefined
  if (fiber === undefined) return
  const wake = wakeFor(fiber.currentScheduler)
  if (wake === undefined) return
  if (swappable === undefined) {
    const field = Object.getOwnPropertyDescriptor(fiber, "currentScheduler")
    swappable = field !== undefined && field.writable === true
  }
  if (swappable) fiber.currentScheduler = wake
}

/**
 * Undoes {@link wakeInline} on the running fiber if no wake-up went through
 * the swapped scheduler (the wait ended while the fiber was still running,
 * or was interrupted before it parked).
 *
 * @internal
 */
export const wakeDone = (): void => {
  const fiber = currentFiber() as unknown as SwappableFiber | undefined
  if (fiber !== undefined && fiber.currentScheduler instanceof WakeScheduler) {
    fiber.currentScheduler = fiber.currentScheduler.original
  }
}

/**
 * Resumes a fiber parked in netfx's `Effect.async` from the I/O callback
 * that ended its wait: the one wake-up a {@link wakeInline} swap runs
 * inline. Any other wake-up of the parked fiber goes through its scheduler.
 *
 * @internal
 */
export const resumeFromIo = <A>(resume: (value: A) => void, value: A): void => {
  waking = true
  try {
    resume(value)
  } finally {
    waking = false
  }
}
