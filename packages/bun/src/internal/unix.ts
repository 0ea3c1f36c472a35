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
 *
 * @internal
 */
export const connect = (
  address: UnixAddress,
): Effect.Effect<Driver.RawConnection, NetError.ConnectFailed, Scope.Scope> => {
  const addon = native.addon()
  const binding = addon.binding
  if (binding === undefined) return connectWithBun(address)
  return Effect.acquireRelease(
    Driver.connectUnixNative(addon, binding, address, (fd) => adopt(fd, address)),
    (conn) => Effect.sync(() => conn.close()),
  )
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

const connectWithBun = (
  address: UnixAddress,
): Effect.Effect<Driver.RawConnection, NetError.ConnectFailed, Scope.Scope> =>
  Effect.gen(function* () {
    // The pending connect is registered in the Scope before waiting.
    const state = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const s: {
          conn: BunConnection | undefined
          cancelled: boolean
          result: { readonly socket: BunSocket } | { readonly error: unknown } | undefined
          waiter: (() => void) | undefined
        } = { conn: undefined, cancelled: false, result: undefined, waiter: undefined }
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
      }),
      (s) =>
        Effect.sync(() => {
          s.cancelled = true
          s.conn?.close()
          if (s.result !== undefined && "socket" in s.result && s.conn === undefined) s.result.socket.end()
        }),
    )
    const result = yield* Effect.async<{ readonly socket: BunSocket } | { readonly error: unknown }>((resume) => {
      if (state.result !== undefined) return resume(Effect.succeed(state.result))
      state.waiter = () => resume(Effect.succeed(state.result as NonNullable<typeof state.result>))
    })
    if ("error" in result) {
      const { code, syscall } = NetError.errnoOf(result.error)
      return yield* Effect.fail(Driver.unixConnectFailed(address, code, syscall, result.error))
    }
    const conn = unixConnection(result.socket, unnamed, address)
    state.conn = conn
    return conn as Driver.RawConnection
  })

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
