import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FiberSet from "effect/FiberSet"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as Runtime from "effect/Runtime"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { ListenerHandlers, RawConnection, RawListener } from "../Driver.ts"
import type { Listener, ListenerOptions, ServeOptions } from "../Listener.ts"
import { BrokenResource, BusyResource, ClosedResource, EndOfStream, InvalidArgument } from "../NetError.ts"
import * as SocketAddress from "../SocketAddress.ts"
import type { SocketStream, SocketStreamOptions } from "../SocketStream.ts"
import { ioScheduler } from "./ioScheduler.ts"
import { SocketStreamImpl } from "./socketStream.ts"
import { ListenerTypeId } from "./typeId.ts"

const closedAccept = new ClosedResource({ operation: "accept" })
const busyAccept = new BusyResource({ operation: "accept" })

/** @internal */
export const DEFAULT_BACKLOG = 511

/** @internal A repeated listener condition (queue full, accept failing) is logged at most once per this interval. */
export const LOG_INTERVAL_MILLIS = 1_000

/**
 * The errno codes of a peer that went away (reset, abort, broken pipe, a
 * keep-alive or retransmission timeout): what a server sees every day, not
 * a failure of its handler.
 */
const PEER_GONE = new Set([
  "ECONNRESET",
  "EPIPE",
  "ECONNABORTED",
  "ETIMEDOUT",
  "ENOTCONN",
  "EHOSTUNREACH",
  "ENETUNREACH",
])

/**
 * True when `cause` holds only typed failures that say the peer ended or
 * broke the connection (`EndOfStream`, `BrokenResource` with a "peer went
 * away" errno) and no defect or other error.
 *
 * @internal
 */
export const isPeerGone = (cause: Cause.Cause<unknown>): boolean => {
  if (Cause.isInterruptedOnly(cause) || Cause.isDie(cause)) return false
  const failures = Chunk.toReadonlyArray(Cause.failures(cause))
  if (failures.length === 0) return false
  for (const e of failures) {
    if (e instanceof EndOfStream) continue
    if (e instanceof BrokenResource && PEER_GONE.has(e.code)) continue
    return false
  }
  return true
}

const messageOf = (cause: Cause.Cause<unknown>): string => {
  const first = Cause.failures(cause).pipe(Chunk.head, Option.getOrUndefined)
  return first instanceof Error ? first.message : String(first)
}

/**
 * Completes once `conn` has received nothing for `idle` (checked every
 * quarter of it, so at most 1.25 × `idle` after the last bytes arrived);
 * sends do not count. Runs on the Clock, so TestClock drives it.
 *
 * @internal
 */
export const idleWatch = (
  conn: Pick<SocketStreamImpl, "receivedChunks" | "remoteAddress">,
  idle: Duration.Duration,
): Effect.Effect<void> => {
  const millis = Duration.toMillis(idle)
  const step = Duration.millis(Math.max(1, millis / 4))
  return Effect.gen(function* () {
    let seen = conn.receivedChunks
    let since = yield* Clock.currentTimeMillis
    while (true) {
      yield* Effect.sleep(step)
      const now = yield* Clock.currentTimeMillis
      if (conn.receivedChunks !== seen) {
        seen = conn.receivedChunks
        since = now
      } else if (now - since >= millis) {
        return yield* Effect.logDebug("netfx: connection idle, closed").pipe(
          Effect.annotateLogs({ peer: SocketAddress.format(conn.remoteAddress), idleTimeoutMillis: millis }),
        )
      }
    }
  })
}

/**
 * Logs a recurring condition at most once per interval, with the number of
 * occurrences since the previous line.
 */
class Throttled {
  private last = Number.NEGATIVE_INFINITY
  private count = 0
  report(now: number, log: (occurrences: number) => void): void {
    this.count++
    if (now - this.last < LOG_INTERVAL_MILLIS) return
    this.last = now
    const n = this.count
    this.count = 0
    log(n)
  }
}

/**
 * One listener over one or more raw listeners (dual stack: one per family).
 * Connections the runtime accepted wait, paused, in a bounded queue until
 * `accept` takes them; the queue bound is the backlog.
 *
 * @internal
 */
