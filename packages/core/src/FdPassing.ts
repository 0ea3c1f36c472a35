/**
 * Passing open file descriptors over Unix stream sockets (`SCM_RIGHTS`):
 * files, TCP sockets, Unix sockets — AnyIO's `send_fds` / `receive_fds`.
 *
 * **Design**: descriptors travel as ancillary data attached to bytes of the
 * stream, so the reads that take them must be the only reads on the
 * socket. Node's and Bun's own sockets read ahead on their own, and a
 * `recv` that is not a `recvmsg` with room for descriptors makes the kernel
 * close them. So fd-passing connections are created by the native layer end
 * to end (`FdPassing.connect`, `FdPassing.listen`, `FdPassing.socketpair`):
 * netfx owns the descriptor, reads only when you call `receive` or
 * `receiveFds` (no read-ahead), and always with `recvmsg`. The price is that
 * these connections are separate from `Unix.connect`'s (which keep the
 * runtime's faster I/O) — open the connection with this module when you
 * need descriptors on it. They are still `SocketStream`s, and
 * `FdPassing.listen` gives an ordinary `Listener` (`accept`, `serve`,
 * `incoming`): code written for byte streams works on them unchanged.
 *
 * Needs the `@netfx/native` addon; without it every function fails with
 * `Unsupported` naming the fix.
 *
 * @since 0.1.0
 */
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { concatBytes } from "./internal/bytes.ts"
import * as fdStream from "./internal/fdStream.ts"
import { spanPath } from "./internal/unix/address.ts"
import * as validate from "./internal/validate.ts"
import type { Listener } from "./Listener.ts"
import type {
  BrokenResource,
  BusyResource,
  ClosedResource,
  ConnectFailed,
  EndOfStream,
  InvalidArgument,
  ListenFailed,
  ReceiveError,
  Unsupported,
} from "./NetError.ts"
import * as Network from "./Network.ts"
import type * as SocketAddress from "./SocketAddress.ts"
import * as SocketStream from "./SocketStream.ts"
import type { UnixAddressInput } from "./Unix.ts"

/**
 * A descriptor received with {@link FdStream.receiveFds}. It belongs to the
 * Scope of the `receiveFds` call and is closed when that Scope closes,
 * unless `take` moved it to the caller.
 *
 * @example
 * ```ts
 * import { FdPassing } from "@netfx/core"
 * import { Effect } from "effect"
 *
 * // keep the first descriptor; any others close with the Scope
 * const takeFirst = (conn: FdPassing.FdStream) =>
 *   Effect.gen(function* () {
 *     const { fds } = yield* conn.receiveFds(1024, 4)
 *     const first: FdPassing.ReceivedFd | undefined = fds[0]
 *     return first === undefined ? undefined : yield* first.take
 *   }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface ReceivedFd {
  readonly fd: number
  /** Takes ownership: netfx will not close it; the caller must. Returns the fd. */
  readonly take: Effect.Effect<number>
  /** Whether `take` ran. */
  readonly taken: () => boolean
}

/**
 * The result of {@link FdStream.receiveFds}.
 *
 * @example
 * ```ts
 * import { FdPassing } from "@netfx/core"
 * import { Effect } from "effect"
 *
 * const receive = (conn: FdPassing.FdStream) =>
 *   Effect.gen(function* () {
 *     const received: FdPassing.ReceivedMessage = yield* conn.receiveFds(1024, 2)
 *     if (received.truncated) yield* Effect.logWarning("the peer sent more than 2 descriptors")
 *     return { text: new TextDecoder().decode(received.message), fds: received.fds.length }
 *   })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface ReceivedMessage {
  readonly message: Uint8Array
  readonly fds: ReadonlyArray<ReceivedFd>
  /**
   * More descriptors arrived than `maxFds` (or than fitted): the kernel
   * closed the extras (`MSG_CTRUNC`). netfx reports it instead of losing
   * them silently.
   */
  readonly truncated: boolean
}

