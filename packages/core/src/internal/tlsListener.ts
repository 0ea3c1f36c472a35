import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import * as Runtime from "effect/Runtime"
import * as Scope from "effect/Scope"
import type { ListenerHandlers, RawConnection, RawListener, TlsDriver } from "../Driver.ts"
import { TlsFailed } from "../NetError.ts"
import * as SocketAddress from "../SocketAddress.ts"
import type { TlsServerOptions } from "../Tls.ts"

/**
 * Handshake failure codes that say the peer closed or reset the connection
 * before the handshake completed (no TLS alert, no certificate verdict).
 */
const PEER_GONE_CODES = new Set(["ECONNRESET", "EPIPE", "ECONNABORTED"])

/** The default of `tls.handshakeTimeout` (the reasons are in its docs). */
const DEFAULT_HANDSHAKE_TIMEOUT_MILLIS = 10_000

/** The default of `tls.maxHandshakes` (the reasons are in its docs). */
const DEFAULT_MAX_HANDSHAKES = 1024

/** A flood evicts handshakes by the thousand: one warning per interval, with the count. */
const EVICTION_LOG_INTERVAL_MILLIS = 10_000

/** The longest delay setTimeout honours (a longer one fires at once). */
const MAX_TIMER_MILLIS = 2_147_483_647

/** Whether a handshake's timeout passed (set by the timer that interrupts it). */
interface Deadline {
  passed: boolean
}

/**
 * A raw listener whose connections are handed on only after a successful
 * TLS handshake. A failed or timed-out handshake is logged once (with the
 * peer) and the connection closed; the handler never sees it.
 *
 * At most `maxHandshakes` handshakes are in progress. A connection that
 * arrives when all slots are taken evicts the oldest handshake in progress
 * (its connection is closed) rather than being refused: a healthy client
 * completes its handshake within a round trip or two, so the oldest
 * pending handshakes are the ones that sent nothing (an idle-connection
 * flood), and a flood can no longer shut healthy clients out for the
 * handshake timeout. Refusing new connections instead would let a few
 * hundred idle sockets hold every slot.
 *
 * @internal
 */
class SecureListener implements RawListener {
  readonly address: SocketAddress.SocketAddress
  readonly fd: number | undefined
  private closed = false
  /** Handshakes in progress, oldest first (a Set iterates in insertion order); each abandons its handshake. */
  private readonly handshakes = new Set<() => void>()
  private readonly maxHandshakes: number
  private readonly timeout: Duration.Duration
  private evictedSinceLog = 0
  private lastEvictionLog = Number.NEGATIVE_INFINITY

  /** The handshake timeout for a timer (`undefined`: beyond what setTimeout takes). */
  private readonly timerMillis: number | undefined

  constructor(
    readonly inner: RawListener,
    readonly driver: TlsDriver,
    readonly options: TlsServerOptions,
    readonly runtime: Runtime.Runtime<never>,
  ) {
    this.address = inner.address
    this.fd = inner.fd
    this.maxHandshakes = options.maxHandshakes ?? DEFAULT_MAX_HANDSHAKES
    this.timeout = Duration.decode(options.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT_MILLIS)
    const millis = Duration.toMillis(this.timeout)
    this.timerMillis = millis <= MAX_TIMER_MILLIS ? millis : undefined
  }

  start(handlers: ListenerHandlers): void {
    const acceptNow = this.driver.acceptNow
    this.inner.start({
      onConnection: (raw) => {
        if (this.closed) return raw.close()
        if (this.handshakes.size >= this.maxHandshakes) this.evictOldest()
        const millis = this.timerMillis
        if (acceptNow !== undefined && millis !== undefined) return this.handshakeNow(acceptNow, raw, handlers, millis)
        // The handshake timeout as a plain timer that interrupts the
        // handshake, rather than Effect.timeoutFail (which forks a racing
        // sleep fiber per connection, a measurable share of a handshake's CPU).
        const deadline: Deadline | undefined = millis === undefined ? undefined : { passed: false }
        const fiber = Runtime.runFork(this.runtime)(this.handshake(raw, handlers, deadline))
        const timer =
          deadline === undefined
            ? undefined
            : setTimeout(() => {
                deadline.passed = true
                fiber.unsafeInterruptAsFork(FiberId.none)
              }, millis)
        const abandon = () => fiber.unsafeInterruptAsFork(FiberId.none)
        this.handshakes.add(abandon)
        fiber.addObserver(() => {
          if (timer !== undefined) clearTimeout(timer)
          this.handshakes.delete(abandon)
        })
      },
      onError: (error) => handlers.onError(error),
    })
  }