export class ListenerImpl implements Listener {
  readonly [ListenerTypeId]: typeof ListenerTypeId = ListenerTypeId
  readonly addresses: ReadonlyArray<SocketAddress.SocketAddress>
  private readonly queue: Array<RawConnection> = []
  private readonly capacity: number
  private waiter: (() => void) | undefined = undefined
  private accepting = false
  private closed = false
  private readonly streamOptions: SocketStreamOptions | undefined
  private readonly queueFull = new Throttled()
  private readonly acceptFailed = new Throttled()

  constructor(
    private readonly raws: ReadonlyArray<RawListener>,
    options?: ListenerOptions,
    /** Where listener log lines go: the runtime (Logger included) of whoever listens, then of whoever serves. */
    private runtime: Runtime.Runtime<never> = Runtime.defaultRuntime,
  ) {
    this.addresses = raws.map((r) => r.address)
    this.capacity = options?.backlog ?? DEFAULT_BACKLOG
    this.streamOptions = options?.streamOptions
    const handlers: ListenerHandlers = {
      onConnection: (conn) => {
        if (this.closed) return conn.close()
        if (this.queue.length >= this.capacity) {
          // Over the bound: refuse rather than grow without limit.
          conn.close()
          const peer = SocketAddress.format(conn.remoteAddress)
          this.queueFull.report(Date.now(), (occurrences) =>
            this.log(
              Effect.logWarning("netfx: accept queue full, connection closed").pipe(
                Effect.annotateLogs({ listener: this.describe(), peer, occurrences, capacity: this.capacity }),
              ),
            ),
          )
          return
        }
        this.queue.push(conn)
        const w = this.waiter
        if (w !== undefined) {
          this.waiter = undefined
          w()
        }
      },
      onError: (error) => {
        const retry = error.retryIn === undefined ? undefined : Duration.toMillis(error.retryIn)
        this.acceptFailed.report(Date.now(), (occurrences) =>
          this.log(
            Effect.logWarning(
              retry === undefined
                ? `netfx: accept failed with ${error.code}; still listening`
                : `netfx: accept failed with ${error.code}; accepting again in ${retry} ms`,
            ).pipe(
              Effect.annotateLogs({
                listener: this.describe(),
                code: error.code,
                occurrences,
                ...(retry === undefined ? {} : { retryInMillis: retry }),
              }),
            ),
          ),
        )
      },
    }
    for (const raw of raws) raw.start(handlers)
  }

  get address(): SocketAddress.SocketAddress {
    return this.addresses[0] as SocketAddress.SocketAddress
  }

  private log(effect: Effect.Effect<void>): void {
    Runtime.runFork(this.runtime)(effect)
  }

  private describe(): string {
    return this.addresses.map(SocketAddress.format).join(", ")
  }

  /** Waits until a connection is queued (or the listener closed); takes nothing. */
  private readonly ready: Effect.Effect<void, ClosedResource | BusyResource> = Effect.suspend(() => {
    if (this.closed) return Effect.fail(closedAccept)
    if (this.queue.length > 0) return Effect.void
    if (this.accepting) return Effect.fail(busyAccept)
    return Effect.async<void, ClosedResource | BusyResource>((resume) => {
      this.accepting = true
      const w = () => {
        this.accepting = false
        resume(this.closed ? Effect.fail(closedAccept) : Effect.void)
      }
      this.waiter = w
      return Effect.sync(() => {
        if (this.waiter === w) this.waiter = undefined
        this.accepting = false
      })
    })
  })

  /** Waits interruptibly, then takes and wraps a connection without a gap. */
  private acceptWith<A>(
    use: (conn: SocketStreamImpl) => Effect.Effect<A>,
  ): Effect.Effect<A, ClosedResource | BusyResource> {
    return Effect.uninterruptibleMask((restore) =>
      Effect.flatMap(restore(this.ready), () =>
        Effect.suspend(() => {
          const raw = this.queue.shift()
          if (raw === undefined) return this.acceptWith(use)
          return use(new SocketStreamImpl(raw, this.streamOptions))
        }),
      ),
    )
  }

  get accept(): Effect.Effect<SocketStream, ClosedResource | BusyResource, Scope.Scope> {
    return Effect.flatMap(Effect.scope, (scope) =>
      this.acceptWith((conn) => Effect.as(Scope.addFinalizer(scope, conn.close), conn as SocketStream)),
    )
  }

