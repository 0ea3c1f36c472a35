import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as FiberSet from "effect/FiberSet"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { ListenerHandlers, RawConnection, RawListener } from "../Driver.ts"
import type { Listener, ListenerOptions, ServeOptions } from "../Listener.ts"
import { BusyResource, ClosedResource, InvalidArgument } from "../NetError.ts"
import * as SocketAddress from "../SocketAddress.ts"
import type { SocketStream, SocketStreamOptions } from "../SocketStream.ts"
import { ioScheduler } from "./ioScheduler.ts"
import { SocketStreamImpl } from "./socketStream.ts"
import { ListenerTypeId } from "./typeId.ts"

const closedAccept = new ClosedResource({ operation: "accept" })
const busyAccept = new BusyResource({ operation: "accept" })

/** @internal */
export const DEFAULT_BACKLOG = 511

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

  constructor(
    private readonly raws: ReadonlyArray<RawListener>,
    options?: ListenerOptions,
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
          Effect.runFork(
            Effect.logWarning("netfx: accept queue full, connection closed").pipe(
              Effect.annotateLogs({ listener: this.describe(), peer: SocketAddress.format(conn.remoteAddress) }),
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
        Effect.runFork(
          Effect.logWarning(`netfx: accept failed with ${error.code}; still listening`).pipe(
            Effect.annotateLogs({ listener: this.describe(), code: error.code }),
          ),
        )
      },
    }
    for (const raw of raws) raw.start(handlers)
  }

  get address(): SocketAddress.SocketAddress {
    return this.addresses[0] as SocketAddress.SocketAddress
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
    const self = this
    return Effect.gen(function* () {
      const fibers = yield* FiberSet.make<unknown, never>()
      const runFork = yield* FiberSet.runtime(fibers)<R>()
      const semaphore = max === undefined ? undefined : yield* Effect.makeSemaphore(max)
      while (true) {
        if (semaphore !== undefined) yield* semaphore.take(1)
        yield* self
          .acceptWith((conn) =>
            Effect.sync(() => {
              const run = handler(conn).pipe(
                Effect.catchAllCause((cause) =>
                  Cause.isInterruptedOnly(cause)
                    ? Effect.void
                    : Effect.logError("netfx: connection handler failed", cause).pipe(
                        Effect.annotateLogs({
                          peer: SocketAddress.format(conn.remoteAddress),
                          listener: self.describe(),
                        }),
                      ),
                ),
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
    Effect.sync(() => new ListenerImpl(raws, options)),
    (l) => l.close,
  )
