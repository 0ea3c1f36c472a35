/**
 * asyncio-style streams for users coming from Python: `StreamReader` /
 * `StreamWriter`, `openConnection` / `startServer` and their Unix socket
 * variants, over any netfx byte stream (TCP, Unix, TLS, in memory). Names
 * are camelCase; semantics follow the asyncio documentation, with typed
 * errors from the netfx vocabulary instead of exceptions:
 *
 * | asyncio                    | netfx                                  |
 * |----------------------------|----------------------------------------|
 * | `IncompleteReadError`      | `IncompleteRead` (`partial`, `expected`) |
 * | `LimitOverrunError`        | `LimitExceeded` (data stays buffered)   |
 * | `ValueError` from readline | `LimitExceeded` (the overlong line is dropped) |
 * | `ConnectionResetError` ... | `BrokenResource` (errno `code`)         |
 * | use after `close()`        | `ClosedResource`                        |
 *
 * **The writer's resource story.** `write` only queues bytes and returns.
 * Each writer owns one flusher fiber, forked in the Scope that created the
 * writer (`openConnection`'s caller, or the connection of a `startServer`
 * handler), which sends queued bytes in order with the stream's
 * backpressured `send`. `close` asks the flusher to send what is queued and
 * then close the connection; `waitClosed` waits for that. Closing the Scope
 * instead aborts: the flusher is interrupted and the connection closed at
 * once, dropping queued bytes — so call `close` + `waitClosed` (or `drain`)
 * before leaving the Scope, as in asyncio. A `startServer` handler's writer
 * is closed (flushed) for it when the handler returns; closing the server
 * interrupts that flush too, so a client that never reads cannot keep a
 * server from shutting down.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import * as internal from "./internal/asyncio.ts"
import type { Listener } from "./Listener.ts"
import type {
  BrokenResource,
  BusyResource,
  ClosedResource,
  IncompleteRead,
  InvalidArgument,
  LimitExceeded,
  SendError,
} from "./NetError.ts"
import type { Network } from "./Network.ts"
import type * as SocketAddress from "./SocketAddress.ts"
import type { SocketStream } from "./SocketStream.ts"
import * as Tcp from "./Tcp.ts"
import * as Unix from "./Unix.ts"

/**
 * The errors of reading: the connection broke (`BrokenResource`), it was
 * closed locally (`ClosedResource`), another fiber is reading
 * (`BusyResource`), or a bad argument (`InvalidArgument`). End of stream is
 * never one of them: reads report it as asyncio does (an empty result, or
 * `IncompleteRead`).
 *
 * @example
 * ```ts
 * import { Asyncio, NetError } from "@netfx/core"
 * import * as assert from "node:assert"
 *
 * const e: Asyncio.ReadError = new NetError.ClosedResource({ operation: "read" })
 * assert.strictEqual(e._tag, "ClosedResource")
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type ReadError = ClosedResource | BrokenResource | BusyResource | InvalidArgument

/**
 * The errors of writing: the connection broke (`BrokenResource`), the
 * writer was closed or half-closed (`ClosedResource`), or someone else
 * sends on the same stream (`BusyResource`).
 *
 * @example
 * ```ts
 * import { Asyncio, NetError } from "@netfx/core"
 * import * as assert from "node:assert"
 *
 * const e: Asyncio.WriterError = new NetError.BrokenResource({ operation: "send", code: "EPIPE" })
 * assert.strictEqual(e._tag, "BrokenResource")
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type WriterError = SendError

/**
 * Write-buffer watermarks (asyncio's `set_write_buffer_limits`): `drain`
 * waits while more than `high` bytes are unsent, until at most `low` are.
 * Defaults 65536 / 16384; with only one given, `high = 4 * low` or
 * `low = high / 4`.
 *
 * @example
 * ```ts
 * import { Asyncio } from "@netfx/core"
 *
 * const limits: Asyncio.WriteBufferLimits = { high: 1 << 20, low: 1 << 18 }
 * const bigBuffers = (writer: Asyncio.StreamWriter) => writer.setWriteBufferLimits(limits)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface WriteBufferLimits {
  readonly high?: number
  readonly low?: number
}

/**
 * Options shared by every constructor of a reader/writer pair.
 *
 * @example
 * ```ts
 * import { Asyncio, SocketStream } from "@netfx/core"
 *
 * const options: Asyncio.StreamOptions = { limit: 8192, writeBufferLimits: { high: 65536 } }
 * const pair = (conn: SocketStream.SocketStream) => Asyncio.fromStream(conn, options)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface StreamOptions {
  /** The reader's limit for `readline`/`readuntil` (default 65536 bytes). */
  readonly limit?: number
  /** The writer's watermarks. */
  readonly writeBufferLimits?: WriteBufferLimits
}

