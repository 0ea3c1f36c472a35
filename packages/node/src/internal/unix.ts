import * as fs from "node:fs"
import * as net from "node:net"
import type { Driver, Unix } from "@netfx/core"
import { NetError, SocketAddress, Unix as UnixCore } from "@netfx/core"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { connectSocket, fdOf, listenServer, NodeConnection, NodeServerListener } from "./connection.ts"

type UnixAddress = SocketAddress.UnixPath | SocketAddress.UnixAbstract

/** @internal The string node:net takes: the path, or "\0name" for the abstract namespace. */
export const nodePath = (address: UnixAddress): string =>
  address._tag === "UnixPath" ? address.path : `\0${address.name}`

const unnamed = SocketAddress.unixPath("")

/** @internal */
export const connect = (
  address: UnixAddress,
): Effect.Effect<Driver.RawConnection, NetError.ConnectFailed, Scope.Scope> =>
  connectSocket(
    () => net.connect({ path: nodePath(address), allowHalfOpen: true }),
    { local: unnamed, remote: address },
    (error) => {
      const { code, syscall } = NetError.errnoOf(error)
      return UnixCore.connectFailed(address, code, syscall, error)
    },
    (conn) => {
      conn.fd = fdOf(conn.socket)
    },
  )

/** @internal */
export const listen = (request: {
  readonly address: UnixAddress
  readonly backlog: number
}): Effect.Effect<Driver.RawListener, NetError.ListenFailed, Scope.Scope> =>
  Effect.gen(function* () {
    const server = yield* listenServer(
      {},
      { path: nodePath(request.address), backlog: request.backlog },
      request.address,
    )
    const address = request.address
    return new NodeServerListener(
      server,
      address,
      (socket) => new NodeConnection(socket, {}, { local: address, remote: unnamed }),
      // the runtime unlinks the socket file on close; core decides (`removeOnClose`)
      () => UnixCore.closeKeepingFile(fs, address, () => server.close()),
    )
  })

/** @internal */
export const { pathKind, unlink, chmod } = UnixCore.makePathOps(fs)

/** @internal */
export const driver: Unix.UnixDriver = { connect, listen, pathKind, unlink, chmod }
