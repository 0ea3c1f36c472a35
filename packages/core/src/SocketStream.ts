/**
 * The byte-stream interface shared by TCP, TLS, Unix stream sockets and the
 * in-memory network, and its Stream / Sink views.
 *
 * Reading is a pull: `receive(maxBytes)` returns the bytes that are there
 * (never an empty chunk) or waits for some. The platform socket reads ahead
 * at most one high-water mark (64 KiB by default) while nobody receives, so
 * a slow consumer holds back the sender through TCP flow control instead of
 * growing memory. End of stream is the typed error `EndOfStream`.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Sink from "effect/Sink"
import * as Stream from "effect/Stream"
import type * as Attribute from "./Attribute.ts"
import type { RawConnection } from "./Driver.ts"
import { acquireSync } from "./internal/scoped.ts"
import { SocketStreamImpl } from "./internal/socketStream.ts"
import { TypeId } from "./internal/typeId.ts"
import type { BrokenResource, ClosedResource, EndOfStream, ReceiveError, SendError } from "./NetError.ts"
import type * as SocketAddress from "./SocketAddress.ts"

export {
  /**
   * @since 0.1.0
   * @category type ids
   */
  TypeId,
}

/**
 * A connected, bidirectional byte stream.
 *
 * **Resource**: acquired by `Tcp.connect`, `Unix.connect`, `Listener.accept`
 * and friends into the caller's `Scope`; closing that Scope closes the
 * socket. `close` does the same at once and is idempotent.
 *
 * **Errors**: see each member. All are from the netfx vocabulary.
 *
 * **Interruption**: see each member; in short, interrupting `receive` loses
 * no byte and interrupting `send` either wrote all of its bytes or none.
 *
 * @example
 * ```ts
 * import { Tcp } from "@netfx/core"
 * import { Effect } from "effect"
 *
 * const hello = Effect.gen(function* () {
 *   const conn = yield* Tcp.connect({ host: "127.0.0.1", port: 7 })
 *   yield* conn.send(new TextEncoder().encode("hi\n"))
 *   return yield* conn.receive(1024)
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface SocketStream extends Attribute.HasAttributes {
  readonly [TypeId]: typeof TypeId
  /** The local end's address. */
  readonly localAddress: SocketAddress.SocketAddress
  /** The peer's address. */
  readonly remoteAddress: SocketAddress.SocketAddress
  /** `"ipv4"`, `"ipv6"` or `"unix"`. */
  readonly family: SocketAddress.Family
  /** The OS descriptor, where the runtime exposes one (`undefined` on Bun and in memory). */
  readonly fd: number | undefined
  /**
   * A typed fact about this connection, or `None` when it does not apply:
   * `Attribute.LocalPort`, `Attribute.Fd`, `Tls.PeerCertificate`,
   * `Tls.AlpnProtocol`, `NodeNetwork.NativeSocket`, ... (AnyIO's
   * `extra(attribute)`). Synchronous; costs nothing until asked.
   */
  attribute<A>(key: Attribute.Attribute<A>): Option.Option<A>
  /**
   * Receives between 1 and `maxBytes` bytes (default 65536): what is buffered
   * now, or the next bytes to arrive.
   *
   * **Errors**: `EndOfStream` once the peer finished and every byte was
   * returned; `ClosedResource` after a local `close` (also wakes a pending
   * receive); `BrokenResource` when the connection broke (bytes received
   * before it are returned first); `BusyResource` when another fiber is
   * already receiving; `InvalidArgument` when `maxBytes` is not an integer
   * >= 1.
   *
   * **Interruption**: loses no data. Bytes not yet returned stay buffered for
   * the next call. An interrupted receive counts as in progress for other
   * fibers until its fiber has finished (`Fiber.interrupt`, races and
   * timeouts wait for that); the interrupted fiber itself, in a finalizer,
   * may receive at once.
   */
  receive(maxBytes?: number): Effect.Effect<Uint8Array, ReceiveError>
  /**
   * Sends all of `data`: one buffer, or several in order as one write
   * (vectored: `writev` where the runtime has it, so a header and a body
   * leave in one segment without copying them together first). Completes
   * once the runtime accepted the bytes (they may still be in flight); when
   * the runtime's write buffer is full the *next* send waits for it to
   * drain, which is how a slow peer slows the sender. Do not mutate `data`
   * after sending it: the runtime may still hold it.
   *
   * **Errors**: `ClosedResource` after `close` or `sendEof`;
   * `BrokenResource` when the connection broke; `BusyResource` when another
   * fiber's send is waiting; `InvalidArgument` (nothing sent) when `data` is
   * no bytes, which only JavaScript callers can pass (a string, `null`).
   *
   * **Interruption**: an interrupted send either handed all its bytes to
   * the runtime or none of them (it is interruptible only while waiting for
   * drain, before it writes), so the stream stays usable. This is stronger
   * than BSD `send`, where a partial write cannot be undone.
   */
  send(data: Uint8Array | ReadonlyArray<Uint8Array>): Effect.Effect<void, SendError>
  /**
   * Half-closes the sending side: the peer reads `EndOfStream` after the
   * bytes already sent, and can still reply. Idempotent.
   *
   * **Errors**: `ClosedResource` after `close`; `BrokenResource` when the
   * connection broke. **Interruption**: not interruptible (it does not wait).
   */
  readonly sendEof: Effect.Effect<void, ClosedResource | BrokenResource>
  /**
   * Closes the socket now. Idempotent. Bytes already accepted by `send`
   * are still flushed by the runtime; unread received bytes are dropped. A
   * pending `receive` or `send` in another fiber fails with
   * `ClosedResource`.
   */
  readonly close: Effect.Effect<void>
}

