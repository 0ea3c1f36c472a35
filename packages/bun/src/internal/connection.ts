import { NetError, SocketAddress } from "@netfx/core"
import type { NativeDriver } from "@netfx/core/Driver"
import * as Driver from "@netfx/core/Driver"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"

/** @internal How long a closed socket may keep flushing accepted writes before it is aborted. */
export const LINGER_MILLIS = 30_000

/**
 * The part of Bun's `Socket` the adapter uses. `fd` exists at runtime on Bun
 * 1.4 but is not in `bun-types`, hence the optional field.
 *
 * @internal
 */
/** Parts at least this long are written as they are by `writev`, not copied together. */
const WRITEV_COPY_LIMIT = 4096

export type BunSocket = Bun.Socket<SocketData> & { readonly fd?: unknown }

/**
 * What every Bun socket carries in `socket.data`: the adapter that owns it
 * (set once the socket is open), so one handler object serves every socket.
 * An adapter is its own socket data (its `conn` is itself): no extra object
 * per connection.
 *
 * @internal
 */
export interface SocketData {
  readonly conn: BunConnection | undefined
}

/** The data of a socket nobody owns (not yet adopted, or handed over). */
export const unowned: SocketData = Object.freeze({ conn: undefined })

/**
 * Adapters whose socket should stop reading unless core starts them in this
 * turn (see BunConnection): one microtask per batch, not a closure and a
 * microtask per connection.
 */
let toPause: Array<BunConnection> = []

const pauseUnstarted = (): void => {
  const batch = toPause
  toPause = []
  for (const conn of batch) conn.pauseUnlessStarted()
}

/**
 * Bun's socket handlers are per `Bun.connect` call / per `Bun.listen`; these
 * shared ones route every event to the adapter in `socket.data`.
 *
 * @internal
 */
export const streamHandlers = {
  binaryType: "uint8array",
  data: (socket: BunSocket, chunk: Uint8Array) => socket.data.conn?.handleData(chunk),
  end: (socket: BunSocket) => socket.data.conn?.handleEnd(),
  drain: (socket: BunSocket) => socket.data.conn?.handleDrain(),
  error: (socket: BunSocket, error: Error) => socket.data.conn?.handleError(error),
  close: (socket: BunSocket, error?: Error) => socket.data.conn?.handleClose(error),
} as const

/** @internal */
export const addressOf = (host: string | undefined, port: number | undefined): SocketAddress.SocketAddress =>
  Driver.addressFromRuntime(host, port)

/**
 * `address` when it is exactly what Bun would report for the socket's end
 * bound or connected to it: an IPv4 address in canonical dotted-quad form,
 * not the wildcard (an IPv6 address may differ in spelling or zone).
 *
 * @internal
 */
export const exactIpv4 = (address: SocketAddress.SocketAddress): SocketAddress.SocketAddress | undefined =>
  address._tag === "Ipv4" && address.host !== "0.0.0.0" && SocketAddress.numericFamily(address.host) === 4
    ? address
    : undefined

/** @internal */
export const brokenFrom = Driver.brokenFrom

/** @internal */
export const fdOf = Driver.fdOf

/**
 * Every BunConnection by its `extra` object, which wrappers (a STARTTLS
 * detach) pass on unchanged: how the TLS driver finds the Bun socket under a
 * RawConnection.
 *
 * @internal
 */
export const byExtra = new WeakMap<object, BunConnection>()

type Early =
  | { readonly _tag: "data"; readonly chunk: Uint8Array }
  | { readonly _tag: "end" }
  | { readonly _tag: "error"; readonly error: NetError.BrokenResource }
  | { readonly _tag: "close" }

