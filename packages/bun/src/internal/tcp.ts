import { NetError, SocketAddress } from "@netfx/core"
import * as Driver from "@netfx/core/Driver"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as abortConnect from "./abortConnect.ts"
import {
  addressOf,
  BunConnection,
  type BunSocket,
  exactIpv4,
  listenWith,
  type SocketData,
  streamHandlers,
  unowned,
} from "./connection.ts"
import * as native from "./native.ts"

interface ConnectData extends SocketData {
  readonly attempt?: Attempt | undefined
}

/**
 * The handlers of every `Bun.connect`: the shared stream handlers plus the
 * connect's own events, routed to the Attempt in `socket.data` (the Attempt
 * until the socket opens, then the BunConnection, which has no `attempt`).
 * One object for all connects instead of three closures per connect.
 */
const connectHandlers = {
  ...streamHandlers,
  open: (socket: BunSocket) => (socket.data as ConnectData).attempt?.opened(socket),
  connectError: (socket: BunSocket, error: Error) => (socket.data as ConnectData).attempt?.failed(error),
  close: (socket: BunSocket, error?: Error) => {
    const d = socket.data as ConnectData
    // a socket that closes before it opened (e.g. a failed TLS handshake) fails the attempt
    if (d.conn !== undefined) d.conn.handleClose(error)
    else
      d.attempt?.failed(
        error ?? Object.assign(new Error("connection closed while connecting"), { code: "ECONNABORTED" }),
      )
  },
} as unknown as Bun.SocketHandler<ConnectData>

const ignore = (): void => {}

/**
 * TCP_NODELAY for a new connection: Bun turns it on for every TCP socket it
 * connects or accepts, so only `false` needs a system call.
 */
const noDelayOption = (noDelay: boolean): false | undefined => (noDelay ? undefined : false)

/**
 * One `Bun.connect` in progress: settles once, can be cancelled at any point.
 * It is the socket's data until the socket opens.
 *
 * @internal
 */
export class Attempt implements ConnectData {
  readonly conn = undefined
  private settled:
    | { readonly _tag: "open"; readonly conn: BunConnection }
    | { readonly _tag: "failed"; readonly error: NetError.ConnectFailed }
    | undefined = undefined
  private waiter: ((result: Effect.Effect<BunConnection, NetError.ConnectFailed>) => void) | undefined = undefined
  private cancelled = false
  private tracked: abortConnect.Tracked | undefined = undefined

  constructor(readonly request: Driver.ConnectRequest) {}

  /** `more` is merged into the `Bun.connect` options (e.g. `tls` for a TLS driver). */
  begin(more: Readonly<Record<string, unknown>> = {}): void {
    const { address } = this.request
    const options: Bun.TCPSocketConnectOptions<ConnectData> & {
      localAddress?: string
      localPort?: number
    } = {
      ...more,
      hostname: address.host,
      port: address.port,
      allowHalfOpen: true,
      data: this,
      socket: connectHandlers,
    }
    // Bun.connect binds the local end with these (as its own node:net does).
    if (this.request.localHost !== undefined || this.request.localPort !== undefined) {
      options.localAddress = this.request.localHost ?? (address._tag === "Ipv6" ? "::" : "0.0.0.0")
      if (this.request.localPort !== undefined) options.localPort = this.request.localPort
    }
    try {
      const { value, tracked } = abortConnect.track(() => Bun.connect(options), address.port)
      this.tracked = tracked
      // failures are reported through connectError; keep the promise quiet
      value.catch(ignore)
    } catch (error) {
      this.failed(error)
    }
  }

  /** This attempt as the socket's data (the Attempt is its own). */
  get attempt(): Attempt {
    return this
  }

  opened(socket: BunSocket): void {
    this.tracked = undefined
    if (this.cancelled || this.settled !== undefined) {
      socket.data = unowned
      socket.end()
      return
    }
    const conn = new BunConnection(socket, {
      noDelay: noDelayOption(this.request.noDelay),
      keepAlive: this.request.keepAlive,
      keepAliveInitialDelayMillis: Duration.toMillis(this.request.keepAliveInitialDelay),
      // connected: the peer is the address dialled
      remoteAddress: exactIpv4(this.request.address),
      deferPauseCheck: true,
    })
    this.settle({ _tag: "open", conn })
    // after the waiting fiber's resumption: it may start the connection first
    conn.schedulePauseCheck()
  }