/**
 * The reading half (asyncio's `StreamReader`).
 *
 * One reader at a time: a second fiber reading while a read waits fails
 * with `BusyResource`.
 *
 * **Interruption**: every read loses no byte when interrupted; what it
 * received stays buffered for the next read.
 *
 * @example
 * ```ts
 * import { Asyncio } from "@netfx/core"
 * import { Effect } from "effect"
 *
 * const firstLine = Effect.gen(function* () {
 *   const [reader, writer] = yield* Asyncio.openConnection("127.0.0.1", 8888)
 *   const line = yield* reader.readline()
 *   yield* writer.close
 *   return new TextDecoder().decode(line)
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface StreamReader {
  /** The reader's limit for `readline` / `readuntil`. */
  readonly limit: number
  /**
   * Reads up to `n` bytes; with `n = -1` (the default) reads until end of
   * stream and returns everything. As asyncio's, it waits only while
   * nothing has arrived, then returns `min(n, everything received so far)`
   * (the bytes the connection already holds count, not only this reader's
   * buffer). Returns an empty array only at end of stream (or for `n = 0`).
   *
   * **Errors**: {@link ReadError}; a broken connection is an error, never
   * an empty read.
   */
  read(n?: number): Effect.Effect<Uint8Array, ReadError>
  /**
   * Reads one line, ending with `"\n"` (included). At end of stream
   * returns the partial line without `"\n"`, and an empty array when
   * nothing is left.
   *
   * **Errors**: `LimitExceeded` when no `"\n"` occurs within `limit` bytes;
   * as in asyncio, the overlong line is dropped (through its `"\n"` when it
   * has arrived, otherwise everything that arrived); {@link ReadError}.
   */
  readline(): Effect.Effect<Uint8Array, ReadError | LimitExceeded>
  /**
   * Reads exactly `n` bytes.
   *
   * **Errors**: `IncompleteRead` (with `partial` and `expected = n`) when
   * the stream ends first; as in asyncio the partial bytes are consumed
   * (they are in the error). {@link ReadError}.
   */
  readexactly(n: number): Effect.Effect<Uint8Array, ReadError | IncompleteRead>
  /**
   * Reads through the next `separator` (default `"\n"`), which is included
   * in the result.
   *
   * **Errors**: `LimitExceeded` when the separator does not start within
   * `limit` bytes — the data stays buffered and can be read again;
   * `IncompleteRead` (with `partial`) when the stream ends first — as in
   * asyncio the buffer is then consumed; {@link ReadError}.
   */
  readuntil(separator?: Uint8Array | string): Effect.Effect<Uint8Array, ReadError | IncompleteRead | LimitExceeded>
  /**
   * `true` when the stream ended and the buffer is empty (a snapshot), as
   * asyncio's `at_eof()`: an end already received counts before a read
   * sees it.
   */
  atEof(): boolean
  /** `async for line in reader`: the remaining lines (with `"\n"`) as a Stream. */
  readonly lines: Stream.Stream<Uint8Array, ReadError | LimitExceeded>
  /** Appends bytes to the read buffer (asyncio's `feed_data`), for tests and parsers. */
  feedData(data: Uint8Array | string): Effect.Effect<void>
}