/**
 * A Bun socket (from `Bun.connect` or `Bun.listen`) adapted to core's
 * RawConnection.
 *
 * - Reading stays paused (`socket.pause()`, which stops reading from the
 *   kernel) until core calls `start`; events that still arrive before it are
 *   held and replayed. A socket that core starts in the same turn (the
 *   served connections of a listener) is never paused: the pause waits for a
 *   microtask, which skips two epoll_ctl calls per connection; Bun delivers
 *   socket events from its event loop only, so at most one read can reach
 *   `early` before the pause. A connect queues that microtask only after it
 *   resumed the waiting fiber (`schedulePauseCheck`), so a fiber that starts
 *   the connection as soon as it runs skips the pause and resume too.
 * - Bun's `write` is unbuffered and may write only part of a chunk: the rest
 *   is kept here, flushed from the `drain` handler, and `write` answers
 *   `false` while anything is pending so core waits for `onDrain`.
 * - `shutdown` is a real half-close (`socket.shutdown()`, SHUT_WR) issued
 *   after the pending bytes are flushed; `end()` would close the descriptor.
 * - `close` flushes what was already accepted, bounded by LINGER_MILLIS,
 *   then closes the descriptor; it is idempotent.
 *
 * @internal
 */
export class BunConnection implements Driver.RawConnection, SocketData {
  private handlers: Driver.ConnectionHandlers | undefined = undefined
  /** Events before `start` (created on the first one). */
  private early: Array<Early> | undefined = undefined
  /** core asked to pause (it may do so before `start`). */
  private readPaused = false
  /** `socket.pause()` is in effect. */
  private socketPaused = false
  /** Accepted bytes Bun has not taken yet (created on the first partial write). */
  private pending: Array<Uint8Array> | undefined = undefined
  /** `shutdown` waits for pending bytes (on the prototype until set: see the note below the class). */
  declare private shutdownAfterFlush: boolean
  private shutdownDone = false
  /** close was requested locally */
  private closed = false
  /** the socket's close handler ran */
  private gone = false
  /** The bound on flushing after `close` (on the prototype until set). */
  declare private linger: ReturnType<typeof setTimeout> | undefined
  readonly localAddress: SocketAddress.SocketAddress
  readonly remoteAddress: SocketAddress.SocketAddress
  readonly fd: number | undefined
  /** On the prototype until set. */
  declare private extraFacts: Readonly<Record<string, unknown>> | undefined

  /**
   * `localAddress` / `remoteAddress`: the address when the caller knows it
   * exactly (a Unix socket, the peer a TCP client dialled, the local end
   * behind a listener bound to one IPv4 address). Each of Bun's address and
   * port getters is a system call and a new string (about 2-5 µs apiece on
   * Bun 1.4), so a known address skips two of them.
   *
   * `noDelay`: `undefined` leaves TCP_NODELAY as Bun set it. Bun (1.4.5,
   * the oldest this package supports) turns it on for every TCP socket it
   * connects or accepts, so a TCP driver passes `undefined` for the default
   * and `false` to turn it off, which saves a system call per connection.
   */
  constructor(
    readonly socket: BunSocket,
    options: {
      readonly noDelay: boolean | undefined
      readonly keepAlive?: boolean
      readonly keepAliveInitialDelayMillis?: number
      readonly localAddress?: SocketAddress.SocketAddress | undefined
      readonly remoteAddress?: SocketAddress.SocketAddress | undefined
      /** The caller calls `schedulePauseCheck` itself (later in the same turn). */
      readonly deferPauseCheck?: boolean
    },
  ) {
    socket.data = this
    if (options.deferPauseCheck !== true) this.schedulePauseCheck()
    if (options.noDelay !== undefined) socket.setNoDelay(options.noDelay)
    if (options.keepAlive === true) socket.setKeepAlive(true, options.keepAliveInitialDelayMillis ?? 0)
    this.localAddress = options.localAddress ?? addressOf(socket.localAddress, socket.localPort)
    this.remoteAddress = options.remoteAddress ?? addressOf(socket.remoteAddress, socket.remotePort)
    this.fd = fdOf(socket)
  }

  /** The adapter is its own socket data. */
  get conn(): BunConnection {
    return this
  }

  /**
   * No facts of its own; the object (created on first use, which few
   * connections see) identifies this adapter in `byExtra`.
   */
  get extra(): Readonly<Record<string, unknown>> {
    if (this.extraFacts === undefined) {
      this.extraFacts = {}
      byExtra.set(this.extraFacts, this)
    }
    return this.extraFacts
  }

