import * as net from "node:net"
import { NetError, type SocketAddress } from "@netfx/core"
import type { NativeDriver } from "@netfx/core/Driver"
import * as Driver from "@netfx/core/Driver"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"

/** @internal How long a closed socket may keep flushing accepted writes before it is destroyed. */
export const LINGER_MILLIS = 30_000

/** @internal */
export const addressOf = Driver.addressFromRuntime

/** @internal */
export const brokenFrom = Driver.brokenFrom

/** @internal */
export const fdOf = (socket: net.Socket | net.Server): number | undefined =>
  Driver.fdOf((socket as unknown as { _handle?: { fd?: unknown } })._handle)

/** The `extra` of a connection with no runtime facts: one shared object, not one per connection. */
const noExtra: Readonly<Record<string, unknown>> = Object.freeze({})

/**
 * Drops node:net's cached `getsockname`/`getpeername` results (an object
 * and a string each, ~0.1 KB per connection) once the NodeConnection has
 * its own copies: the socket's address getters read them again from the
 * handle if asked.
 */
const forgetAddresses = (socket: net.Socket): void => {
  const cached = socket as unknown as { _sockname?: unknown; _peername?: unknown }
  if (cached._sockname != null) cached._sockname = null
  if (cached._peername !== undefined) cached._peername = undefined
}

/** Where a socket's events go: the NodeConnection wrapping it. */
const owner = Symbol("netfx/NodeConnection")
type OwnedSocket = net.Socket & { [owner]: NodeConnection }

// One listener function per event for every socket (the socket is `this`),
// instead of five closures per connection.
function onSocketError(this: OwnedSocket, error: Error): void {
  this[owner].deliverError(error)
}
function onSocketData(this: OwnedSocket, chunk: Buffer): void {
  this[owner].handlers?.onData(chunk)
}
function onSocketEnd(this: OwnedSocket): void {
  this[owner].handlers?.onEnd()
}
function onSocketDrain(this: OwnedSocket): void {
  this[owner].handlers?.onDrain()
}
function onSocketClose(this: OwnedSocket): void {
  this[owner].handlers?.onClose()
}

/**
 * A `node:net` socket (or a `node:tls` one, which extends it) adapted to
 * core's RawConnection. Errors that happen before `start` are held and
 * delivered by it, so an early reset can never become an uncaught
 * exception. The socket's listeners are shared functions that find this
 * object through a symbol on the socket: an idle connection holds no
 * closure of its own.
 *
 * @internal
 */
export class NodeConnection implements Driver.RawConnection {
  handlers: Driver.ConnectionHandlers | undefined = undefined
  private early: Array<NetError.BrokenResource> | undefined = undefined
  private closed = false
  localAddress: SocketAddress.SocketAddress
  remoteAddress: SocketAddress.SocketAddress
  fd: number | undefined

  constructor(
    readonly socket: net.Socket,
    readonly extra: Readonly<Record<string, unknown>> = noExtra,
    /** Either end known without asking the system (each read is a system call and ~4 µs of CPU). */
    addresses?: { readonly local?: SocketAddress.SocketAddress; readonly remote?: SocketAddress.SocketAddress },
  ) {
    this.localAddress = addresses?.local ?? addressOf(socket.localAddress, socket.localPort, socket.localFamily)
    this.remoteAddress = addresses?.remote ?? addressOf(socket.remoteAddress, socket.remotePort, socket.remoteFamily)
    forgetAddresses(socket)
    this.fd = fdOf(socket)
    ;(socket as OwnedSocket)[owner] = this
    socket.on("error", onSocketError)
  }

  /**
   * Re-reads addresses and fd once a connect completed; the remote address
   * only when `remoteKnown` is false (one `getpeername` saved when the
   * address dialled is exactly what node:net would report).
   */
  refresh(remoteKnown = false): void {
    this.localAddress = addressOf(this.socket.localAddress, this.socket.localPort, this.socket.localFamily)
    if (!remoteKnown) {
      this.remoteAddress = addressOf(this.socket.remoteAddress, this.socket.remotePort, this.socket.remoteFamily)
    }
    this.fd = fdOf(this.socket)
    forgetAddresses(this.socket)
  }

