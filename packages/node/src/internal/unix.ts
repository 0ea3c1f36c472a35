import * as fs from "node:fs"
import * as net from "node:net"
import type { Driver, Unix } from "@netfx/core"
import { NetError, SocketAddress, Unix as UnixCore } from "@netfx/core"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { fdOf, NodeConnection } from "./connection.ts"

type UnixAddress = SocketAddress.UnixPath | SocketAddress.UnixAbstract

/** @internal The string node:net takes: the path, or "\0name" for the abstract namespace. */
export const nodePath = (address: UnixAddress): string =>
  address._tag === "UnixPath" ? address.path : `\0${address.name}`

const unnamed = SocketAddress.unixPath("")

/** @internal */
export const connect = (
  address: UnixAddress,
): Effect.Effect<Driver.RawConnection, NetError.ConnectFailed, Scope.Scope> =>
  Effect.gen(function* () {
    const conn = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const socket = net.connect({ path: nodePath(address), allowHalfOpen: true })
        socket.pause()
        return new NodeConnection(socket, {}, { local: unnamed, remote: address })
      }),
      (c) => Effect.sync(() => c.close()),
    )
    yield* Effect.async<void, NetError.ConnectFailed>((resume) => {
      const socket = conn.socket
      const onConnect = () => {
        socket.off("error", onError)
        conn.fd = fdOf(socket)
        resume(Effect.void)
      }
      const onError = (error: Error) => {
        socket.off("connect", onConnect)
        const { code, syscall } = NetError.errnoOf(error)
        resume(Effect.fail(UnixCore.connectFailed(address, code, syscall, error)))
      }
      socket.once("connect", onConnect)
      socket.once("error", onError)
      return Effect.sync(() => {
        socket.off("connect", onConnect)
        socket.off("error", onError)
        socket.destroy()
      })
    })
    return conn
  })

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
    // libuv unlinks a pipe's path when its handle closes; core owns that
    // decision (`removeOnClose`), so keep the file through a hard link.
    const path = this.address._tag === "UnixPath" ? this.address.path : undefined
    const keep = path === undefined ? undefined : `${path}.netfx-${process.pid}-${Date.now()}`
    let linked = false
    if (path !== undefined && keep !== undefined) {
      try {
        fs.linkSync(path, keep)
        linked = true
      } catch {
        // the file is gone or the directory is not writable: nothing to keep
      }
    }
    this.server.close()
    if (linked && path !== undefined && keep !== undefined) {
      try {
        fs.linkSync(keep, path) // never replaces a newer socket at the path
      } catch {
        // somebody bound the path meanwhile: theirs wins
      }
      try {
        fs.unlinkSync(keep)
      } catch {
        // nothing left to clean
      }
    }
  }
}

/** @internal */
export const listen = (request: {
  readonly address: UnixAddress
  readonly backlog: number
}): Effect.Effect<Driver.RawListener, NetError.ListenFailed, Scope.Scope> =>
  Effect.gen(function* () {
    const server = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true })
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
        resume(Effect.fail(new NetError.ListenFailed({ address: request.address, code, syscall, cause: error })))
      }
      server.once("listening", onListening)
      server.once("error", onError)
      server.listen({ path: nodePath(request.address), backlog: request.backlog })
      return Effect.sync(() => {
        server.off("listening", onListening)
        server.off("error", onError)
        if (server.listening) server.close()
      })
    })
    return new NodeUnixListener(server, request.address)
  })

/** @internal */
export const { pathKind, unlink, chmod } = UnixCore.makePathOps(fs)

/** @internal */
export const driver: Unix.UnixDriver = { connect, listen, pathKind, unlink, chmod }