/**
 * The writing half (asyncio's `StreamWriter`). See the module docs for the
 * flusher fiber and what closing the Scope does.
 *
 * @example
 * ```ts
 * import { Asyncio } from "@netfx/core"
 * import { Effect } from "effect"
 *
 * const send = Effect.gen(function* () {
 *   const [, writer] = yield* Asyncio.openConnection("127.0.0.1", 8888)
 *   yield* writer.write("Hello World!")
 *   yield* writer.drain
 *   yield* writer.close
 *   yield* writer.waitClosed
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface StreamWriter {
  /** The underlying byte stream (asyncio's `transport`). */
  readonly transport: SocketStream
  /**
   * Queues `data` (strings are UTF-8 encoded) and returns at once; not
   * subject to flow control — follow with `drain`. Do not mutate `data`
   * afterwards.
   *
   * **Errors**: `ClosedResource` after `close` or `writeEof`;
   * `BrokenResource` once a send failed.
   */
  write(data: Uint8Array | string): Effect.Effect<void, WriterError>
  /** Queues every item of `data`; as `write`. */
  writelines(data: Iterable<Uint8Array | string>): Effect.Effect<void, WriterError>
  /**
   * Waits while more than the high watermark is unsent, until at most the
   * low watermark is; returns at once otherwise.
   *
   * **Errors**: `BrokenResource` when the connection broke (e.g. the peer
   * closed and the kernel answered with a reset or `EPIPE`);
   * `ClosedResource` after `close`.
   *
   * **Interruption**: interrupting `drain` only stops the wait; queued
   * bytes are still sent.
   */
  readonly drain: Effect.Effect<void, WriterError>
  /** `true`: every netfx byte stream can half-close. */
  canWriteEof(): boolean
  /**
   * Half-closes after the queued bytes are sent: the peer reads end of
   * stream and can still reply. Further writes fail with `ClosedResource`.
   * Does not wait.
   */
  readonly writeEof: Effect.Effect<void, WriterError>
  /**
   * Closes the connection after the queued bytes are sent. Does not wait
   * (see `waitClosed`). Idempotent.
   */
  readonly close: Effect.Effect<void>
  /** Closes the connection now, dropping queued bytes (asyncio's `transport.abort()`). */
  readonly abort: Effect.Effect<void>
  /** `true` once `close` (or `abort`) was called. */
  isClosing(): boolean
  /**
   * Waits until the connection is closed (after `close`).
   *
   * **Errors**: the `BrokenResource` (or other send error) that kept queued
   * bytes from being sent.
   */
  readonly waitClosed: Effect.Effect<void, WriterError>
  /** Bytes written but not yet accepted by the stream (a snapshot). */
  getWriteBufferSize(): number
  /** Sets the watermarks. **Errors**: `InvalidArgument` unless `high >= low >= 0`. */
  setWriteBufferLimits(limits?: WriteBufferLimits): Effect.Effect<void, InvalidArgument>
  /**
   * Connection facts by asyncio's names: `"peername"` and `"sockname"`
   * (`SocketAddress`), `"socket"` (`{ fd, family, localAddress,
   * remoteAddress }`), `"fd"`, `"family"`; with TLS (`Tls.TlsInfo`, the
   * stream's `Tls.Info` attribute): `"ssl_object"`/`"tls"` (the whole `TlsInfo`),
   * `"peercert"` (the peer's certificate), `"cipher"`, `"alpn_protocol"`
   * (also `"selected_alpn_protocol"`), `"tls_version"`, `"server_hostname"`,
   * `"server_side"`, `"authorized"`. Any other name, like a fact that does
   * not apply, returns `defaultValue` (for other facts use the stream's
   * typed `attribute`). Returns `defaultValue` when absent (optional TLS
   * facts are unwrapped from their `Option`).
   */
  extraInfo(name: "peername" | "sockname"): SocketAddress.SocketAddress
  extraInfo(name: string, defaultValue?: unknown): unknown
}

