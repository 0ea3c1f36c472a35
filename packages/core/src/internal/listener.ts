import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import type * as FiberId from "effect/FiberId"
import * as FiberRef from "effect/FiberRef"
import * as FiberRefs from "effect/FiberRefs"
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
        const server = this.server
        if (server !== undefined && this.queue.length === 0 && server.hasSlot()) {
          // a running `serve` with room: the handler starts here, in the runtime's callback
          server.start(new SocketStreamImpl(conn, this.streamOptions))
          return
        }
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
        if (server !== undefined) return
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
    // (a bound function, not a closure: kept while the connection is open)
    conn.onClosed = this.live.delete.bind(this.live, conn)
    return conn
  }

  serve<E, R>(
    handler: (connection: SocketStream) => Effect.Effect<unknown, E, R>,
    options?: ServeOptions,
  ): Effect.Effect<never, ClosedResource | BusyResource | InvalidArgument, R> {
    return serveWith<SocketStreamImpl, E, R>(this, handler, options, (server, runtime) => {
      // from now on the listener's own log lines go where the server's go
      this.runtime = runtime
      return this.attach(server)
    })
  }

  /** @internal The listener's addresses, as a log annotation. */
  describe(): string {
    return this.addresses.map(SocketAddress.format).join(", ")
  }

  /** The `serve` that takes this listener's connections as they arrive, if one runs. */
  private server: Server<SocketStreamImpl, unknown, unknown> | undefined = undefined
  /** Ends the attached `serve` with `ClosedResource`. */
  private serverClosed: (() => void) | undefined = undefined

  /**
   * Makes `server` the listener's consumer until the listener closes (then
   * fails with `ClosedResource`) or the calling fiber is interrupted. There
   * is no accept loop: `onConnection` starts each handler directly, and
   * connections that find no free `maxConnections` slot wait in the queue
   * until a handler ends (`feed`).
   */
  private attach(
    server: Server<SocketStreamImpl, unknown, unknown>,
  ): Effect.Effect<never, ClosedResource | BusyResource> {
    return Effect.async<never, ClosedResource | BusyResource>((resume) => {
      if (this.closed) return resume(Effect.fail(closedAccept))
      if (this.accepting) return resume(Effect.fail(busyAccept))
      this.accepting = true
      this.server = server
      this.serverClosed = () => resume(Effect.fail(closedAccept))
      server.slotFreed = () => this.feed(server)
      // what arrived before `serve` started
      this.feed(server)
      return Effect.sync(() => this.detach(server))
    })
  }

  private detach(server: Server<SocketStreamImpl, unknown, unknown>): void {
    if (this.server !== server) return
    this.server = undefined
    this.serverClosed = undefined
    this.accepting = false
  }

  private feeding = false

  /**
   * Starts queued connections while `server` has free slots. Not re-entered:
   * a handler that ends at once frees its slot from inside `start`, and the
   * running loop takes the next connection instead of a nested call (so a
   * long queue of such handlers cannot deepen the stack).
   */
  private feed(server: Server<SocketStreamImpl, unknown, unknown>): void {
    if (this.feeding) return
    this.feeding = true
    try {
      while (this.server === server && this.queue.length > 0 && server.hasSlot()) {
        server.start(new SocketStreamImpl(this.queue.shift() as RawConnection, this.streamOptions))
      }
    } finally {
      this.feeding = false
    }
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
    const server = this.server
    if (server !== undefined) {
      const closed = this.serverClosed
      this.detach(server)
      closed?.()
    }
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

/** What `serve` needs of a connection. */
interface Served extends Pick<SocketStreamImpl, "receivedChunks" | "remoteAddress" | "closeNow"> {}

/**
 * `Listener.serve` for every listener: validates the options, runs
 * `consume` (which hands the listener's connections to the Server) until
 * it fails or is interrupted, then interrupts and awaits every handler
 * still running and closes the listener. `ListenerImpl` pushes connections
 * from its runtime callback (`attach`); listeners that only accept by
 * waiting use {@link acceptLoop}.
 *
 * @internal
 */
export const serveWith = <C extends Served, E, R>(
  listener: { describe(): string; readonly close: Effect.Effect<void> },
  handler: (connection: C) => Effect.Effect<unknown, E, R>,
  options: ServeOptions | undefined,
  consume: (
    server: Server<C, unknown, unknown>,
    runtime: Runtime.Runtime<never>,
  ) => Effect.Effect<never, ClosedResource | BusyResource>,
): Effect.Effect<never, ClosedResource | BusyResource | InvalidArgument, R> => {
  const max = options?.maxConnections
  if (max !== undefined && (!Number.isInteger(max) || max < 1)) {
    return Effect.fail(
      new InvalidArgument({ argument: "maxConnections", reason: "must be an integer >= 1", value: max }),
    )
  }
  // decodeUnknown: a value that is no duration is this InvalidArgument, not a throw from `serve`
  const decoded = options?.idleTimeout === undefined ? undefined : Duration.decodeUnknown(options.idleTimeout)
  const idle = decoded?._tag === "Some" ? decoded.value : undefined
  if (decoded !== undefined && !(idle !== undefined && Duration.toMillis(idle) > 0 && Duration.isFinite(idle))) {
    return Effect.fail(
      new InvalidArgument({
        argument: "idleTimeout",
        reason: "must be a finite duration > 0",
        value: options?.idleTimeout,
      }),
    )
  }
  const peerGoneLevel = options?.peerGoneLogLevel ?? "Debug"
  return Effect.flatMap(Effect.runtime<R>(), (runtime) => {
    const server = new Server<C, E, R>(listener, runtime, handler, max, idle, peerGoneLevel)
    return Effect.zipRight(
      Effect.addFinalizer(() => server.interruptAll),
      consume(server as Server<C, unknown, unknown>, runtime as Runtime.Runtime<never>),
    )
  }).pipe(
    Effect.scoped,
    Effect.withScheduler(ioScheduler),
    // A serve that found the listener busy leaves it open: it belongs to
    // the fiber that is accepting (closing it would end that one's serve).
    Effect.onExit((exit) => (isBusyExit(exit) ? Effect.void : listener.close)),
  )
}

const isBusyExit = (exit: Exit.Exit<unknown, unknown>): boolean =>
  exit._tag === "Failure" && Option.exists(Cause.failureOption(exit.cause), (e) => e instanceof BusyResource)

/**
 * Feeds a Server from a listener that accepts by waiting (`acceptWith`):
 * one accept at a time, each waiting for a free `maxConnections` slot
 * first. Built once per `serve`, so an accept builds no Effect of its own.
 *
 * @internal
 */
export const acceptLoop = <C extends Served>(
  server: Server<C, unknown, unknown>,
  acceptWith: (use: (conn: C) => Effect.Effect<void>) => Effect.Effect<void, ClosedResource | BusyResource>,
): Effect.Effect<never, ClosedResource | BusyResource> => {
  let waiter: (() => void) | undefined
  server.slotFreed = () => {
    const w = waiter
    waiter = undefined
    w?.()
  }
  const waitSlot = Effect.async<void>((resume) => {
    waiter = () => resume(Effect.void)
    return Effect.sync(() => {
      waiter = undefined
    })
  })
  const acceptOne = acceptWith((conn) => {
    server.start(conn)
    return Effect.void
  })
  const step = Effect.zipRight(
    Effect.suspend(() => (server.hasSlot() ? Effect.void : waitSlot)),
    acceptOne,
  )
  const loop: Effect.Effect<never, ClosedResource | BusyResource> = Effect.flatMap(step, () => loop)
  return loop
}

/**
 * `Runtime.runFork(runtime)` for many fibers that start alike, where every
 * fiber shares one `FiberRefs` instead of its own copy.
 *
 * Forking copies the parent's FiberRefs map (and pushes one `currentContext`
 * entry) per fiber: ~0.4 KB that an idle handler fiber keeps for as long as
 * it lives, although every handler of one `serve` starts from the same
 * values. FiberRefs are immutable (a fiber that sets a FiberRef gets a new
 * map, the shared one never changes), so handler fibers can share the
 * first one's. That one is built as `runFork` builds it (the serve fiber's
 * FiberRefs forked for the first handler, with the runtime's context), and
 * shared only when forking changed nothing but the context: a FiberRef
 * whose `fork` gives each child its own value (none of Effect's own do)
 * keeps the copy per fiber. Sharing is not observable: a later handler
 * reads the same values, and joining a child into it (`Fiber.join`) finds
 * the common ancestor by the fiber ids in the stacks, which read as if it
 * had been forked from the first handler, which it was started after.
 *
 * The fork itself runs on a runtime with no FiberRefs, so `runFork` copies
 * nothing that is thrown away at once.
 *
 * @internal
 */
export const forkSharingRefs = <R>(
  runtime: Runtime.Runtime<R>,
): (<A, E>(effect: Effect.Effect<A, E, R>) => Fiber.RuntimeFiber<A, E>) => {
  const bare = Runtime.make({
    context: runtime.context,
    runtimeFlags: runtime.runtimeFlags,
    fiberRefs: FiberRefs.empty(),
  })
  /** The FiberRefs every fiber gets; `null` once they cannot be shared. */
  let shared: FiberRefs.FiberRefs | null | undefined
  const options: Runtime.RunForkOptions = {
    updateRefs: (_, id) => {
      if (shared === undefined) {
        const first = forkedRefs(runtime, id)
        shared = sharable(runtime.fiberRefs, first) ? first : null
        return first
      }
      return shared ?? forkedRefs(runtime, id)
    },
  }
  return (effect) => Runtime.runFork(bare)(effect, options)
}

/** The FiberRefs `runFork(runtime)` gives the fiber `id`. */
const forkedRefs = <R>(runtime: Runtime.Runtime<R>, id: FiberId.Runtime): FiberRefs.FiberRefs =>
  FiberRefs.updateManyAs(runtime.fiberRefs, {
    entries: [[FiberRef.currentContext, [[id, runtime.context]]]],
    forkAs: id,
  })

/** Whether forking `parent` into `child` changed no FiberRef but the context. */
const sharable = (parent: FiberRefs.FiberRefs, child: FiberRefs.FiberRefs): boolean => {
  for (const [ref, stack] of child.locals) {
    if (ref !== FiberRef.currentContext && parent.locals.get(ref) !== stack) return false
  }
  return true
}

/**
 * One `serve` call: the registry of its handler fibers.
 *
 * Per accepted connection this keeps only what a running handler needs: the
 * handler's fiber (forked bare, with no wrapper frames on its stack), its
 * slot in `fibers`, and one exit observer. The observer does what a
 * `catchAllCause` + `ensuring` wrapper around the handler used to do, when
 * the fiber ends however it ends (success, failure, defect, interruption,
 * also before the handler ran a step): it logs a failure with the peer,
 * closes the connection and frees the `maxConnections` slot. Observers run
 * synchronously as the fiber exits, so none of this can be skipped or
 * interrupted.
 *
 * Closing the serve Scope interrupts every handler still running and waits
 * for all of them (`interruptAll`).
 */
export class Server<C extends Served, E, R> {
  private readonly fibers = new Set<Fiber.RuntimeFiber<unknown, unknown>>()
  /** Handlers running, for `maxConnections`. */
  private active = 0
  /** Called when a handler ended and freed a `maxConnections` slot (set by whoever feeds this server). */
  slotFreed: (() => void) | undefined = undefined
  private readonly fork: (effect: Effect.Effect<unknown, E, R>) => Fiber.RuntimeFiber<unknown, E>

  constructor(
    private readonly listener: { describe(): string },
    private readonly runtime: Runtime.Runtime<R>,
    private readonly handler: (connection: C) => Effect.Effect<unknown, E, R>,
    private readonly max: number | undefined,
    private readonly idle: Duration.Duration | undefined,
    private readonly peerGoneLevel: LogLevel.Literal,
  ) {
    this.fork = forkSharingRefs(runtime)
  }

  /** Whether another handler may start now (`maxConnections`). */
  hasSlot(): boolean {
    return this.max === undefined || this.active < this.max
  }

  /**
   * Forks the handler for `conn` and registers it; called by the listener
   * when a connection arrives (or a queued one gets a slot), outside any
   * fiber or from a fiber's exit observer.
   */
  start(conn: C): void {
    this.active++
    let handled: Effect.Effect<unknown, E, R>
    try {
      handled = this.handler(conn)
    } catch (defect) {
      // a handler that throws instead of returning an Effect fails its own connection only
      handled = Effect.die(defect)
    }
    if (this.idle !== undefined) handled = Effect.raceFirst(handled, idleWatch(conn, this.idle))
    // The fiber starts at once and runs until it first waits (or ends); the
    // observer is added after, and runs at once if it already ended.
    const fiber = this.fork(handled)
    this.fibers.add(fiber)
    // a bound function, not a closure and its two scopes: kept for as long
    // as the connection is open (see `releasing` in internal/scoped.ts)
    fiber.addObserver(this.end.bind(this, fiber, conn))
  }

  private end(fiber: Fiber.RuntimeFiber<unknown, unknown>, conn: C, exit: Exit.Exit<unknown, unknown>) {
    this.fibers.delete(fiber)
    if (exit._tag === "Failure") this.logFailure(conn, exit.cause)
    conn.closeNow()
    this.active--
    if (this.max !== undefined) this.slotFreed?.()
  }

  private logFailure(conn: C, cause: Cause.Cause<unknown>): void {
    if (Cause.isInterruptedOnly(cause)) return
    let line: Effect.Effect<void>
    if (isPeerGone(cause)) {
      // a peer that resets or ends its connection is routine for a server
      if (this.peerGoneLevel === "None") return
      line = Effect.logWithLevel(
        LogLevel.fromLiteral(this.peerGoneLevel),
        `netfx: peer closed the connection (${messageOf(cause)})`,
      )
    } else {
      line = Effect.logError("netfx: connection handler failed", cause)
    }
    Runtime.runFork(this.runtime as Runtime.Runtime<never>)(
      Effect.annotateLogs(line, {
        peer: SocketAddress.format(conn.remoteAddress),
        listener: this.listener.describe(),
      }),
    )
  }

  /** The serve Scope's finalizer: interrupts every running handler and waits for all. */
  get interruptAll(): Effect.Effect<void> {
    return Effect.suspend(() => (this.fibers.size === 0 ? Effect.void : Fiber.interruptAll(Array.from(this.fibers))))
  }
}