/**
 * Options for {@link make}.
 *
 * @example
 * ```ts
 * import { SocketStream } from "@netfx/core"
 * import type * as Driver from "@netfx/core/Driver"
 *
 * const options: SocketStream.SocketStreamOptions = { highWaterMark: 16 * 1024 }
 * const adopt = (raw: Driver.RawConnection) => SocketStream.makeScoped(raw, options)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface SocketStreamOptions {
  /** Read-ahead bound in bytes while nobody receives. Default 65536. */
  readonly highWaterMark?: number
}

/**
 * True for the byte streams {@link make} builds (every connection netfx
 * hands out); false for anything else, look-alike objects included.
 *
 * @example
 * ```ts
 * import { SocketStream } from "@netfx/core"
 * import * as assert from "node:assert"
 *
 * assert.strictEqual(SocketStream.isSocketStream({ receive: () => undefined }), false)
 * assert.strictEqual(SocketStream.isSocketStream(null), false)
 * ```
 *
 * @since 0.1.0
 * @category guards
 */
export const isSocketStream = (u: unknown): u is SocketStream => typeof u === "object" && u !== null && TypeId in u

/**
 * Wraps a runtime's {@link RawConnection} into the netfx byte stream. For
 * runtime adapters and transports; the stream is not attached to a Scope
 * (use {@link makeScoped}).
 *
 * @example
 * ```ts
 * import { SocketStream } from "@netfx/core"
 * // const stream = SocketStream.make(rawConnectionFromMyRuntime)
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (raw: RawConnection, options?: SocketStreamOptions): SocketStream =>
  new SocketStreamImpl(raw, options)

/**
 * Wraps a {@link RawConnection} and closes it when the Scope closes.
 *
 * **Resource**: the stream is closed when the current Scope closes.
 *
 * **Errors**: none.
 *
 * **Interruption**: acquiring is uninterruptible: either the stream is
 * made and its `close` registered in the Scope, or nothing happened.
 *
 * @example
 * ```ts
 * import { SocketStream } from "@netfx/core"
 * import type * as Driver from "@netfx/core/Driver"
 * import { Effect } from "effect"
 *
 * // in a runtime adapter: the connection closes with the caller's Scope
 * const adopt = (raw: Driver.RawConnection) =>
 *   Effect.map(SocketStream.makeScoped(raw, { highWaterMark: 16384 }), (stream) => stream.remoteAddress)
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeScoped = (
  raw: RawConnection,
  options?: SocketStreamOptions,
): Effect.Effect<SocketStream, never, Scope.Scope> => acquireSync(() => new SocketStreamImpl(raw, options), closeStream)

/** Module-level, so the registered release keeps no closure of `makeScoped` (nor its `raw`) alive. */
const closeStream = (stream: SocketStreamImpl): void => stream.closeNow()