  /** @internal Pauses the socket in a microtask unless core has started it by then. */
  schedulePauseCheck(): void {
    if (toPause.length === 0) queueMicrotask(pauseUnstarted)
    toPause.push(this)
  }

  /** @internal The end of the turn the adapter was created in (see the class docs). */
  pauseUnlessStarted(): void {
    if (this.handlers === undefined && !this.closed && !this.gone) this.pauseSocket()
  }

  /**
   * Gives the socket to a new owner (the TLS driver's `upgradeTLS`): this
   * adapter stops seeing its events and its `close` no longer touches it.
   * Undefined when the socket is closed, gone, or still has accepted bytes
   * to flush.
   *
   * @internal
   */
  handOver(): BunSocket | undefined {
    if (this.closed || this.gone || this.pending !== undefined) return undefined
    this.closed = true
    this.gone = true
    this.early = undefined
    this.socket.data = unowned
    return this.socket
  }

  // ---- events from Bun's handlers ----

  /** @internal */
  handleData(chunk: Uint8Array): void {
    if (this.closed || chunk.length === 0) return
    if (this.handlers === undefined) this.hold({ _tag: "data", chunk })
    else this.handlers.onData(chunk)
  }

  /** @internal */
  handleEnd(): void {
    if (this.handlers === undefined) this.hold({ _tag: "end" })
    else this.handlers.onEnd()
  }

  /** @internal */
  handleError(error: unknown): void {
    const broken = brokenFrom("socket", error, this.remoteAddress)
    if (this.handlers === undefined) this.hold({ _tag: "error", error: broken })
    else this.handlers.onError(broken)
  }

  /** @internal */
  handleClose(error: unknown): void {
    if (this.gone) return
    this.gone = true
    this.pending = undefined
    if (this.linger !== undefined) clearTimeout(this.linger)
    if (error !== undefined && error !== null) this.handleError(error)
    if (this.handlers === undefined) this.hold({ _tag: "close" })
    else this.handlers.onClose()
  }

  /** @internal */
  handleDrain(): void {
    if (this.gone || !this.flush()) return
    if (this.closed) {
      this.finishClose()
      return
    }
    if (this.shutdownAfterFlush) this.doShutdown()
    this.handlers?.onDrain()
  }

  // ---- RawConnection ----

  start(handlers: Driver.ConnectionHandlers): void {
    this.handlers = handlers
    const early = this.early
    this.early = undefined
    if (early !== undefined) this.replay(handlers, early)
    if (!this.readPaused && this.socketPaused && !this.closed && !this.gone) this.resumeSocket()
  }

  private replay(handlers: Driver.ConnectionHandlers, early: ReadonlyArray<Early>): void {
    for (const e of early) {
      if (this.closed) break
      switch (e._tag) {
        case "data":
          handlers.onData(e.chunk)
          break
        case "end":
          handlers.onEnd()
          break
        case "error":
          handlers.onError(e.error)
          break
        case "close":
          handlers.onClose()
          break
      }
    }
  }

  pause(): void {
    this.readPaused = true
    if (!this.gone) this.pauseSocket()
  }

  resume(): void {
    this.readPaused = false
    if (this.handlers !== undefined && !this.closed && !this.gone) this.resumeSocket()
  }

  write(data: Uint8Array): boolean {
    if (this.closed || data.length === 0) return true
    if (this.pending !== undefined) {
      this.pending.push(data)
      return false
    }
    const n = this.socket.write(data)
    if (n === data.length) return true
    if (n < 0) {
      // the socket is closed or shutting down: report it as a broken pipe
      const error = Object.assign(new Error("write on a closed socket"), { code: "EPIPE", syscall: "write" })
      this.handlers?.onError(brokenFrom("send", error, this.remoteAddress))
      return true
    }
    this.pending = [n === 0 ? data : data.subarray(n)]
    return false
  }