/**
 * A Unix stream connection that can carry descriptors: a
 * {@link SocketStream.SocketStream} (so `receive`, `send`, `sendEof`,
 * `close`, `attribute`, `SocketStream.toStream`, `BufferedStream.make`, ...
 * all work) with `sendFds` and `receiveFds` on top. It reads only when you
 * call `receive`/`receiveFds` (no read-ahead), always with `recvmsg`, so no
 * descriptor is ever dropped by a read that had no room for it.
 *
 * **Resource**: open until its Scope closes or `close` runs.
 *
 * **Interruption**: as any `SocketStream` for `receive`; an interrupted
 * `send`/`sendFds` that had written part of its bytes leaves the stream
 * broken for later sends (`BrokenResource`), since a partial write cannot
 * be undone.
 *
 * @example
 * ```ts
 * import { FdPassing, SocketStream } from "@netfx/core"
 * import { NodeNetwork } from "@netfx/node"
 * import { Effect } from "effect"
 * import * as assert from "node:assert"
 *
 * const program = Effect.gen(function* () {
 *   const [a, b] = yield* FdPassing.socketpair()
 *   assert.ok(SocketStream.isSocketStream(a))
 *   yield* a.sendFds(new TextEncoder().encode("x"), [a.fd]) // the peer gets a duplicate
 *   const { message, fds } = yield* b.receiveFds(16, 1)
 *   assert.strictEqual(message.length, 1)
 *   assert.strictEqual(fds.length, 1)
 * }).pipe(Effect.scoped, Effect.provide(NodeNetwork.layer))
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface FdStream extends SocketStream.SocketStream {
  /** The descriptor (always present: netfx owns it natively). */
  readonly fd: number
  readonly localAddress: SocketAddress.UnixPath | SocketAddress.UnixAbstract
  readonly remoteAddress: SocketAddress.UnixPath | SocketAddress.UnixAbstract
  readonly family: "unix"
  /**
   * Up to `maxBytes` (default 65536) bytes, never empty. Descriptors that
   * arrive with these bytes (the peer used `sendFds`, you `receive`) are
   * kept and handed out by the next `receiveFds`, never dropped.
   *
   * **Errors**: `EndOfStream`, `ClosedResource`, `BrokenResource`,
   * `BusyResource`, `InvalidArgument`. **Interruption**: loses nothing.
   */
  receive(maxBytes?: number): Effect.Effect<Uint8Array, ReceiveError>
  /**
   * Sends `message` with `fds` attached (`sendmsg` + `SCM_RIGHTS`). The
   * descriptors stay open here (the peer gets duplicates). At most 253.
   *
   * **Errors**: `InvalidArgument` for an empty message or an empty (or too
   * long) fd list; `BrokenResource` (`EBADF` for a closed descriptor, `EPIPE`,
   * ...); `ClosedResource`; `BusyResource`.
   *
   * **Interruption**: as `send`.
   */
  sendFds(
    message: Uint8Array,
    fds: ReadonlyArray<number>,
  ): Effect.Effect<void, InvalidArgument | ClosedResource | BrokenResource | BusyResource>
  /**
   * Receives up to `maxMessageBytes` bytes and up to `maxFds` descriptors
   * that came with them (`recvmsg`). Descriptors belong to the current
   * Scope (closed with it unless taken). Extra descriptors beyond `maxFds`
   * are closed by the kernel and reported with `truncated: true`.
   *
   * **Errors**: `InvalidArgument` when `maxMessageBytes` or `maxFds` is not
   * an integer >= 1 (or `maxFds` > 253); `EndOfStream`; `ClosedResource`;
   * `BrokenResource`; `BusyResource`.
   *
   * **Interruption**: nothing is received (no descriptor leaks).
   */
  receiveFds(
    maxMessageBytes: number,
    maxFds: number,
  ): Effect.Effect<
    ReceivedMessage,
    EndOfStream | InvalidArgument | ClosedResource | BrokenResource | BusyResource,
    Scope.Scope
  >
  /** Closes now; pending operations fail with `ClosedResource`. Idempotent. */
  readonly close: Effect.Effect<void>
}

