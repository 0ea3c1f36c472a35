/**
 * The contract between netfx's platform-free core and a runtime (Node, Bun,
 * the in-memory network). A runtime adapts its native socket to
 * {@link RawConnection} / {@link RawListener}; core turns those into the
 * Effect-level {@link SocketStream.SocketStream} and {@link Listener.Listener}
 * with every contract (pull reads, bounded read-ahead, backpressured
 * writes, typed errors, interruption safety) implemented once.
 *
 * Users do not need this module unless they write a new transport.
 *
 * @since 0.1.0
 */
import type { BrokenResource } from "./NetError.ts"
import type * as SocketAddress from "./SocketAddress.ts"

/**
 * Callbacks core installs on a {@link RawConnection} with `start`. A
 * runtime calls them from its own event callbacks; they never throw.
 *
 * @example
 * ```ts
 * import type { Driver } from "@netfx/core"
 * // socket.on("data", (chunk) => handlers.onData(chunk))
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface ConnectionHandlers {
  /** Bytes arrived. The array is owned by core from now on. Never empty. */
  onData(chunk: Uint8Array): void
  /** The peer half-closed (FIN / EOF). */
  onEnd(): void
  /** The connection broke (reset, EPIPE, TLS failure, ...). */
  onError(error: BrokenResource): void
  /** The platform's write buffer drained below its mark after `write` returned false. */
  onDrain(): void
  /** The descriptor is gone (closed by either side, after end or error). */
  onClose(): void
}

/**
 * A connected byte-stream socket as a runtime exposes it.
 *
 * Rules for implementers:
 * - No event is delivered before `start`; events that happen earlier are
 *   held (Node: `pauseOnConnect`/paused socket) and delivered after it.
 * - `pause`/`resume` stop and restart reading from the kernel; core calls
 *   them to bound read-ahead.
 * - `write` takes ownership of the whole array (buffering what the kernel
 *   did not take) and returns `false` when the caller should wait for
 *   `onDrain` before writing more. `writev` (optional) does the same for
 *   several arrays in one system call where the runtime can.
 * - `shutdown` half-closes the writing side after pending writes are
 *   flushed (a real `shutdown(SHUT_WR)`, never a full close).
 * - `close` releases the descriptor; it is idempotent and must not throw.
 *   `unread` is true when received bytes were dropped unread: a layered
 *   protocol (TLS) then aborts instead of closing cleanly, as TCP resets.
 *
 * @example
 * ```ts
 * import { Driver, SocketStream, SocketAddress } from "@netfx/core"
 *
 * // the smallest RawConnection: a loopback that echoes what is written
 * const echo = (): Driver.RawConnection => {
 *   let h: Driver.ConnectionHandlers | undefined
 *   return {
 *     localAddress: SocketAddress.unixPath(""),
 *     remoteAddress: SocketAddress.unixPath(""),
 *     fd: undefined,
 *     extra: {},
 *     start: (handlers) => { h = handlers },
 *     pause: () => {},
 *     resume: () => {},
 *     write: (data) => { h?.onData(data.slice()); return true },
 *     shutdown: () => h?.onEnd(),
 *     close: () => h?.onClose(),
 *   }
 * }
 * const stream = SocketStream.make(echo())
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface RawConnection {
  readonly localAddress: SocketAddress.SocketAddress
  readonly remoteAddress: SocketAddress.SocketAddress
  /** The OS descriptor where the runtime exposes one. */
  readonly fd: number | undefined
  /** Runtime-specific facts (TLS session facts, socket facts) by name; read by `Attribute` keys. */
  readonly extra: Readonly<Record<string, unknown>>
  /** The runtime's own socket object, for `Attribute.NativeHandle` (omit when there is none). */
  readonly handle?: unknown
  start(handlers: ConnectionHandlers): void
  pause(): void
  resume(): void
  write(data: Uint8Array): boolean
  /**
   * Writes several arrays in order as one write (`writev`), taking
   * ownership of them; same return value as `write`. Optional: without it
   * core concatenates and calls `write` once.
   */
  writev?(chunks: ReadonlyArray<Uint8Array>): boolean
  shutdown(): void
  close(unread?: boolean): void
}

/**
 * Callbacks core installs on a {@link RawListener} with `start`.
 *
 * @example
 * ```ts
 * import type { Driver } from "@netfx/core"
 * // server.on("connection", (socket) => handlers.onConnection(adapt(socket)))
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface ListenerHandlers {
  /** A connection was accepted. It must not deliver data before its own `start`. */
  onConnection(connection: RawConnection): void
  /**
   * Accepting failed (EMFILE, ENFILE, ...); the listener keeps listening.
   * `retryInMillis`: the runtime stopped accepting and tries again after
   * this long (backing off while descriptors are exhausted).
   */
  onError(error: {
    readonly code: string
    readonly syscall?: string | undefined
    readonly cause: unknown
    readonly retryInMillis?: number | undefined
  }): void
}

/**
 * A listening socket as a runtime exposes it. Accepted connections go to
 * `onConnection` only after `start`; `close` stops listening and is
 * idempotent. Core wraps raw listeners with `Listener.make`.
 *
 * @example
 * ```ts
 * import { Listener } from "@netfx/core"
 * // const listener = yield* Listener.make([raw])  // raw: Driver.RawListener
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface RawListener {
  readonly address: SocketAddress.SocketAddress
  readonly fd: number | undefined
  start(handlers: ListenerHandlers): void
  close(): void
}

/**
 * Backs a runtime listener off while the process is out of descriptors
 * (see `internal/acceptGuard.ts`). For runtime adapters.
 *
 * @internal
 */
export { guardListener } from "./internal/acceptGuard.ts"