  /**
   * Several parts in order. Bun has no writev: runs of small parts are
   * copied into one buffer (one syscall instead of several), parts of
   * WRITEV_COPY_LIMIT bytes or more are written as they are (copying them
   * costs more than the extra syscall). Measured on Bun 1.4, CPU per send:
   * 16+64+16 B: 4 µs concatenated vs 10 µs part by part; 200 B + 16 KiB:
   * 45-66 µs vs 28-32 µs; 200 B + 256 KiB: 470-750 µs vs 210-250 µs.
   */
  writev(chunks: ReadonlyArray<Uint8Array>): boolean {
    let ok = true
    let run: Array<Uint8Array> = []
    let runBytes = 0
    const flush = () => {
      if (run.length === 0) return
      let out = run[0] as Uint8Array
      if (run.length > 1) {
        out = new Uint8Array(runBytes)
        let offset = 0
        for (const part of run) {
          out.set(part, offset)
          offset += part.length
        }
      }
      ok = this.write(out)
      run = []
      runBytes = 0
    }
    for (const chunk of chunks) {
      if (chunk.length >= WRITEV_COPY_LIMIT) {
        flush()
        ok = this.write(chunk)
      } else {
        run.push(chunk)
        runBytes += chunk.length
      }
    }
    flush()
    return ok
  }

  /** The `Bun.Socket` itself, for `Attribute.NativeHandle`. */
  get handle(): BunSocket {
    return this.socket
  }

  shutdown(): void {
    if (this.closed || this.shutdownDone) return
    if (this.pending !== undefined) this.shutdownAfterFlush = true
    else this.doShutdown()
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    this.early = undefined
    if (this.gone) return
    if (this.pending === undefined) {
      this.finishClose()
      return
    }
    // Flush what `send` already accepted, then release the descriptor; a
    // peer that never reads cannot hold it longer than LINGER_MILLIS.
    this.linger = setTimeout(() => {
      this.pending = undefined
      this.socket.terminate()
    }, LINGER_MILLIS)
    this.linger.unref?.()
  }

  // ---- internals ----

  private hold(e: Early): void {
    if (this.early === undefined) this.early = [e]
    else this.early.push(e)
  }

  private pauseSocket(): void {
    this.socketPaused = true
    this.socket.pause()
  }

  private resumeSocket(): void {
    this.socketPaused = false
    this.socket.resume()
  }

  /** Writes pending bytes; true when nothing is left (`pending` is then undefined). */
  private flush(): boolean {
    const pending = this.pending
    if (pending === undefined) return true
    while (pending.length > 0) {
      const chunk = pending[0] as Uint8Array
      const n = this.socket.write(chunk)
      if (n < 0) {
        this.pending = undefined
        // Bytes `send` already accepted cannot be written: the peer is gone.
        // (Bun then reports a plain end/close on Unix sockets, so without
        // this the lost data would read as a clean EndOfStream.)
        if (!this.closed) {
          const error = Object.assign(new Error("write after the peer closed"), { code: "EPIPE", syscall: "write" })
          this.handlers?.onError(brokenFrom("send", error, this.remoteAddress))
        }
        return false
      }
      if (n < chunk.length) {
        pending[0] = chunk.subarray(n)
        return false
      }
      pending.shift()
    }
    this.pending = undefined
    return true
  }

  private doShutdown(): void {
    if (this.shutdownAfterFlush) this.shutdownAfterFlush = false
    if (this.shutdownDone) return
    this.shutdownDone = true
    this.socket.shutdown()
  }

  private finishClose(): void {
    if (this.linger !== undefined) clearTimeout(this.linger)
    // `end()` on a Bun socket closes the descriptor (close(2)): unread input
    // makes the kernel reset the connection, exactly like closing any socket.
    this.socket.end()
  }
}

// Fields few connections ever set live on the prototype until one does: JSC
// sizes an object by its fields in steps (10-12 fields: 112 bytes, 13-18:
// 160), so 12 fields instead of 15 take 48 bytes off every connection.
Object.assign(BunConnection.prototype, { shutdownAfterFlush: false, linger: undefined, extraFacts: undefined })

/** What the listener adapter needs of a `Bun.listen` result (TCP or Unix). */
interface BunListenerHandle {
  stop(closeActiveConnections?: boolean): void
}