  get incoming(): Stream.Stream<SocketStream, BusyResource> {
    // Each connection is owned by the consumer: it is closed by `close`, or
    // when the listener's own scope closes (the listener closes them all).
    return Stream.repeatEffectOption(
      this.acceptWith((conn) => Effect.sync(() => this.track(conn) as SocketStream)).pipe(
        Effect.mapError((e) => (e._tag === "ClosedResource" ? Option.none() : Option.some(e))),
      ),
    )
  }

  private readonly live = new Set<SocketStreamImpl>()
  private track(conn: SocketStreamImpl): SocketStreamImpl {
    this.live.add(conn)
    // forget the connection when it closes, so the set only holds live ones
    conn.onClosed = () => this.live.delete(conn)
    return conn
  }

  serve<E, R>(
    handler: (connection: SocketStream) => Effect.Effect<unknown, E, R>,
    options?: ServeOptions,
  ): Effect.Effect<never, ClosedResource | BusyResource | InvalidArgument, R> {
    const max = options?.maxConnections
    if (max !== undefined && (!Number.isInteger(max) || max < 1)) {
      return Effect.fail(
        new InvalidArgument({ argument: "maxConnections", reason: "must be an integer >= 1", value: max }),
      )
    }
    const idle = options?.idleTimeout === undefined ? undefined : Duration.decode(options.idleTimeout)
    if (idle !== undefined && !(Duration.toMillis(idle) > 0 && Duration.isFinite(idle))) {
      return Effect.fail(
        new InvalidArgument({
          argument: "idleTimeout",
          reason: "must be a finite duration > 0",
          value: options?.idleTimeout,
        }),
      )
    }
    const self = this
    const peerGoneLevel = options?.peerGoneLogLevel ?? "Debug"
    return Effect.gen(function* () {
      // from now on the listener's own log lines go where the server's go
      self.runtime = yield* Effect.runtime<never>()
      const fibers = yield* FiberSet.make<unknown, never>()
      const runFork = yield* FiberSet.runtime(fibers)<R>()
      const semaphore = max === undefined ? undefined : yield* Effect.makeSemaphore(max)
      while (true) {
        if (semaphore !== undefined) yield* semaphore.take(1)
        yield* self
          .acceptWith((conn) =>
            Effect.sync(() => {
              const handled =
                idle === undefined ? handler(conn) : Effect.raceFirst(handler(conn), idleWatch(conn, idle))
              // the peer's address is formatted only when a line is logged
              const where = () => ({ peer: SocketAddress.format(conn.remoteAddress), listener: self.describe() })
              const run = handled.pipe(
                Effect.catchAllCause((cause) => {
                  if (Cause.isInterruptedOnly(cause)) return Effect.void
                  if (isPeerGone(cause)) {
                    // a peer that resets or ends its connection is routine for a server
                    if (peerGoneLevel === "None") return Effect.void
                    return Effect.logWithLevel(
                      LogLevel.fromLiteral(peerGoneLevel),
                      `netfx: peer closed the connection (${messageOf(cause)})`,
                    ).pipe(Effect.annotateLogs(where()))
                  }
                  return Effect.logError("netfx: connection handler failed", cause).pipe(Effect.annotateLogs(where()))
                }),
                Effect.ensuring(
                  semaphore === undefined ? conn.close : Effect.zipRight(conn.close, semaphore.release(1)),
                ),
              )
              runFork(run)
            }),
          )
          .pipe(Effect.onError(() => (semaphore === undefined ? Effect.void : semaphore.release(1))))
      }
    }).pipe(Effect.scoped, Effect.withScheduler(ioScheduler), Effect.ensuring(this.close))
  }

  get close(): Effect.Effect<void> {
    return Effect.sync(() => this.closeNow())
  }

  closeNow(): void {
    if (this.closed) return
    this.closed = true
    for (const raw of this.raws) raw.close()
    for (const conn of this.queue.splice(0)) conn.close()
    for (const conn of [...this.live]) conn.closeNow()
    const w = this.waiter
    if (w !== undefined) {
      this.waiter = undefined
      w()
    }
  }
}

/** @internal */
export const make = (raws: ReadonlyArray<RawListener>, options?: ListenerOptions) =>
  Effect.acquireRelease(
    Effect.map(Effect.runtime<never>(), (runtime) => new ListenerImpl(raws, options, runtime)),
    (l) => l.close,
  )