/**
 * The bytes of a stream as an Effect `Stream` of chunks. Ends normally at
 * `EndOfStream`; other errors fail the Stream.
 *
 * **Resource**: a view: running the Stream opens nothing, and its end (or
 * failure, or interruption) leaves `self` open; close it (or its Scope)
 * yourself.
 *
 * **Interruption**: interrupting the consumer loses no byte that was not
 * yet emitted (they stay buffered in the socket stream).
 *
 * @example
 * ```ts
 * import { SocketStream } from "@netfx/core"
 * import { Effect, Stream } from "effect"
 *
 * const readAll = (conn: SocketStream.SocketStream) =>
 *   SocketStream.toStream(conn).pipe(Stream.runCollect)
 * ```
 *
 * @since 0.1.0
 * @category views
 */
export const toStream = (
  self: SocketStream,
  maxBytes?: number,
): Stream.Stream<Uint8Array, Exclude<ReceiveError, EndOfStream>> =>
  Stream.repeatEffectOption(
    Effect.mapError(self.receive(maxBytes), (e) => (e._tag === "EndOfStream" ? Option.none() : Option.some(e))),
  ) as Stream.Stream<Uint8Array, Exclude<ReceiveError, EndOfStream>>

/**
 * A Sink that sends every chunk it is fed. With `endOnDone` (default true)
 * it half-closes the stream (`sendEof`) when the upstream finishes.
 *
 * @example
 * ```ts
 * import { SocketStream } from "@netfx/core"
 * import { Stream } from "effect"
 *
 * const upload = (conn: SocketStream.SocketStream) =>
 *   Stream.make(new Uint8Array([1, 2, 3])).pipe(Stream.run(SocketStream.toSink(conn)))
 * ```
 *
 * @since 0.1.0
 * @category views
 */
export const toSink = (
  self: SocketStream,
  options?: { readonly endOnDone?: boolean },
): Sink.Sink<void, Uint8Array, never, SendError> => {
  const sink = Sink.forEach((chunk: Uint8Array) => self.send(chunk))
  return options?.endOnDone === false ? sink : Sink.mapEffect(sink, () => self.sendEof)
}

/**
 * Copies everything `from` receives to `to` until `from` ends, then
 * half-closes `to`. Returns the number of bytes copied.
 *
 * **Resource**: opens and closes nothing; both streams stay open (only `to`
 * is half-closed, with `sendEof`, once `from` ended). Reads follow `to`'s
 * pace: one chunk is in flight at a time, so a slow `to` slows `from`'s
 * sender through flow control.
 *
 * **Errors**: the first error of `from.receive` other than `EndOfStream`
 * (`BrokenResource`, `ClosedResource`, `BusyResource`), or of `to.send` /
 * `to.sendEof` (`BrokenResource`, `ClosedResource`).
 *
 * **Interruption**: stops the copy. Bytes not yet received stay buffered in
 * `from`; a chunk already received whose `send` was interrupted is dropped
 * (a `send` writes all of its bytes or none); `to` is not half-closed.
 *
 * @example
 * ```ts
 * import { MemoryNetwork, SocketStream, Tcp } from "@netfx/core"
 * import { Effect } from "effect"
 * import * as assert from "node:assert"
 *
 * // an echo server: each connection copies what it receives back to itself
 * const program = Effect.gen(function* () {
 *   const listener = yield* Tcp.listen({ host: "10.0.0.7", port: 7 })
 *   yield* Effect.forkScoped(listener.serve((conn) => SocketStream.pipe(conn, conn)))
 *   const conn = yield* Tcp.connect({ host: "10.0.0.7", port: 7 })
 *   yield* conn.send(new TextEncoder().encode("ping"))
 *   assert.strictEqual(new TextDecoder().decode(yield* conn.receive()), "ping")
 * }).pipe(Effect.scoped, Effect.provide(MemoryNetwork.layer()))
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const pipe = (
  from: SocketStream,
  to: SocketStream,
): Effect.Effect<number, Exclude<ReceiveError, EndOfStream> | SendError> =>
  Effect.suspend(() => {
    let total = 0
    // EndOfStream is caught once around the loop, not per chunk: `yield*` of
    // a bare receive completes in the generator step when bytes are buffered
    // (no combinator built per chunk). Only `from.receive` can fail with
    // EndOfStream (`SendError` has none), so the catch sees nothing else.
    const copy: Effect.Effect<never, ReceiveError | SendError> = Effect.gen(function* () {
      while (true) {
        const chunk = yield* from.receive()
        total += chunk.length
        yield* to.send(chunk)
      }
    })
    return Effect.catchTag(copy, "EndOfStream", () => Effect.as(to.sendEof, total))
  })
