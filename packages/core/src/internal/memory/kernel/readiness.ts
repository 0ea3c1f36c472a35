import type { Scheduler } from "../scheduler.ts"
import { C, err } from "./constants.ts"
import type { DescriptorTable } from "./descriptors.ts"
import { Sock } from "./socket.ts"

/*
 * Readiness, the kernel's epoll: watchers armed for read or write on a
 * descriptor (the addon's `watch`), sends waiting for room (`sendtoWait`)
 * and adopted byte streams (`connections.ts`) that pump when anything
 * changed. A change anywhere calls `poke`, which schedules one check of
 * them all on the memory network's scheduler fiber (coalesced), so events
 * are never delivered from the caller's stack. A socket reports what
 * `Sock.readable`/`Sock.writable` say; a file is always ready.
 */

interface Watch {
  armed: number
  readonly onEvent: (events: number) => void
  closed: boolean
}

export class Readiness {
  private readonly watches = new Map<number, Set<Watch>>()
  private readonly sendWaiters = new Set<() => boolean>()
  private readonly adopted = new Set<() => void>()
  private poked = false

  constructor(
    private readonly scheduler: Scheduler,
    private readonly descriptors: DescriptorTable,
  ) {}

  /** Schedules readiness checks on the scheduler fiber (coalesced). */
  poke(): void {
    if (this.poked) return
    this.poked = true
    this.scheduler.soon(() => {
      this.poked = false
      for (const waiter of [...this.sendWaiters]) if (waiter()) this.sendWaiters.delete(waiter)
      for (const [fd, set] of this.watches) {
        const o = this.descriptors.get(fd)
        for (const w of set) {
          if (w.armed === 0 || w.closed) continue
          const events =
            o instanceof Sock
              ? (w.armed & C.EV_READ && o.readable() ? C.EV_READ : 0) |
                (w.armed & C.EV_WRITE && o.writable() ? C.EV_WRITE : 0)
              : w.armed
          if (events !== 0) {
            w.armed = 0
            w.onEvent(events)
          }
        }
      }
      for (const f of [...this.adopted]) f()
    })
  }

  /** A watcher of `fd` (the addon's `watch`); the caller checked that `fd` is open. */
  watch(fd: number, onEvent: (events: number) => void): { arm(events: number): number; close(): void } {
    const w: Watch = { armed: 0, onEvent, closed: false }
    const set = this.watches.get(fd) ?? new Set()
    set.add(w)
    this.watches.set(fd, set)
    return {
      arm: (events) => {
        if (w.closed) return err("EBADF")
        w.armed = events
        if (events !== 0) this.poke()
        return 0
      },
      close: () => {
        w.closed = true
        this.watches.get(fd)?.delete(w)
      },
    }
  }

  /** `fd` was closed: its watchers are closed too. */
  closed(fd: number): void {
    const set = this.watches.get(fd)
    if (set !== undefined) for (const w of set) w.closed = true
    this.watches.delete(fd)
  }

  /** Runs `attempt` on the scheduler fiber, and again at each check until it returns true. */
  whenSendable(attempt: () => boolean): void {
    this.scheduler.soon(() => {
      if (!attempt()) this.sendWaiters.add(attempt)
    })
  }

  /** Runs `f` at each check until the returned function is called. */
  track(f: () => void): () => void {
    this.adopted.add(f)
    return () => this.adopted.delete(f)
  }
}