  /** @internal */
  deliverError(error: Error): void {
    const broken = brokenFrom("socket", error, this.remoteAddress)
    if (this.handlers !== undefined) this.handlers.onError(broken)
    else if (this.early === undefined) this.early = [broken]
    else this.early.push(broken)
  }

  /** Whether `start` ran (someone consumes the socket's events). */
  get started(): boolean {
    return this.handlers !== undefined
  }

  start(handlers: Driver.ConnectionHandlers): void {
    this.handlers = handlers
    const s = this.socket
    s.on("data", onSocketData)
    s.on("end", onSocketEnd)
    s.on("drain", onSocketDrain)
    s.on("close", onSocketClose)
    const early = this.early
    this.early = undefined
    if (early !== undefined) for (const broken of early) handlers.onError(broken)
    if (s.destroyed && s.readableLength === 0) handlers.onClose()
    else s.resume()
  }

  pause(): void {
    this.socket.pause()
  }

  resume(): void {
    this.socket.resume()
  }

  write(data: Uint8Array): boolean {
    return this.socket.write(data)
  }

  /** One `writev` for all parts: corked writes are flushed together through `_writev`. */
  writev(chunks: ReadonlyArray<Uint8Array>): boolean {
    const s = this.socket
    s.cork()
    let ok = true
    for (const chunk of chunks) ok = s.write(chunk)
    s.uncork()
    return ok
  }

  /** The `net.Socket` (or `tls.TLSSocket`) itself, for `Attribute.NativeHandle`. */
  get handle(): net.Socket {
    return this.socket
  }

  shutdown(): void {
    this.socket.end()
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    const s = this.socket
    if (s.destroyed) return
    if (s.writableLength === 0 || s.writableEnded) {
      s.destroy()
      return
    }
    // Flush what `send` already accepted, then release the descriptor; a
    // peer that never reads cannot hold it longer than LINGER_MILLIS.
    s.end()
    s.once("finish", () => s.destroy())
    s.once("close", () => clearTimeout(timer))
    const timer = setTimeout(() => s.destroy(), LINGER_MILLIS)
    timer.unref()
  }
}

/**
 * Opens a client socket with `open` and waits for 'connect', for a caller
 * that owns the connection (a `TcpDriver` or `UnixDriver` connect, run
 * uninterruptibly, its wait in `restore`): no Scope; a connect that fails
 * or is interrupted has closed its socket. `failed` maps the connect
 * error; `connected` runs once connected (re-read addresses, fd).
 *
 * @internal
 */
export const connectSocketOwned = (
  open: () => net.Socket,
  addresses: { readonly local: SocketAddress.SocketAddress; readonly remote: SocketAddress.SocketAddress },
  failed: (error: Error) => NetError.ConnectFailed,
  connected: (conn: NodeConnection) => void,
  restore: Driver.Restore | undefined,
): Effect.Effect<NodeConnection, NetError.ConnectFailed> =>
  Driver.acquireOwned(
    () => openPaused(open, addresses),
    (conn) => awaitConnect(conn, failed, connected),
    closeConnection,
    restore,
  )

const openPaused = (
  open: () => net.Socket,
  addresses: { readonly local: SocketAddress.SocketAddress; readonly remote: SocketAddress.SocketAddress },
): NodeConnection => {
  const socket = open()
  socket.pause()
  return new NodeConnection(socket, undefined, addresses)
}

// No canceler: an interrupted wait is released by the caller
// (`conn.close()` destroys the socket, after which neither event fires),
// and a wait without one saves Effect's interruption frames around it.
const awaitConnect = (
  conn: NodeConnection,
  failed: (error: Error) => NetError.ConnectFailed,
  connected: (conn: NodeConnection) => void,
): Effect.Effect<NodeConnection, NetError.ConnectFailed> =>
  Effect.async<NodeConnection, NetError.ConnectFailed>((resume) => {
    const socket = conn.socket
    const onConnect = () => {
      socket.off("error", onError)
      connected(conn)
      resume(Effect.succeed(conn))
    }
    const onError = (error: Error) => {
      socket.off("connect", onConnect)
      resume(Effect.fail(failed(error)))
    }
    socket.once("connect", onConnect)
    socket.once("error", onError)
  })