/**
 * A server from {@link startServer} (asyncio's `Server`).
 *
 * @example
 * ```ts
 * import { Asyncio, MemoryNetwork, SocketAddress } from "@netfx/core"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function* () {
 *   const server: Asyncio.Server = yield* Asyncio.startServer((_reader, writer) => writer.write("hi\n"), "127.0.0.1")
 *   yield* Effect.log(`serving on ${server.sockets.map(SocketAddress.format).join(", ")}`)
 *   yield* server.close
 *   yield* server.waitClosed
 * }).pipe(Effect.scoped, Effect.provide(MemoryNetwork.layer()))
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Server {
  readonly listener: Listener
  /** The first bound address. */
  readonly address: SocketAddress.SocketAddress
  /** Every bound address (one per family for a dual-stack server). */
  readonly addresses: ReadonlyArray<SocketAddress.SocketAddress>
  /** asyncio's `server.sockets`: the bound addresses. */
  readonly sockets: ReadonlyArray<SocketAddress.SocketAddress>
  /**
   * Waits while the server serves; returns when it is closed (asyncio
   * raises `CancelledError` there instead). Serving starts when the server
   * is created, as with asyncio's default `start_serving=True`.
   */
  readonly serveForever: Effect.Effect<void>
  /**
   * Stops listening and ends every running connection handler (their
   * connections close). Does not wait; see `waitClosed`.
   */
  readonly close: Effect.Effect<void>
  /** Waits until the server stopped and every handler ended. */
  readonly waitClosed: Effect.Effect<void>
  isServing(): boolean
}