  /**
   * A handshake through the driver's `acceptNow`: no fiber and no Scope per
   * connection, the timeout a plain timer. The outcomes are those of
   * {@link handshake}: the connection handed on, or closed (and the
   * failure logged) when the handshake failed or timed out; an evicted
   * handshake closes quietly.
   */
  private handshakeNow(
    acceptNow: NonNullable<TlsDriver["acceptNow"]>,
    raw: RawConnection,
    handlers: ListenerHandlers,
    millis: number,
  ): void {
    let settled = false
    let timer: ReturnType<typeof setTimeout> | undefined
    // abandons the handshake (timeout, eviction, the listener's close); only
    // called once `cancel` is set: it is added to `handshakes` below
    const stop = () => {
      settled = true
      clearTimeout(timer)
      this.handshakes.delete(stop)
      cancel()
    }
    const cancel = acceptNow(raw, this.options, (result) => {
      settled = true
      clearTimeout(timer)
      this.handshakes.delete(stop)
      if (Either.isLeft(result)) return this.logFailure(raw, result.left)
      // The connection now belongs to the listener (and then to whoever accepts it).
      if (this.closed) result.right.close()
      else handlers.onConnection(result.right)
    })
    // `done` may already have run (a failure found at once)
    if (settled) return
    timer = setTimeout(() => {
      if (settled) return
      stop()
      this.logFailure(raw, this.timedOut(raw))
    }, millis)
    this.handshakes.add(stop)
  }

  /** Logs a failed handshake once, with the peer. */
  private logFailure(raw: RawConnection, failure: TlsFailed): void {
    Runtime.runFork(this.runtime)(this.failureLog(raw, failure))
  }

  private failureLog(raw: RawConnection, failure: TlsFailed): Effect.Effect<void> {
    // a peer that closed or reset before finishing the handshake (a TCP health
    // check, a port scan, a client that gave up) is not the server's problem:
    // Debug; a refused certificate, a protocol error or a timeout: Warning
    const log = PEER_GONE_CODES.has(failure.code) ? Effect.logDebug : Effect.logWarning
    return log("netfx: TLS handshake failed, connection dropped").pipe(
      Effect.annotateLogs({
        peer: SocketAddress.format(raw.remoteAddress),
        code: failure.code,
        reason: failure.reason,
      }),
    )
  }

  /** Frees a slot: interrupts the oldest handshake (which closes its connection). */
  private evictOldest(): void {
    const oldest = this.handshakes.values().next().value
    if (oldest === undefined) return
    this.handshakes.delete(oldest)
    oldest()
    this.evictedSinceLog++
    const now = Date.now()
    if (now - this.lastEvictionLog < EVICTION_LOG_INTERVAL_MILLIS) return
    const evicted = this.evictedSinceLog
    this.evictedSinceLog = 0
    this.lastEvictionLog = now
    Runtime.runFork(this.runtime)(
      Effect.logWarning(
        "netfx: too many TLS handshakes in progress, the oldest closed to make room (a flood of idle connections?)",
      ).pipe(
        // evicted: handshakes closed since the previous warning, this one included
        Effect.annotateLogs({ listener: SocketAddress.format(this.address), limit: this.maxHandshakes, evicted }),
      ),
    )
  }

  private timedOut(raw: RawConnection): TlsFailed {
    return new TlsFailed({
      code: "ETIMEDOUT",
      reason: `TLS handshake did not complete within ${Duration.toMillis(this.timeout)} ms`,
      address: raw.remoteAddress,
    })
  }

  /**
   * `deadline` is the timer `start` set for this handshake (it interrupts
   * the fiber when it fires); without one, Effect.timeoutFail bounds it.
   */
  private handshake(
    raw: RawConnection,
    handlers: ListenerHandlers,
    deadline: Deadline | undefined,
  ): Effect.Effect<void> {
    const accept =
      deadline === undefined
        ? this.driver
            .accept(raw, this.options)
            .pipe(Effect.timeoutFail({ duration: this.timeout, onTimeout: () => this.timedOut(raw) }))
        : this.driver.accept(raw, this.options)
    return Effect.uninterruptibleMask((restore) =>
      Effect.gen(this, function* () {
        const scope = yield* Scope.make()
        const exit = yield* Effect.exit(restore(Scope.extend(accept, scope)))
        if (Exit.isSuccess(exit) && !this.closed) {
          // The connection now belongs to the listener (and then to whoever accepts it).
          handlers.onConnection(exit.value)
          return
        }
        yield* Scope.close(scope, exit)
        raw.close()
        if (Exit.isFailure(exit)) {
          const failure =
            exit.cause._tag === "Fail" ? exit.cause.error : deadline?.passed === true ? this.timedOut(raw) : undefined
          if (failure !== undefined) yield* this.failureLog(raw, failure)
        }
      }),
    )
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    this.inner.close()
    const pending = [...this.handshakes]
    this.handshakes.clear()
    for (const abandon of pending) abandon()
  }
}

/**
 * Wraps each raw listener so accepted connections complete a TLS handshake
 * before core sees them; at most `options.maxHandshakes` run at once per
 * listener (a connection beyond that evicts the oldest handshake).
 *
 * @internal
 */
export const secureListeners = (
  raws: ReadonlyArray<RawListener>,
  driver: TlsDriver,
  options: TlsServerOptions,
): Effect.Effect<ReadonlyArray<RawListener>> =>
  Effect.map(Effect.runtime<never>(), (runtime) => raws.map((raw) => new SecureListener(raw, driver, options, runtime)))