/**
 * The release registered for a connected socket. Module-level, so the
 * registration keeps no closure of the connect alive (a closure holds its
 * whole lexical chain: the request, the options, the connect callbacks).
 */
const closeConnection = (conn: NodeConnection): void => conn.close()

/**
 * Creates a paused-on-connect, half-open server in the Scope and waits
 * until it listens; a bind error is a `ListenFailed` for `address`.
 *
 * @internal
 */
export const listenServer = (
  serverOptions: net.ServerOpts,
  listenOptions: net.ListenOptions,
  address: SocketAddress.SocketAddress,
): Effect.Effect<net.Server, NetError.ListenFailed, Scope.Scope> =>
  Effect.gen(function* () {
    const server = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const server = net.createServer({ ...serverOptions, allowHalfOpen: true, pauseOnConnect: true })
        // between 'listening' and the listener's own handler, an accept error must not be uncaught
        server.on("error", () => {})
        return server
      }),
      (s) => Effect.sync(() => s.listening && s.close()),
    )
    yield* Effect.async<void, NetError.ListenFailed>((resume) => {
      const onListening = () => {
        server.off("error", onError)
        resume(Effect.void)
      }
      const onError = (error: Error) => {
        server.off("listening", onListening)
        const { code, syscall } = NetError.errnoOf(error)
        resume(Effect.fail(new NetError.ListenFailed({ address, code, syscall, cause: error })))
      }
      server.once("listening", onListening)
      server.once("error", onError)
      server.listen(listenOptions)
      return Effect.sync(() => {
        server.off("listening", onListening)
        server.off("error", onError)
        if (server.listening) server.close()
      })
    })
    return server
  })

/**
 * A listening `net.Server` as a RawListener: each connection is wrapped by
 * `wrap` and handed to core (closed at once when nobody listens any more);
 * accept errors are reported and the server keeps listening. `stop` closes
 * the server (a Unix listener keeps its socket file, see `Driver.closeKeepingFile`).
 *
 * @internal
 */
export class NodeServerListener implements Driver.RawListener {
  private handlers: Driver.ListenerHandlers | undefined = undefined
  readonly fd: number | undefined
  /** Holds a duplicate of the listening descriptor: keeps it listening while node:net's server is closed. */
  private guard: ReturnType<typeof Driver.guardListener> = undefined
  constructor(
    readonly server: net.Server,
    readonly address: SocketAddress.SocketAddress,
    wrap: (socket: net.Socket) => NodeConnection,
    private readonly stop: () => void,
    private readonly addon?: NativeDriver.NativeAddon,
  ) {
    this.fd = fdOf(server)
    this.startGuard()
    server.on("connection", (socket: net.Socket) => {
      const conn = wrap(socket)
      if (this.handlers === undefined) conn.close()
      else this.handlers.onConnection(conn)
    })
    server.on("error", (error: Error) => {
      const { code, syscall } = NetError.errnoOf(error)
      this.handlers?.onError({ code, syscall, cause: error })
    })
  }
  /**
   * Out of descriptors, libuv resets every connection it cannot accept, and
   * nobody hears of it. The guard notices the exhaustion, closes the
   * server's handle (the held duplicate keeps the socket listening, so
   * clients wait in the backlog instead), backs off, and listens again on
   * the same socket (`server.listen({ fd })`) once a descriptor is free.
   */
  private startGuard(): void {
    this.guard = Driver.guardListener(this.addon, this.fd, {
      pause: () => {
        if (this.server.listening) this.stop()
      },
      relisten: (fd) => this.server.listen({ fd } as net.ListenOptions),
      report: (code, retryInMillis) =>
        this.handlers?.onError({ code, syscall: "accept", cause: undefined, retryIn: retryInMillis }),
    })
  }

  start(handlers: Driver.ListenerHandlers): void {
    this.handlers = handlers
  }
  close(): void {
    this.handlers = undefined
    if (this.server.listening) this.stop()
    this.guard?.close()
  }
}