/**
 * Options of {@link connect}: as `Unix.connect`'s (`path`, `timeout`).
 *
 * @example
 * ```ts
 * import { FdPassing } from "@netfx/core"
 *
 * const options: FdPassing.ConnectOptions = { path: "/run/app.sock", timeout: "1 second" }
 * const conn = FdPassing.connect(options)
 * ```
 *
 * @since 0.2.0
 * @category models
 */
export interface ConnectOptions {
  /** A file system path, or a `SocketAddress` (`UnixPath`, `UnixAbstract`). */
  readonly path: UnixAddressInput
  /**
   * A limit for the connect (a listener with a full backlog keeps a client
   * waiting): when it passes the socket is closed and `connect` fails with
   * `ConnectFailed` code `ETIMEDOUT`. Default: none.
   */
  readonly timeout?: Duration.DurationInput
}

/**
 * Connects to a Unix stream socket, natively, for fd passing.
 *
 * **Resource**: belongs to the current Scope.
 *
 * **Errors**: `ConnectFailed` (`ENOENT`, `ECONNREFUSED`, ...; `code:
 * "ETIMEDOUT"` when `timeout` passed); `InvalidArgument`; `Unsupported`
 * without the native addon.
 *
 * **Interruption**: closes the socket.
 *
 * @example
 * ```ts
 * import { FdPassing } from "@netfx/core"
 * import { NodeNetwork } from "@netfx/node"
 * import { Effect } from "effect"
 *
 * // the AnyIO fd-passing client: read the file the server sends
 * const client = Effect.gen(function* () {
 *   const conn = yield* FdPassing.connect({ path: "/tmp/mysock" })
 *   const { fds } = yield* conn.receiveFds(1024, 1)
 *   const file = yield* FdPassing.toFileHandle(yield* fds[0]!.take)
 *   console.log(new TextDecoder().decode(yield* file.readAll))
 * }).pipe(Effect.scoped, Effect.provide(NodeNetwork.layer))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const connect = (
  options: ConnectOptions,
): Effect.Effect<FdStream, ConnectFailed | InvalidArgument | Unsupported, Scope.Scope | Network.Network> =>
  fdStream
    .connect(options)
    .pipe(Effect.withSpan("netfx.FdPassing.connect", { attributes: { path: spanPath(options) } }))

/**
 * An fd-passing listener: an ordinary `Listener` (`accept`, `serve`,
 * `incoming`, `address`, `close`) whose connections are {@link FdStream}s.
 *
 * Accepting never fails for a transient reason: when the process is out
 * of descriptors (`EMFILE`, `ENFILE`) or memory, or a client gave up
 * before it was accepted (`ECONNABORTED`), the failure is logged at
 * Warning through the caller's logger and accepting is retried after a
 * short pause (the client waits in the kernel backlog meanwhile).
 *
 * **Resource**: open from {@link listen} until its Scope closes or `close`
 * runs; when the Scope closes the socket file is removed too, unless
 * `removeOnClose: false`. Connections handed out by `incoming` and still
 * open are closed with it.
 *
 * @example
 * ```ts
 * import { FdPassing } from "@netfx/core"
 * import { Effect } from "effect"
 *
 * const greetOne = Effect.gen(function* () {
 *   const listener: FdPassing.FdListener = yield* FdPassing.listen({ path: "/tmp/fd.sock" })
 *   const conn = yield* listener.accept
 *   yield* conn.send(new TextEncoder().encode("hello"))
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type FdListener = Listener<FdStream>

/**
 * Options of {@link listen}.
 *
 * @example
 * ```ts
 * import { FdPassing } from "@netfx/core"
 *
 * const options: FdPassing.ListenOptions = { path: "/tmp/fd.sock", mode: 0o600, backlog: 16, removeOnClose: true }
 * const listener = FdPassing.listen(options)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface ListenOptions {
  /** A file system path, or a `SocketAddress` (`UnixPath`, `UnixAbstract`). */
  readonly path: UnixAddressInput
  /** Permission bits for the socket file, as in `Unix.listen`. */
  readonly mode?: number
  readonly backlog?: number
  /** Remove the socket file when the Scope closes (default `true`; AnyIO does not). */
  readonly removeOnClose?: boolean
}

