import * as net from "node:net"
import { NetError, SocketAddress } from "@netfx/core"
import * as Driver from "@netfx/core/Driver"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { addressOf, connectSocketOwned, listenServer, NodeConnection, NodeServerListener } from "./connection.ts"
import * as native from "./native.ts"

/** SO_REUSEPORT for TCP arrived in Node 22.12 / 23.1. */
const hasReusePort = Driver.nodeHasReusePort(process.versions.node)

/**
 * Whether `address` is exactly what node:net reports for a socket's end
 * bound or connected to it: a canonical dotted-quad IPv4 address other than
 * the wildcard (an IPv6 address may differ in spelling or zone, so it is
 * read back from the system).
 */
const isExactIpv4 = (address: SocketAddress.SocketAddress): boolean =>
  address._tag === "Ipv4" && address.host !== "0.0.0.0" && SocketAddress.numericFamily(address.host) === 4

/** @internal */
export const connect = (
  request: Driver.ConnectRequest,
  restore?: Driver.Restore,
): Effect.Effect<Driver.RawConnection, NetError.ConnectFailed> =>
  // the socket is created when this runs (`connectSocketOwned` opens it lazily): no suspend of its own
  connectSocketOwned(
    () => net.connect(connectOptions(request)),
    { local: SocketAddress.unixPath(""), remote: request.address },
    (error) => {
      const { address } = request
      const { code, syscall } = NetError.errnoOf(error)
      return new NetError.ConnectFailed({
        host: address.host,
        port: address.port,
        attempts: [{ address, code, syscall, cause: error }],
      })
    },
    (conn) => conn.refresh(isExactIpv4(request.address)),
    restore,
  )

/** `net.connect`'s options for a request. */
const connectOptions = (request: Driver.ConnectRequest): net.TcpNetConnectOpts => {
  const { address } = request
  const options: net.TcpNetConnectOpts = {
    host: address.host,
    port: address.port,
    family: address._tag === "Ipv6" ? 6 : 4,
    allowHalfOpen: true,
    noDelay: request.noDelay,
    keepAlive: request.keepAlive,
    keepAliveInitialDelay: Duration.toMillis(request.keepAliveInitialDelay),
  }
  if (request.localHost !== undefined) options.localAddress = request.localHost
  if (request.localPort !== undefined) options.localPort = request.localPort
  return options
}

const listenerOf = (server: net.Server, request: Driver.ListenRequest): Driver.RawListener => {
  const a = server.address()
  const address =
    a !== null && typeof a === "object" ? addressOf(a.address, a.port, a.family) : SocketAddress.unixPath(String(a))
  const local = isExactIpv4(address) ? address : undefined
  return new NodeServerListener(
    server,
    address,
    (socket) => {
      // accepted on a listener bound to one canonical IPv4 address: that is the local end
      const conn = new NodeConnection(socket, undefined, local === undefined ? undefined : { local })
      if (request.keepAlive === true) socket.setKeepAlive(true, Duration.toMillis(request.keepAliveInitialDelay ?? 0))
      // reset before it was accepted: the system no longer knows the peer, but it was TCP
      if (conn.localAddress._tag === "UnixPath") conn.localAddress = address
      if (conn.remoteAddress._tag === "UnixPath") conn.remoteAddress = SocketAddress.unspecified(address)
      return conn
    },
    () => server.close(),
    native.addon(),
  )
}

/** @internal */
export const listen = (
  request: Driver.ListenRequest,
): Effect.Effect<Driver.RawListener, NetError.ListenFailed | NetError.Unsupported, import("effect/Scope").Scope> =>
  Effect.gen(function* () {
    if (request.reusePort && !hasReusePort) {
      // node:net sets SO_REUSEPORT from Node 22.12 on; before, the addon opens
      // and binds the socket and node:net listens on that descriptor
      const opened = native.reusePortSocket(request.address, "stream", {
        ipv6Only: request.ipv6Only,
        reuseAddress: true, // what node:net sets on every listener
      })
      if (opened === undefined) {
        return yield* Effect.fail(
          new NetError.Unsupported({
            feature: "reusePort (SO_REUSEPORT) for TCP listeners",
            runtime: `node ${process.versions.node}`,
            reason: `node:net supports reusePort from Node 22.12 / 23.1, and the @netfx/native addon that does it on older Node is not available (${native.addon().loadError ?? "no IP socket support"}); upgrade Node, build the addon or use BunNetwork`,
          }),
        )
      }
      if ("code" in opened)
        return yield* Effect.fail(
          new NetError.ListenFailed({ address: request.address, code: opened.code, syscall: "bind" }),
        )
      const server = yield* listenServer(
        { noDelay: request.noDelay },
        { fd: opened.fd, backlog: request.backlog } as net.ListenOptions,
        request.address,
      )
      return listenerOf(server, request)
    }
    const options: net.ListenOptions & { reusePort?: boolean } = {
      host: request.address.host,
      port: request.address.port,
      backlog: request.backlog,
      ipv6Only: request.address._tag === "Ipv6" && request.ipv6Only,
    }
    if (request.reusePort) options.reusePort = true
    const server = yield* listenServer({ noDelay: request.noDelay }, options, request.address)
    return listenerOf(server, request)
  })

/** @internal */
export const driver: Driver.TcpDriver = { connect, listen }