  failed(cause: unknown): void {
    this.tracked = undefined
    if (this.settled !== undefined) return
    const { address } = this.request
    const { code, syscall } = NetError.errnoOf(cause)
    this.settle({
      _tag: "failed",
      error: new NetError.ConnectFailed({
        host: address.host,
        port: address.port,
        attempts: [{ address, code, syscall, cause }],
      }),
    })
  }

  private settle(result: NonNullable<Attempt["settled"]>): void {
    this.settled = result
    const w = this.waiter
    this.waiter = undefined
    w?.(result._tag === "open" ? Effect.succeed(result.conn) : Effect.fail(result.error))
  }

  await(): Effect.Effect<BunConnection, NetError.ConnectFailed> {
    return Effect.async<BunConnection, NetError.ConnectFailed>((resume) => {
      const s = this.settled
      if (s !== undefined) return resume(s._tag === "open" ? Effect.succeed(s.conn) : Effect.fail(s.error))
      // no canceler: the caller (acquireOwned, acquireUntilReady) cancels an interrupted wait itself,
      // and a wait without one saves Effect's interruption frames around it
      this.waiter = resume
    })
  }

  /** Stops waiting: an open connection is closed, a pending one aborted (or closed once it opens). */
  cancel(): void {
    this.waiter = undefined
    if (this.cancelled) return
    this.cancelled = true
    const s = this.settled
    if (s?._tag === "open") s.conn.close()
    else if (s === undefined && this.tracked !== undefined) abortConnect.abort(this.tracked)
  }
}

/** @internal */
export const connect = (
  request: Driver.ConnectRequest,
  restore?: Driver.Restore,
): Effect.Effect<Driver.RawConnection, NetError.ConnectFailed> =>
  // cancelled at once when the connect fails or is interrupted (whatever
  // state it is in); once connected the caller owns it (run uninterruptibly)
  Driver.acquireOwned(
    () => {
      const a = new Attempt(request)
      a.begin()
      return a
    },
    (a) => a.await(),
    cancelAttempt,
    restore,
  )

/** The release of a failed or interrupted Attempt: module-level, so it keeps no closure of the connect alive. */
const cancelAttempt = (a: Attempt): void => a.cancel()

/** @internal */
export const listen = (
  request: Driver.ListenRequest,
): Effect.Effect<Driver.RawListener, NetError.ListenFailed | NetError.Unsupported, Scope.Scope> => {
  const { address } = request
  return listenWith({
    address,
    addon: native.addon(),
    open: (socket) => {
      const options: Bun.TCPSocketListenOptions<SocketData> & { reusePort?: boolean; ipv6Only?: boolean } = {
        hostname: address.host,
        port: address.port,
        allowHalfOpen: true,
        data: unowned,
        socket,
      }
      if (request.reusePort) options.reusePort = true
      if (address._tag === "Ipv6" && request.ipv6Only) options.ipv6Only = true
      // Bun.listen has no backlog option: the kernel queue is Bun's default.
      return Bun.listen(options)
    },
    addressOf: (listener) => addressOf(listener.hostname, listener.port),
    wrap: (socket, local) => {
      const conn = new BunConnection(socket, {
        noDelay: noDelayOption(request.noDelay),
        keepAlive: request.keepAlive ?? false,
        keepAliveInitialDelayMillis: Duration.toMillis(request.keepAliveInitialDelay ?? 0),
        // accepted on a listener bound to one IPv4 address: that is the local end
        localAddress: exactIpv4(local),
      })
      // reset before it was accepted: the system no longer knows the peer, but it was TCP
      const mutable = conn as unknown as {
        localAddress: SocketAddress.SocketAddress
        remoteAddress: SocketAddress.SocketAddress
      }
      if (conn.localAddress._tag === "UnixPath") mutable.localAddress = local
      if (conn.remoteAddress._tag === "UnixPath") mutable.remoteAddress = SocketAddress.unspecified(local)
      return conn
    },
    stop: (listener) => listener.stop(false),
  })
}

/** @internal */
export const driver: Driver.TcpDriver = { connect, listen }