/**
 * Listens on a Unix stream socket, natively, for fd passing. The path rules
 * of `Unix.listen` apply (stale files replaced, live listeners not stolen,
 * other files untouched, `mode`, removal on close).
 *
 * **Resource**: belongs to the current Scope.
 *
 * **Errors**: `ListenFailed`; `InvalidArgument`; `Unsupported` without the
 * native addon.
 *
 * **Interruption**: closes the socket.
 *
 * @example
 * ```ts
 * import * as fs from "node:fs"
 * import { FdPassing } from "@netfx/core"
 * import { NodeNetwork } from "@netfx/node"
 * import { Effect } from "effect"
 *
 * // the AnyIO fd-passing server: send each client an open file
 * const server = Effect.gen(function* () {
 *   const listener = yield* FdPassing.listen({ path: "/tmp/mysock" })
 *   yield* listener.serve((client) =>
 *     Effect.acquireUseRelease(
 *       Effect.sync(() => fs.openSync("/tmp/examplefile", "r")),
 *       (fd) => client.sendFds(new TextEncoder().encode("this message is ignored"), [fd]),
 *       (fd) => Effect.sync(() => fs.closeSync(fd)),
 *     ),
 *   )
 * }).pipe(Effect.scoped, Effect.provide(NodeNetwork.layer))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const listen = (
  options: ListenOptions,
): Effect.Effect<FdListener, ListenFailed | InvalidArgument | Unsupported, Scope.Scope | Network.Network> =>
  fdStream.listen(options).pipe(Effect.withSpan("netfx.FdPassing.listen", { attributes: { path: spanPath(options) } }))

/**
 * A connected pair of fd-passing Unix stream sockets (`socketpair`), e.g.
 * to hand one end to a child process.
 *
 * **Resource**: both belong to the current Scope.
 *
 * **Errors**: `BrokenResource` (EMFILE, ...); `Unsupported` without the addon.
 *
 * **Interruption**: not applicable (it does not wait).
 *
 * @example
 * ```ts
 * import { FdPassing } from "@netfx/core"
 * import { Effect } from "effect"
 *
 * const pair = Effect.map(FdPassing.socketpair(), ([a, b]) => [a.fd, b.fd])
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const socketpair = (): Effect.Effect<
  readonly [FdStream, FdStream],
  BrokenResource | Unsupported,
  Scope.Scope | Network.Network
> => fdStream.socketpair()

/**
 * Turns a connected stream socket descriptor (TCP or Unix, e.g. one
 * received with `receiveFds` and taken) into a netfx byte stream run by the
 * runtime (Node: `new net.Socket({ fd })`, Bun: `Bun.connect({ fd })`).
 * The stream owns the descriptor from then on.
 *
 * **Resource**: belongs to the current Scope; closing it closes the fd.
 *
 * **Errors**: `InvalidArgument` (at once, nothing is owned) when `fd` is
 * not an integer in 0..2147483647; `BrokenResource` when the descriptor is
 * not a usable socket; `Unsupported` when the runtime cannot adopt
 * descriptors.
 *
 * @example
 * ```ts
 * import { FdPassing } from "@netfx/core"
 * import { Effect } from "effect"
 *
 * const adopt = (fd: number) => Effect.flatMap(FdPassing.toByteStream(fd), (s) => s.receive())
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const toByteStream = (
  fd: number,
): Effect.Effect<
  SocketStream.SocketStream,
  BrokenResource | InvalidArgument | Unsupported,
  Scope.Scope | Network.Network
> =>
  Effect.gen(function* () {
    const invalid = validate.descriptorError("fd", fd)
    if (invalid !== undefined) return yield* Effect.fail(invalid)
    const native = yield* Network.driver("native", "adopting a descriptor as a byte stream")
    const raw = yield* native.adoptStream(fd)
    return yield* SocketStream.makeScoped(raw)
  })

/**
 * A plain descriptor (a file, a pipe) as a small file handle.
 *
 * @example
 * ```ts
 * import { FdPassing } from "@netfx/core"
 * import { Effect } from "effect"
 *
 * const copy = (from: FdPassing.FileHandle, to: FdPassing.FileHandle) =>
 *   Effect.flatMap(from.readAll, (bytes) => to.write(bytes))
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface FileHandle {
  readonly fd: number
  /** Up to `maxBytes` from the current position; an empty array at end of file. */
  read(maxBytes?: number): Effect.Effect<Uint8Array, BrokenResource>
  /** Everything up to end of file. */
  readonly readAll: Effect.Effect<Uint8Array, BrokenResource>
  write(data: Uint8Array): Effect.Effect<void, BrokenResource>
  /** Closes the descriptor. Idempotent. */
  readonly close: Effect.Effect<void>
}