/** How one kind of listener starts, reports its address, wraps accepted sockets and stops. */
interface ListenerParts<L extends BunListenerHandle> {
  readonly open: (socket: Bun.SocketHandler<SocketData>) => L
  readonly addressOf: (listener: L) => SocketAddress.SocketAddress
  /** `local`: the listener's address. */
  readonly wrap: (socket: BunSocket, local: SocketAddress.SocketAddress) => BunConnection
  readonly stop: (listener: L) => void
  /** The addon, for backing off while descriptors are exhausted (absent: no guard). */
  readonly addon?: NativeDriver.NativeAddon | undefined
}

/**
 * A `Bun.listen` listener as a RawListener: `open` starts it with the
 * shared handlers plus an `open` handler of its own; each accepted socket
 * gets its own `data` and is wrapped by `wrap` and handed to core (ended at
 * once when nobody listens any more). `stop` closes it (a Unix listener
 * keeps its socket file). Errors of `open` (EADDRINUSE, ...) become
 * `ListenFailed` for `address`; the listener closes with the Scope.
 *
 * @internal
 */
export const listenWith = <L extends BunListenerHandle>(
  options: ListenerParts<L> & { readonly address: SocketAddress.SocketAddress },
): Effect.Effect<Driver.RawListener, NetError.ListenFailed, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.try({
      try: () => new BunServerListener(options),
      catch: (error) => {
        const { code, syscall } = NetError.errnoOf(error)
        return new NetError.ListenFailed({ address: options.address, code, syscall, cause: error })
      },
    }),
    (l) => Effect.sync(() => l.close()),
  )

class BunServerListener<L extends BunListenerHandle> implements Driver.RawListener {
  private handlers: Driver.ListenerHandlers | undefined = undefined
  private closed = false
  listener: L
  readonly address: SocketAddress.SocketAddress
  readonly fd: number | undefined
  /** Holds a duplicate of the listening descriptor: keeps it listening while Bun's listener is stopped. */
  private guard: ReturnType<typeof Driver.guardListener> = undefined

  constructor(private readonly options: ListenerParts<L>) {
    const socket = {
      ...streamHandlers,
      open: (socket: BunSocket) => this.accepted(socket),
    } as unknown as Bun.SocketHandler<SocketData>
    this.listener = options.open(socket)
    this.address = options.addressOf(this.listener)
    this.fd = fdOf(this.listener as { readonly fd?: unknown })
    this.startGuard(socket)
  }

  /**
   * Bun's accept loop retries at once when accept fails with EMFILE (a busy
   * loop JavaScript never hears of). The guard notices the exhaustion,
   * stops Bun's listener (the held duplicate keeps the socket listening, so
   * clients wait in the backlog), backs off and listens again on the same
   * socket (`Bun.listen({ fd })`) once a descriptor is free.
   */
  private startGuard(socket: Bun.SocketHandler<SocketData>): void {
    this.guard = Driver.guardListener(this.options.addon, this.fd, {
      pause: () => this.options.stop(this.listener),
      relisten: (fd) => {
        this.listener = Bun.listen({
          fd,
          allowHalfOpen: true,
          data: unowned,
          socket,
        } as unknown as Bun.TCPSocketListenOptions<SocketData>) as unknown as L
      },
      report: (code, retryInMillis) =>
        this.handlers?.onError({ code, syscall: "accept", cause: undefined, retryIn: retryInMillis }),
    })
  }

  private accepted(socket: BunSocket): void {
    // every accepted socket starts with the listener's shared data (`unowned`);
    // the adapter `wrap` creates becomes its data
    if (this.handlers === undefined) {
      socket.end()
      return
    }
    this.handlers.onConnection(this.options.wrap(socket, this.address))
  }

  start(handlers: Driver.ListenerHandlers): void {
    this.handlers = handlers
  }

  close(): void {
    this.handlers = undefined
    if (this.closed) return
    this.closed = true
    // stops accepting and closes the listening descriptor; accepted
    // connections belong to core, which closes them itself
    if (this.guard?.isPaused !== true) this.options.stop(this.listener)
    this.guard?.close()
  }
}
