import * as Scheduler from "effect/Scheduler"

/**
 * The key under which Effect's fiber runtime publishes the fiber running on
 * this thread (`globalThis["effect/FiberCurrent"]`, Effect 3.x); set only
 * while a fiber's run loop is on the stack.
 */
const CURRENT_FIBER = "effect/FiberCurrent"

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

  private runTask(task: Scheduler.Task): void {
    this.running = true
    try {
      task()
    } finally {
      this.running = false
    }
  }

  scheduleTask(task: Scheduler.Task, priority: number): void {
    if (this.running || (globalThis as Record<string, unknown>)[CURRENT_FIBER] !== undefined) {
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
export const ioScheduler: Scheduler.Scheduler = new IoScheduler()
