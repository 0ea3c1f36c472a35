import * as fs from "node:fs"
import * as net from "node:net"
import * as nodePathModule from "node:path"
import { NetError, SocketAddress } from "@netfx/core"
import * as Driver from "@netfx/core/Driver"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { connectSocketOwned, fdOf, listenServer, NodeConnection, NodeServerListener } from "./connection.ts"
import * as native from "./native.ts"

type UnixAddress = SocketAddress.UnixPath | SocketAddress.UnixAbstract

/** @internal The string node:net takes: the path, or "\0name" for the abstract namespace. */
export const nodePath = (address: UnixAddress): string =>
  address._tag === "UnixPath" ? address.path : `\0${address.name}`

const unnamed = SocketAddress.unixPath("")

const nodeMajor = Number(process.versions.node.split(".")[0])

/**
 * node:net before Node 22 binds and connects abstract names with the whole
 * 108-byte address (the name padded with NULs), a different name from the
 * one every other program uses. There the addon binds and connects with
 * the exact length and node:net adopts the descriptor. `undefined`: use
 * node:net (a path, Node 22 or later, or no addon).
 */
const nativeFor = (address: UnixAddress) => {
  if (address._tag !== "UnixAbstract" || nodeMajor >= 22) return undefined
  const addon = native.addon()
  return addon.binding === undefined ? undefined : { addon, binding: addon.binding }
}

/** @internal Run uninterruptibly by core, its waits in `restore`: the caller owns the connection (see `UnixDriver`). */
export const connect = (
  address: UnixAddress,
  restore?: Driver.Restore,
): Effect.Effect<Driver.RawConnection, NetError.ConnectFailed> => {
  const n = nativeFor(address)
  if (n === undefined) return connectWithNode(address, restore)
  return Driver.connectUnixNative(
    n.addon,
    n.binding,
    address,
    (fd) =>
      Effect.sync(() => {
        const socket = new net.Socket({ fd, readable: true, writable: true, allowHalfOpen: true })
        socket.pause()
        return new NodeConnection(socket, undefined, { local: unnamed, remote: address })
      }),
    restore,
  )
}

const connectWithNode = (
  address: UnixAddress,
  restore: Driver.Restore | undefined,
): Effect.Effect<Driver.RawConnection, NetError.ConnectFailed> =>
  connectSocketOwned(
    () => net.connect({ path: nodePath(address), allowHalfOpen: true }),
    { local: unnamed, remote: address },
    (error) => {
      const { code, syscall } = NetError.errnoOf(error)
      return Driver.unixConnectFailed(address, code, syscall, error)
    },
    setFd,
    restore,
  )

/** Once connected: the descriptor node:net opened (module-level, holding nothing of the connect). */
const setFd = (conn: NodeConnection): void => {
  conn.fd = fdOf(conn.socket)
}

/** @internal */
export const listen = (request: {
  readonly address: UnixAddress
  readonly backlog: number
}): Effect.Effect<Driver.RawListener, NetError.ListenFailed, Scope.Scope> =>
  Effect.gen(function* () {
    const address = request.address
    const n = nativeFor(address)
    const server = yield* (
      n === undefined
        ? listenServer({}, { path: nodePath(address), backlog: request.backlog }, address)
        : Driver.listenUnixNative(n.addon, n.binding, address, request.backlog, (fd) =>
            listenServer({}, { fd, backlog: request.backlog } as net.ListenOptions, address),
          )
    ).pipe(Effect.mapError((error) => missingDirectory(error, address)))
    return new NodeServerListener(
      server,
      address,
      (socket) => new NodeConnection(socket, undefined, { local: address, remote: unnamed }),
      // the runtime unlinks the socket file on close; core decides (`removeOnClose`)
      () => Driver.closeKeepingFile(fs, address, () => server.close()),
      native.addon(),
    )
  })

/**
 * libuv reports a bind in a missing directory as EACCES; the system (and
 * Bun, and every other program) says ENOENT.
 */
const missingDirectory = (error: NetError.ListenFailed, address: UnixAddress): NetError.ListenFailed => {
  if (error.code !== "EACCES" || address._tag !== "UnixPath") return error
  try {
    fs.statSync(nodePathModule.dirname(address.path))
    return error
  } catch (e) {
    if (NetError.errnoOf(e).code !== "ENOENT") return error
    return new NetError.ListenFailed({ address, code: "ENOENT", syscall: error.syscall, cause: error.cause })
  }
}

/** @internal */
export const { pathKind, unlink, chmod } = Driver.makePathOps(fs)

/** @internal */
export const driver: Driver.UnixDriver = { connect, listen, pathKind, unlink, chmod }