/**
 * Options of {@link openConnection}: the reader/writer options plus every
 * `Tcp.connect` option.
 *
 * @example
 * ```ts
 * import { Asyncio } from "@netfx/core"
 *
 * const options: Asyncio.OpenConnectionOptions = { limit: 8192, noDelay: true, tls: true }
 * const https = Asyncio.openConnection("example.com", 443, options)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface OpenConnectionOptions extends StreamOptions, Omit<Tcp.ConnectOptions, "host" | "port"> {}

/**
 * Options of {@link startServer}: the reader/writer options (for every
 * connection) plus every `Tcp.listen` option.
 *
 * @example
 * ```ts
 * import { Asyncio } from "@netfx/core"
 * import { Effect } from "effect"
 *
 * const options: Asyncio.StartServerOptions = { limit: 8192, backlog: 128, noDelay: true }
 * const server = Asyncio.startServer((_reader, writer) => writer.write("hello\n"), "0.0.0.0", 8888, options)
 * const main = Effect.flatMap(server, (s) => s.serveForever).pipe(Effect.scoped)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface StartServerOptions extends StreamOptions, Omit<Tcp.ListenOptions, "host" | "port"> {}

/**
 * The errors of {@link openConnection}: those of `Tcp.connect`
 * (`ConnectFailed`, `ResolveFailed`, `InvalidArgument`, `Unsupported`,
 * `TlsFailed` with `tls`).
 *
 * @example
 * ```ts
 * import { Asyncio } from "@netfx/core"
 * import { Effect } from "effect"
 *
 * const logFailure = (e: Asyncio.ConnectError) => Effect.logWarning(`cannot connect: ${e.message}`)
 * const attempt = Asyncio.openConnection("127.0.0.1", 8888).pipe(Effect.tapError(logFailure), Effect.scoped)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type ConnectError = Effect.Effect.Error<ReturnType<typeof Tcp.connect>> | InvalidArgument

/**
 * The errors of {@link startServer}: those of `Tcp.listen` (`ListenFailed`,
 * `ResolveFailed`, `InvalidArgument`, `Unsupported`).
 *
 * @example
 * ```ts
 * import { Asyncio } from "@netfx/core"
 * import { Effect } from "effect"
 *
 * const logFailure = (e: Asyncio.ListenError) => Effect.logError(`cannot listen: ${e.message}`)
 * const server = Asyncio.startServer((_reader, writer) => writer.close, "127.0.0.1", 8888).pipe(
 *   Effect.tapError(logFailure),
 * )
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type ListenError = Effect.Effect.Error<ReturnType<typeof Tcp.listen>> | InvalidArgument

/**
 * The handler {@link startServer} runs for each connection.
 *
 * @example
 * ```ts
 * import { Asyncio } from "@netfx/core"
 * import { Effect } from "effect"
 *
 * const shout: Asyncio.ClientConnected<unknown, never> = (reader, writer) =>
 *   Effect.flatMap(reader.readline(), (line) => writer.write(new TextDecoder().decode(line).toUpperCase()))
 * const server = Asyncio.startServer(shout, "127.0.0.1", 8888)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type ClientConnected<E, R> = (reader: StreamReader, writer: StreamWriter) => Effect.Effect<unknown, E, R>

/**
 * A reader/writer pair over an existing byte stream (any transport).
 *
 * **Resource**: forks the writer's flusher fiber into the current Scope;
 * closing the Scope interrupts it and closes `stream`.
 *
 * **Errors**: `InvalidArgument` for a bad `limit` or watermarks.
 *
 * **Interruption**: not applicable (it does not wait).
 *
 * @example
 * ```ts
 * import { Asyncio, SocketStream } from "@netfx/core"
 * import { Effect } from "effect"
 *
 * const pair = (conn: SocketStream.SocketStream) => Asyncio.fromStream(conn, { limit: 1024 })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromStream: (
  stream: SocketStream,
  options?: StreamOptions,
) => Effect.Effect<readonly [StreamReader, StreamWriter], InvalidArgument, Scope.Scope> = internal.fromStream

/**
 * Opens a TCP connection and returns a `[reader, writer]` pair
 * (asyncio's `open_connection`).
 *
 * **Resource**: the connection and the writer's flusher fiber belong to
 * the current Scope.
 *
 * **Errors**: those of `Tcp.connect` (`ConnectFailed`, `ResolveFailed`,
 * `InvalidArgument`, `Unsupported`); `InvalidArgument` for a bad `limit`.
 *
 * **Interruption**: as `Tcp.connect`: nothing leaks.
 *
 * @example
 * ```ts
 * import { Asyncio } from "@netfx/core"
 * import { NodeNetwork } from "@netfx/node"
 * import { Effect } from "effect"
 *
 * const tcpEchoClient = (message: string) =>
 *   Effect.gen(function* () {
 *     const [reader, writer] = yield* Asyncio.openConnection("127.0.0.1", 8888)
 *     yield* writer.write(message)
 *     const data = yield* reader.read(100)
 *     yield* writer.close
 *     yield* writer.waitClosed
 *     return new TextDecoder().decode(data)
 *   }).pipe(Effect.scoped, Effect.provide(NodeNetwork.layer))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const openConnection = (
  host: string,
  port: number,
  options: OpenConnectionOptions = {},
): Effect.Effect<readonly [StreamReader, StreamWriter], ConnectError, Scope.Scope | Network> => {
  const { limit, writeBufferLimits, ...connect } = options
  return Effect.flatMap(internal.validateLimit(limit ?? internal.DEFAULT_LIMIT), () =>
    Effect.flatMap(Tcp.connect({ ...connect, host, port }), (stream) =>
      internal.fromStream(stream, streamOptions(limit, writeBufferLimits)),
    ),
  )
}

const streamOptions = (limit: number | undefined, writeBufferLimits: WriteBufferLimits | undefined): StreamOptions => ({
  ...(limit === undefined ? {} : { limit }),
  ...(writeBufferLimits === undefined ? {} : { writeBufferLimits }),
})

/**
 * Listens on TCP and runs `handler(reader, writer)` for each connection in
 * its own fiber (asyncio's `start_server`). Serving starts at once.
 *
 * **Resource**: the listener, the serving fiber and every connection
 * belong to the current Scope. Each connection's writer is closed (queued
 * bytes flushed) when its handler returns or fails; a failing handler is
 * logged and affects only its own connection.
 *
 * **Errors**: those of `Tcp.listen` (`ListenFailed`, `ResolveFailed`,
 * `InvalidArgument`, `Unsupported`); `InvalidArgument` for a bad `limit`
 * or watermarks.
 *
 * **Interruption**: closing the Scope (or `server.close`) stops accepting
 * and interrupts every handler.
 *
 * @example
 * ```ts
 * import { Asyncio } from "@netfx/core"
 * import { NodeNetwork } from "@netfx/node"
 * import { Effect } from "effect"
 *
 * const handleEcho = (reader: Asyncio.StreamReader, writer: Asyncio.StreamWriter) =>
 *   Effect.gen(function* () {
 *     const data = yield* reader.read(100)
 *     yield* writer.write(data)
 *     yield* writer.drain
 *     yield* writer.close
 *   })
 *
 * const main = Effect.gen(function* () {
 *   const server = yield* Asyncio.startServer(handleEcho, "127.0.0.1", 8888)
 *   yield* server.serveForever
 * }).pipe(Effect.scoped, Effect.provide(NodeNetwork.layer))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const startServer = <E, R>(
  handler: ClientConnected<E, R>,
  host?: string,
  port = 0,
  options: StartServerOptions = {},
): Effect.Effect<Server, ListenError, Scope.Scope | Network | R> => {
  const { limit, writeBufferLimits, ...listen } = options
  return Effect.gen(function* () {
    yield* internal.validateLimit(limit ?? internal.DEFAULT_LIMIT)
    yield* internal.resolveLimits(writeBufferLimits)
    const listener = yield* Tcp.listen({ ...listen, ...(host === undefined ? {} : { host }), port })
    return yield* internal.makeServer(listener, handler, streamOptions(limit, writeBufferLimits))
  })
}

/**
 * Serves reader/writer pairs on any listener (TCP, Unix, TLS, memory).
 * The building block of {@link startServer}.
 *
 * **Resource**: as {@link startServer}; the listener stays the caller's.
 *
 * **Errors**: none; a failing handler is logged and closes only its own
 * connection.
 *
 * **Interruption**: closing the Scope (or `server.close`, which closes the
 * listener) stops accepting and interrupts every handler.
 *
 * @example
 * ```ts
 * import { Asyncio, Listener } from "@netfx/core"
 * import { Effect } from "effect"
 *
 * const serve = (listener: Listener.Listener) =>
 *   Asyncio.serveListener(listener, (reader, writer) => Effect.flatMap(reader.read(), (d) => writer.write(d)))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const serveListener: <E, R>(
  listener: Listener,
  handler: ClientConnected<E, R>,
  options?: StreamOptions,
) => Effect.Effect<Server, never, Scope.Scope | R> = internal.makeServer

/**
 * Options of {@link openUnixConnection}: the reader/writer options plus
 * every `Unix.connect` option.
 *
 * @example
 * ```ts
 * import { Asyncio } from "@netfx/core"
 *
 * const options: Asyncio.OpenUnixConnectionOptions = { limit: 4096, highWaterMark: 16384 }
 * const conn = Asyncio.openUnixConnection("/tmp/echo.sock", options)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface OpenUnixConnectionOptions extends StreamOptions, Omit<Unix.ConnectOptions, "path"> {}

/**
 * Options of {@link startUnixServer}: the reader/writer options plus every
 * `Unix.listen` option.
 *
 * @example
 * ```ts
 * import { Asyncio } from "@netfx/core"
 *
 * const options: Asyncio.StartUnixServerOptions = { mode: 0o600, backlog: 64, removeOnClose: true }
 * const server = Asyncio.startUnixServer((_reader, writer) => writer.write("hi\n"), "/tmp/app.sock", options)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface StartUnixServerOptions extends StreamOptions, Omit<Unix.ListenOptions, "path"> {}

/**
 * Connects to a Unix stream socket and returns a `[reader, writer]` pair
 * (asyncio's `open_unix_connection`). `path` is a filesystem path or a
 * `SocketAddress` (also Linux abstract names).
 *
 * **Resource**: the connection and the writer's flusher fiber belong to
 * the current Scope.
 *
 * **Errors**: those of `Unix.connect` (`ConnectFailed` with `ENOENT`,
 * `ECONNREFUSED`, ...; `InvalidArgument`; `Unsupported` where the runtime
 * has no Unix sockets); `InvalidArgument` for a bad `limit`.
 *
 * **Interruption**: as `Unix.connect`: nothing leaks.
 *
 * @example
 * ```ts
 * import { Asyncio } from "@netfx/core"
 * import { Effect } from "effect"
 *
 * const ask = Effect.gen(function* () {
 *   const [reader, writer] = yield* Asyncio.openUnixConnection("/tmp/echo.sock")
 *   yield* writer.write("ping\n")
 *   return yield* reader.readline()
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const openUnixConnection = (
  path: Unix.UnixAddressInput,
  options: OpenUnixConnectionOptions = {},
): Effect.Effect<
  readonly [StreamReader, StreamWriter],
  Effect.Effect.Error<ReturnType<typeof Unix.connect>> | InvalidArgument,
  Scope.Scope | Network
> => {
  const { limit, writeBufferLimits, ...connect } = options
  return Effect.flatMap(internal.validateLimit(limit ?? internal.DEFAULT_LIMIT), () =>
    Effect.flatMap(Unix.connect({ ...connect, path }), (stream) =>
      internal.fromStream(stream, streamOptions(limit, writeBufferLimits)),
    ),
  )
}

/**
 * Listens on a Unix stream socket and runs `handler(reader, writer)` for
 * each connection (asyncio's `start_unix_server`). Serving starts at once.
 *
 * **Resource**: as {@link startServer}; the socket file is removed when the
 * Scope closes (unless `removeOnClose: false`).
 *
 * **Errors**: those of `Unix.listen` (`ListenFailed` with `EADDRINUSE`,
 * `EACCES`, ...; `InvalidArgument`; `Unsupported`); `InvalidArgument` for
 * a bad `limit` or watermarks.
 *
 * **Interruption**: closing the Scope (or `server.close`) stops accepting
 * and interrupts every handler.
 *
 * @example
 * ```ts
 * import { Asyncio } from "@netfx/core"
 * import { Effect } from "effect"
 *
 * const echo = Effect.gen(function* () {
 *   const server = yield* Asyncio.startUnixServer(
 *     (reader, writer) => Effect.flatMap(reader.readline(), (line) => writer.write(line)),
 *     "/tmp/echo.sock",
 *   )
 *   yield* server.serveForever
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const startUnixServer = <E, R>(
  handler: ClientConnected<E, R>,
  path: Unix.UnixAddressInput,
  options: StartUnixServerOptions = {},
): Effect.Effect<
  Server,
  Effect.Effect.Error<ReturnType<typeof Unix.listen>> | InvalidArgument,
  Scope.Scope | Network | R
> => {
  const { limit, writeBufferLimits, ...listen } = options
  return Effect.gen(function* () {
    yield* internal.validateLimit(limit ?? internal.DEFAULT_LIMIT)
    yield* internal.resolveLimits(writeBufferLimits)
    const listener = yield* Unix.listen({ ...listen, path })
    return yield* internal.makeServer(listener, handler, streamOptions(limit, writeBufferLimits))
  })
}
