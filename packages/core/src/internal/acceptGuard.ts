/**
 * Backing off while the process is out of descriptors.
 *
 * A listener whose accept fails with EMFILE/ENFILE must not retry at once:
 * Bun's accept loop does (a busy loop at full CPU, and JavaScript never
 * hears of it), and libuv resets the connections it cannot accept. The
 * guard probes for a free descriptor on a timer; when there is none it
 * takes the listening socket out of the runtime's event loop (the kernel
 * keeps queueing connections on it: the guard holds a duplicate of the
 * descriptor), reports the condition, and probes again after 5 ms, then
 * doubling up to 1 s (as Go's net/http does), resuming when a descriptor
 * is free again.
 *
 * @internal
 */

/** How often a running listener checks for exhaustion. */
export const CHECK_MILLIS = 250
/** After resuming, how soon to check again (a runtime that spins on EMFILE spins at most this long). */
export const RECHECK_MILLIS = 10
export const FIRST_DELAY_MILLIS = 5
export const MAX_DELAY_MILLIS = 1_000

/** @internal */
export interface AcceptGuardHooks {
  /** `undefined` when a descriptor could be allocated now, else its errno name. */
  readonly probe: () => string | undefined
  /** Stop the runtime accepting; the listening socket stays open and queues connections. */
  readonly pause: () => void
  /** Let the runtime accept again. */
  readonly resume: () => void
  /** Accepting stopped with `code`; the next attempt is in `retryInMillis`. */
  readonly report: (code: string, retryInMillis: number) => void
}

/** @internal */
export class AcceptGuard {
  private timer: ReturnType<typeof setTimeout> | undefined = undefined
  private delay = FIRST_DELAY_MILLIS
  private paused = false
  private stopped = false

  constructor(private readonly hooks: AcceptGuardHooks) {
    this.schedule(CHECK_MILLIS)
  }

  get isPaused(): boolean {
    return this.paused
  }

  private schedule(millis: number): void {
    if (this.stopped) return
    this.timer = setTimeout(() => this.tick(), millis)
    // While paused the timer stands in for the listening socket, which kept
    // the process alive; otherwise it never does.
    if (!this.paused) (this.timer as { unref?: () => void }).unref?.()
  }

  private tick(): void {
    this.timer = undefined
    if (this.stopped) return
    const code = this.hooks.probe()
    if (code === undefined) {
      if (this.paused) {
        this.paused = false
        this.hooks.resume()
        this.schedule(RECHECK_MILLIS)
      } else {
        // healthy at a regular check: the next exhaustion starts from the first delay
        this.delay = FIRST_DELAY_MILLIS
        this.schedule(CHECK_MILLIS)
      }
      return
    }
    if (!this.paused) {
      this.paused = true
      this.hooks.pause()
    }
    const wait = this.delay
    this.delay = Math.min(this.delay * 2, MAX_DELAY_MILLIS)
    this.hooks.report(code, wait)
    this.schedule(wait)
  }

  /** Stops checking (the listener closes); does not resume the runtime. */
  stop(): void {
    this.stopped = true
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
  }
}

/**
 * A probe over the native addon: duplicates `fd` (the held listening
 * descriptor) and closes the copy. EMFILE/ENFILE mean an accept would fail.
 *
 * @internal
 */
export const dupProbe =
  (binding: { dup(fd: number): number; close(fd: number): number }, errnoName: (n: number) => string, fd: number) =>
  (): string | undefined => {
    const copy = binding.dup(fd)
    if (copy >= 0) {
      binding.close(copy)
      return undefined
    }
    const code = errnoName(copy)
    // only exhaustion stops accepting; anything else is not the guard's business
    return code === "EMFILE" || code === "ENFILE" || code === "ENOBUFS" || code === "ENOMEM" ? code : undefined
  }

/** The native calls {@link guardListener} needs. */
interface GuardAddon {
  readonly binding: { dup(fd: number): number; close(fd: number): number } | undefined
  readonly errnoName: (n: number) => string
}

/**
 * Guards a runtime listener on descriptor `fd`: holds a duplicate of it
 * (so the socket keeps listening while the runtime's listener is stopped),
 * `pause` stops the runtime's listener, `relisten` listens again on a fresh
 * duplicate it then owns, `report` hears each failed probe. `undefined`
 * without the addon or a descriptor. `close` stops the guard and releases
 * the duplicate; `isPaused` tells whether the runtime's listener is
 * currently stopped.
 *
 * @internal
 */
export const guardListener = (
  addon: GuardAddon | undefined,
  fd: number | undefined,
  hooks: {
    readonly pause: () => void
    readonly relisten: (fd: number) => void
    readonly report: (code: string, retryInMillis: number) => void
  },
): { readonly isPaused: boolean; close(): void } | undefined => {
  const b = addon?.binding
  if (addon === undefined || b === undefined || fd === undefined) return undefined
  const held = b.dup(fd)
  if (held < 0) return undefined
  const guard = new AcceptGuard({
    probe: dupProbe(b, addon.errnoName, held),
    pause: hooks.pause,
    resume: () => {
      const copy = b.dup(held)
      if (copy >= 0) hooks.relisten(copy)
    },
    report: hooks.report,
  })
  return {
    get isPaused() {
      return guard.isPaused
    },
    close: () => {
      guard.stop()
      b.close(held)
    },
  }
}
