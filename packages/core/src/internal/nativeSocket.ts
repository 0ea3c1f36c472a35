import * as Effect from "effect/Effect"
import type { NativeAddon, NativeAddress } from "../NativeDriver.ts"
import { BrokenResource, ClosedResource, Unsupported } from "../NetError.ts"
import * as SocketAddress from "../SocketAddress.ts"

/** @internal */
export const EV_READ = 1
/** @internal */
export const EV_WRITE = 2
const EV_ERROR = 4

/** @internal */
export const toAddress = (a: NativeAddress): SocketAddress.UnixPath | SocketAddress.UnixAbstract =>
  a.abstract ? SocketAddress.unixAbstract(a.path) : SocketAddress.unixPath(a.path)

/** @internal */
export const nameOf = (a: SocketAddress.UnixPath | SocketAddress.UnixAbstract): [string, boolean] =>
  a._tag === "UnixPath" ? [a.path, false] : [a.name, true]

/** @internal The binding, or `Unsupported` naming the fix. */
export const requireBinding = (addon: NativeAddon, feature: string) =>
  addon.binding === undefined || addon.watch === undefined
    ? Effect.fail(
        new Unsupported({
          feature,
          runtime: addon.runtime,
          reason: addon.loadError ?? addon.fix,
        }),
      )
    : Effect.succeed({ binding: addon.binding, watch: addon.watch })

/**
 * A descriptor owned by netfx with one-shot readiness (uv_poll on Node, the
 * addon's epoll thread on Bun). Operations are non-blocking calls retried
 * after readiness on EAGAIN; waiters are woken by `close`.
 *
 * @internal
 */
export class NativeSocket {
  private readonly readers = new Set<() => void>()
  private readonly writers = new Set<() => void>()
  private readonly watcher: { arm(events: number): number; close(): void } | undefined
  closed = false

  constructor(
    readonly addon: NativeAddon,
    readonly fd: number,
  ) {
    const w = addon.watch?.(fd, (events) => this.onEvent(events))
    this.watcher = typeof w === "object" ? w : undefined
  }

  get binding() {
    // requireBinding ran before any NativeSocket exists
    return this.addon.binding as NonNullable<NativeAddon["binding"]>
  }

  errno(result: number): string {
    return this.addon.errnoName(result)
  }

  private rearm(): void {
    if (this.closed || this.watcher === undefined) return
    const events = (this.readers.size > 0 ? EV_READ : 0) | (this.writers.size > 0 ? EV_WRITE : 0)
    this.watcher.arm(events)
  }

  private onEvent(events: number): void {
    if (events & (EV_READ | EV_ERROR)) {
      const wake = [...this.readers]
      this.readers.clear()
      for (const w of wake) w()
    }
    if (events & (EV_WRITE | EV_ERROR)) {
      const wake = [...this.writers]
      this.writers.clear()
      for (const w of wake) w()
    }
    this.rearm()
  }

  /** Waits until the descriptor is readable (EV_READ) or writable (EV_WRITE), or closed. */
  wait(events: number): Effect.Effect<void> {
    return Effect.async<void>((resume) => {
      if (this.closed) return resume(Effect.void)
      const set = events === EV_READ ? this.readers : this.writers
      const waker = () => resume(Effect.void)
      set.add(waker)
      this.rearm()
      return Effect.sync(() => {
        set.delete(waker)
        this.rearm()
      })
    })
  }

  /**
   * Runs a non-blocking call until it does not give EAGAIN, waiting for
   * `events` readiness in between.
   */
  io<A>(
    operation: string,
    events: number,
    call: () => A | number,
    address?: SocketAddress.SocketAddress,
  ): Effect.Effect<A, BrokenResource | ClosedResource> {
    const loop: Effect.Effect<A, BrokenResource | ClosedResource> = Effect.suspend(() => {
      if (this.closed) return Effect.fail(new ClosedResource({ operation }))
      const r = call()
      if (typeof r !== "number" || r >= 0) return Effect.succeed(r as A)
      const code = this.errno(r)
      // Only the wait is interruptible: callers may run `io` uninterruptibly
      // so that what a completed call returned (descriptors!) is never dropped.
      if (code === "EAGAIN" || code === "EWOULDBLOCK" || code === "EINTR")
        return Effect.zipRight(Effect.interruptible(this.wait(events)), loop)
      return Effect.fail(new BrokenResource({ operation, code, syscall: operation, address }))
    })
    return loop
  }

  /** Stops readiness, closes the descriptor and wakes every waiter. Idempotent. */
  close(): void {
    if (this.closed) return
    this.closed = true
    this.watcher?.close()
    this.binding.close(this.fd)
    const wake = [...this.readers, ...this.writers]
    this.readers.clear()
    this.writers.clear()
    for (const w of wake) w()
  }
}