/**
 * Wraps a descriptor (e.g. a file received with `receiveFds`, taken) as a
 * {@link FileHandle} (Python's `os.fdopen`).
 *
 * **Resource**: the handle owns the descriptor and closes it when the
 * current Scope closes (or by `close`).
 *
 * **Errors**: `InvalidArgument` (at once, nothing is owned) when `fd` is not
 * an integer in 0..2147483647; reads and writes fail with `BrokenResource`
 * carrying the errno.
 *
 * @example
 * ```ts
 * import { FdPassing } from "@netfx/core"
 * import { Effect } from "effect"
 *
 * const readFd = (fd: number) => Effect.flatMap(FdPassing.toFileHandle(fd), (f) => f.readAll)
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const toFileHandle = (
  fd: number,
): Effect.Effect<FileHandle, Unsupported | InvalidArgument, Scope.Scope | Network.Network> =>
  Effect.gen(function* () {
    const invalid = validate.descriptorError("fd", fd)
    if (invalid !== undefined) return yield* Effect.fail(invalid)
    const native = yield* Network.driver("native", "file handles from descriptors")
    const ops = native.file
    let closed = false
    const close = Effect.suspend(() => {
      if (closed) return Effect.void
      closed = true
      return ops.close(fd)
    })
    yield* Effect.addFinalizer(() => close)
    const read = (maxBytes = 65536) => ops.read(fd, maxBytes)
    const readAll = Effect.gen(function* () {
      const parts: Array<Uint8Array> = []
      while (true) {
        const chunk = yield* read(65536)
        if (chunk.length === 0) return concatBytes(parts)
        parts.push(chunk)
      }
    })
    return { fd, read, readAll, write: (data: Uint8Array) => ops.write(fd, data), close }
  })

/**
 * Reads an integer socket option of any socket descriptor (e.g. a TCP
 * connection's `SocketStream.fd`): `getsockopt(fd, level, name)`.
 *
 * **Errors**: `BrokenResource` with the errno; `Unsupported` without the addon.
 *
 * @example
 * ```ts
 * import { FdPassing } from "@netfx/core"
 *
 * const IPPROTO_TCP = 6
 * const TCP_NODELAY = 1
 * const noDelay = (fd: number) => FdPassing.getSocketOption(fd, IPPROTO_TCP, TCP_NODELAY)
 * ```
 *
 * @since 0.1.0
 * @category utils
 */
export const getSocketOption = (
  fd: number,
  level: number,
  name: number,
): Effect.Effect<number, BrokenResource | Unsupported, Network.Network> => fdStream.getSocketOption(fd, level, name)

/**
 * Sets an integer socket option: `setsockopt(fd, level, name, value)`.
 *
 * **Errors**: `BrokenResource` with the errno; `Unsupported` without the addon.
 *
 * @example
 * ```ts
 * import { FdPassing } from "@netfx/core"
 *
 * const SOL_SOCKET = 1
 * const SO_SNDBUF = 7
 * const grow = (fd: number) => FdPassing.setSocketOption(fd, SOL_SOCKET, SO_SNDBUF, 1 << 20)
 * ```
 *
 * @since 0.1.0
 * @category utils
 */
export const setSocketOption = (
  fd: number,
  level: number,
  name: number,
  value: number,
): Effect.Effect<void, BrokenResource | Unsupported, Network.Network> =>
  fdStream.setSocketOption(fd, level, name, value)
