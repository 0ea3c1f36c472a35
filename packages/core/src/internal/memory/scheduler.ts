import type * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"

interface Timed {
  readonly at: number
  readonly seq: number
  readonly run: () => void
}

/**
 * The memory network's one timer: a queue of actions ordered by virtual
 * time (then by insertion), run by a single fiber that sleeps on Effect's
 * `Clock` until the earliest is due. Nothing is delivered synchronously
 * from the caller's stack, and no fiber is created per chunk.
 *
 * @internal
 */
export class Scheduler {
  private queue: Array<Timed> = []
  private seq = 0
  private wake: (() => void) | undefined = undefined
  private signalled = false
  /** The moment the loop sleeps until (+∞ while it waits for work, −∞ while it runs). */
  private sleepingUntil = Number.NEGATIVE_INFINITY

  constructor(private readonly clock: Clock.Clock) {}

  now(): number {
    return this.clock.unsafeCurrentTimeMillis()
  }

  /** Runs `run` at virtual time `at` (milliseconds); `at <= now` runs it on the next turn. */
  at(at: number, run: () => void): void {
    const item: Timed = { at, seq: this.seq++, run }
    // binary search for the insertion point (stable: after equal times)
    let lo = 0
    let hi = this.queue.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if ((this.queue[mid] as Timed).at <= at) lo = mid + 1
      else hi = mid
    }
    this.queue.splice(lo, 0, item)
    // a loop already sleeping until an earlier moment need not wake (and
    // leave an abandoned sleep behind in a TestClock)
    if (at < this.sleepingUntil) this.signal()
  }

  /** Runs `run` on the next turn of the scheduler. */
  soon(run: () => void): void {
    this.at(Number.NEGATIVE_INFINITY, run)
  }

  private signal(): void {
    const w = this.wake
    if (w !== undefined) {
      this.wake = undefined
      w()
    } else {
      this.signalled = true
    }
  }

  private runDue(now: number): void {
    while (this.queue.length > 0 && (this.queue[0] as Timed).at <= now) {
      // take every item due now at once (no shift per item: the queue can be long)
      let lo = 0
      let hi = this.queue.length
      while (lo < hi) {
        const mid = (lo + hi) >>> 1
        if ((this.queue[mid] as Timed).at <= now) lo = mid + 1
        else hi = mid
      }
      const batch = this.queue.splice(0, lo)
      for (const item of batch) item.run()
    }
  }

  private readonly waitWake: Effect.Effect<void> = Effect.async<void>((resume) => {
    if (this.signalled) {
      this.signalled = false
      resume(Effect.void)
      return
    }
    const w = () => resume(Effect.void)
    this.wake = w
    return Effect.sync(() => {
      if (this.wake === w) this.wake = undefined
    })
  })

  /** The delivery loop; fork it once in the network's scope. */
  get run(): Effect.Effect<never> {
    const step: Effect.Effect<void> = Effect.suspend(() => {
      this.signalled = false
      this.sleepingUntil = Number.NEGATIVE_INFINITY
      const now = this.now()
      this.runDue(now)
      const next = this.queue[0]
      if (this.signalled) return Effect.void
      if (next === undefined) {
        this.sleepingUntil = Number.POSITIVE_INFINITY
        return this.waitWake
      }
      if (next.at <= this.now()) return Effect.void
      this.sleepingUntil = next.at
      return Effect.raceFirst(Effect.sleep(Duration.millis(next.at - now)), this.waitWake)
    })
    return Effect.forever(step)
  }
}

/**
 * A small seeded PRNG (mulberry32): the same seed gives the same sequence
 * on every run and every runtime.
 *
 * @internal
 */
export class Prng {
  private state: number
  constructor(seed: number) {
    this.state = seed >>> 0
  }
  /** A float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0
    let t = this.state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  /** true with probability `p`. */
  chance(p: number): boolean {
    return p > 0 && this.next() < p
  }
}
