import * as fs from "node:fs"
import * as net from "node:net"
import type { Driver, Unix } from "@netfx/core"
import { NetError, SocketAddress, Unix as UnixCore } from "@netfx/core"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { connectSocket, fdOf, listenServer, NodeConnection } from "./connection.ts"

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

class NodeUnixListener implements Driver.RawListener {
  private handlers: Driver.ListenerHandlers | undefined = undefined
  readonly fd: number | undefined
  constructor(
    readonly server: net.Server,
    readonly address: UnixAddress,
  ) {
    this.fd = fdOf(server)
    server.on("connection", (socket: net.Socket) => {
      const conn = new NodeConnection(socket, {}, { local: address, remote: unnamed })
      if (this.handlers === undefined) conn.close()
      else this.handlers.onConnection(conn)
    })
    server.on("error", (error: Error) => {
      const { code, syscall } = NetError.errnoOf(error)
      this.handlers?.onError({ code, syscall, cause: error })
    })
  }
  start(handlers: Driver.ListenerHandlers): void {
    this.handlers = handlers
  }
  close(): void {
    this.handlers = undefined
    if (!this.server.listening) return
    // the runtime unlinks the socket file on close; core decides (`removeOnClose`)
    UnixCore.closeKeepingFile(fs, this.address, () => this.server.close())
  }
}

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
    return new NodeUnixListener(server, request.address)
  })

/** @internal */
export const { pathKind, unlink, chmod } = UnixCore.makePathOps(fs)

/** @internal */
export const driver: Unix.UnixDriver = { connect, listen, pathKind, unlink, chmod }
