import * as fs from "node:fs"
import { NetError, SocketAddress } from "@netfx/core"
import * as Driver from "@netfx/core/Driver"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { BunConnection, type BunSocket, listenWith, type SocketData, streamHandlers } from "./connection.ts"
import * as native from "./native.ts"

type UnixAddress = SocketAddress.UnixPath | SocketAddress.UnixAbstract

/** @internal The string Bun takes: the path, or "\0name" for the abstract namespace. */
export const bunPath = (address: UnixAddress): string =>
  address._tag === "UnixPath" ? address.path : `\0${address.name}`

const unnamed = SocketAddress.unixPath("")

/** Bun reports no addresses for Unix sockets: netfx knows them. No TCP_NODELAY on a Unix socket. */
const unixConnection = (socket: BunSocket, local: UnixAddress, remote: UnixAddress): BunConnection =>
  new BunConnection(socket, { noDelay: undefined, localAddress: local, remoteAddress: remote })

interface ConnectData extends SocketData {
  settle: ((result: { readonly socket: BunSocket } | { readonly error: unknown }) => void) | undefined
}

/**
 * Bun's own Unix connect (`Bun.connect({ unix })`) loses what a server
 * writes right before it closes: the connect fails with ECONNRESET (Bun
 * 1.4). So the addon connects the socket, and Bun adopts the connected
 * descriptor (`Bun.connect({ fd })`), which reads the greeting and the EOF
 * like any socket. Without the addon, Bun's own connect is the fallback.
 * Run uninterruptibly by core, its waits in `restore`: the caller owns the
 * connection (see `UnixDriver`).
 *
 * @internal
 */
export const connect = (
  address: UnixAddress,
  restore?: Driver.Restore,
): Effect.Effect<Driver.RawConnection, NetError.ConnectFailed> => {
  const addon = native.addon()
  const binding = addon.binding
  if (binding === undefined) return connectWithBun(address, restore)
  return Driver.connectUnixNative(addon, binding, address, (fd) => adopt(fd, address), restore)
}

/** Bun takes a connected descriptor; the adapter exists from its `open` on. */
const adopt = (fd: number, address: UnixAddress): Effect.Effect<BunConnection, NetError.ConnectFailed> =>
  Effect.async<BunConnection, NetError.ConnectFailed>((resume) => {
    let conn: BunConnection | undefined
    Bun.connect({
      fd,
      allowHalfOpen: true,
      data: { conn: undefined },
      socket: {
        ...streamHandlers,
        open: (socket: BunSocket) => {
          conn = unixConnection(socket, unnamed, address)
          resume(Effect.succeed(conn))
        },
      },
    } as unknown as Bun.TCPSocketConnectOptions<SocketData>).catch((error: unknown) => {
      if (conn !== undefined) return
      const { code, syscall } = NetError.errnoOf(error)
      resume(Effect.fail(Driver.unixConnectFailed(address, code, syscall, error)))
    })
  })

/** A `Bun.connect({ unix })` in progress, until the caller owns its connection. */
interface Pending {
  readonly address: UnixAddress
  conn: BunConnection | undefined
  cancelled: boolean
  result: { readonly socket: BunSocket } | { readonly error: unknown } | undefined
  waiter: (() => void) | undefined
}

const connectWithBun = (
  address: UnixAddress,
  restore: Driver.Restore | undefined,
): Effect.Effect<Driver.RawConnection, NetError.ConnectFailed> =>
  Driver.acquireOwned(() => startConnect(address), awaitConnected, cancelConnect, restore)

/** Starts the connect; what it settles with is kept in the returned state. */
const startConnect = (address: UnixAddress): Pending => {
  const s: Pending = { address, conn: undefined, cancelled: false, result: undefined, waiter: undefined }
  const data: ConnectData = {
    conn: undefined,
    settle: (result) => {
      if (s.result !== undefined) return
      if (s.cancelled && "socket" in result) {
        result.socket.data = { conn: undefined }
        result.socket.end()
        return
      }
      s.result = result
      s.waiter?.()
    },
  }
  try {
    Bun.connect({
      unix: bunPath(address),
      allowHalfOpen: true,
      data,
      socket: {
        ...streamHandlers,
        open: (socket) => (socket.data as ConnectData).settle?.({ socket: socket as unknown as BunSocket }),
        connectError: (socket, error) => (socket.data as ConnectData).settle?.({ error }),
        close: (socket, error) => {
          const d = socket.data as ConnectData
          if (d.conn !== undefined) d.conn.handleClose(error)
          else
            d.settle?.({
              error: error ?? Object.assign(new Error("closed while connecting"), { code: "ECONNABORTED" }),
            })
        },
      } as Bun.SocketHandler<ConnectData>,
    }).catch(() => {})
  } catch (error) {
    data.settle?.({ error })
  }
  return s
}

/** Waits until the connect settled: its connection, or the typed failure. */
const awaitConnected = (s: Pending): Effect.Effect<Driver.RawConnection, NetError.ConnectFailed> =>
  Effect.flatMap(
    Effect.async<{ readonly socket: BunSocket } | { readonly error: unknown }>((resume) => {
      if (s.result !== undefined) return resume(Effect.succeed(s.result))
      s.waiter = () => resume(Effect.succeed(s.result as NonNullable<typeof s.result>))
    }),
    (result) => {
      if ("error" in result) {
        const { code, syscall } = NetError.errnoOf(result.error)
        return Effect.fail(Driver.unixConnectFailed(s.address, code, syscall, result.error))
      }
      const conn = unixConnection(result.socket, unnamed, s.address)
      s.conn = conn
      return Effect.succeed(conn)
    },
  )

/** A failed or interrupted connect: closes whatever it opened, now or once it opens. */
const cancelConnect = (s: Pending): void => {
  s.cancelled = true
  s.conn?.close()
  if (s.result !== undefined && "socket" in s.result && s.conn === undefined) s.result.socket.end()
}

/** @internal */
export const listen = (request: {
  readonly address: UnixAddress
  readonly backlog: number
}): Effect.Effect<Driver.RawListener, NetError.ListenFailed, Scope.Scope> => {
  const { address } = request
  return listenWith({
    address,
    addon: native.addon(),
    open: (socket) =>
      Bun.listen({
        unix: bunPath(address),
        allowHalfOpen: true,
        data: { conn: undefined },
        socket,
      } as Bun.UnixSocketOptions<SocketData>),
    addressOf: () => address,
    wrap: (socket) => unixConnection(socket, address, unnamed),
    // the runtime unlinks the socket file on close; core decides (`removeOnClose`)
    stop: (listener) => Driver.closeKeepingFile(fs, address, () => listener.stop(false)),
  })
}

/** @internal */
export const { pathKind, unlink, chmod } = Driver.makePathOps(fs)

/** @internal */
export const driver: Driver.UnixDriver = { connect, listen, pathKind, unlink, chmod }
