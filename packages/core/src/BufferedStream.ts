/**
 * Buffered reads over any byte stream (TCP, Unix, TLS, in memory): read
 * exactly `n` bytes, read up to a delimiter, read lines, and push bytes back
 * for protocol parsers. AnyIO's `BufferedByteReceiveStream`, done the Effect
 * way.
 *
 * Every operation is interruption-safe: bytes enter the buffer in the same
 * step as the underlying `receive` completes and leave it only synchronously,
 * once all the bytes an operation needs are present. An interrupted
 * `receiveExactly` or `receiveUntil` leaves what it read buffered for the
 * next call.
 *
 * @since 0.1.0
 */
import type * as Effect from "effect/Effect"
import type * as Stream from "effect/Stream"
import { BufferedStreamImpl, BufferedStreamTypeId } from "./internal/bufferedStream.ts"
import type {
  BrokenResource,
  BusyResource,
  ClosedResource,
  EndOfStream,
  IncompleteRead,
  InvalidArgument,
  LimitExceeded,
  ReceiveError as NetReceiveError,
} from "./NetError.ts"
import type { SocketStream } from "./SocketStream.ts"

export {
  /**
   * @since 0.1.0
   * @category type ids
   */
  BufferedStreamTypeId as TypeId,
}

/**
 * The errors of a delimiter search (`receiveUntil`, `receiveLine`).
 *
 * @example
 * ```ts
 * import { BufferedStream } from "@netfx/core"
 * import { Effect } from "effect"
 *
 * // at end of stream, keep the unterminated rest instead of failing
 * const record = (buffered: BufferedStream.BufferedStream) =>
 *   buffered.receiveUntil("\0", 4096).pipe(Effect.catchTag("IncompleteRead", (e) => Effect.succeed(e.partial)))
 * const isTooLong = (e: BufferedStream.UntilError) => e._tag === "LimitExceeded"
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type UntilError = IncompleteRead | LimitExceeded | Exclude<NetReceiveError, EndOfStream>

/**
 * Every error a buffered read can fail with, as one union: the underlying
 * stream's (`EndOfStream`, `ClosedResource`, `BrokenResource`,
 * `BusyResource`, `InvalidArgument`) plus `IncompleteRead` and
 * `LimitExceeded`. Each member's own signature is narrower; use this for a
 * parser that runs several kinds of reads.
 *
 * @example
 * ```ts
 * import { BufferedStream } from "@netfx/core"
 * import { Effect } from "effect"
 *
 * // a header block: lines up to an empty one, then a fixed-size body
 * const message = (
 *   buffered: BufferedStream.BufferedStream,
 * ): Effect.Effect<Uint8Array, BufferedStream.ReceiveError> =>
 *   Effect.gen(function* () {
 *     while ((yield* buffered.receiveLine({ delimiter: "\r\n", maxLength: 8192 })).length > 0) {}
 *     return yield* buffered.receiveExactly(16)
 *   })
 * ```
 *
 * @since 0.2.0
 * @category models
 */
export type ReceiveError = NetReceiveError | IncompleteRead | LimitExceeded

/**
 * Options of {@link BufferedStream.receiveLine} and {@link BufferedStream.lines}.
 *
 * @example
 * ```ts
 * import { BufferedStream, SocketStream } from "@netfx/core"
 *
 * const crlf: BufferedStream.ReceiveLineOptions = { delimiter: "\r\n", maxLength: 8192 }
 * const headerLines = (conn: SocketStream.SocketStream) => BufferedStream.make(conn).lines(crlf)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface ReceiveLineOptions {
  /** Longest line accepted, without its delimiter (default 65536 bytes). */
  readonly maxLength?: number
  /** The line delimiter (default `"\n"`); it is not part of the line returned. */
  readonly delimiter?: Uint8Array | string
}

/**
 * A byte stream with a read buffer in front of it.
 *
 * One reader at a time: a second fiber reading while an operation waits
 * fails with `BusyResource` (as the underlying stream does). Writing goes
 * to `stream` directly.
 *
 * **Resource**: holds no resource of its own; the underlying `stream`
 * belongs to whoever opened it. The buffer holds at most what the current
 * operation needs plus one received chunk (64 KiB): `maxBytes` plus the
 * delimiter for a delimiter search, `n` for `receiveExactly`. An emptied
 * buffer above 256 KiB is released.
 *
 * **Interruption**: every operation loses no byte when interrupted; see
 * the module docs.
 *
 * @example
 * ```ts
 * import { BufferedStream, Tcp } from "@netfx/core"
 * import { Effect } from "effect"
 *
 * const readHeader = Effect.gen(function* () {
 *   const conn = yield* Tcp.connect({ host: "127.0.0.1", port: 8080 })
 *   const buffered = BufferedStream.make(conn)
 *   const statusLine = yield* buffered.receiveLine({ maxLength: 8192, delimiter: "\r\n" })
 *   const length = yield* buffered.receiveExactly(4)
 *   return { statusLine, length }
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface BufferedStream {
  readonly [BufferedStreamTypeId]: typeof BufferedStreamTypeId
  /** The wrapped byte stream (send through it; do not `receive` from it directly). */
  readonly stream: SocketStream
  /** Bytes buffered now (received or pushed back, not yet returned). */
  readonly buffered: number
  /**
   * `true` once the stream ended and every buffered byte was returned: an
   * end the stream already received counts before any receive saw it (as
   * asyncio's `at_eof()`), so `while (!atEof)` loops stop without one more
   * read. A snapshot: `false` can turn `true` when the end arrives.
   */
  readonly atEof: boolean
  /**
   * Returns between 1 and `maxBytes` bytes (default 65536): buffered bytes
   * first, otherwise the next chunk from the stream.
   *
   * **Errors**: `EndOfStream` once the stream ended and the buffer is
   * empty; the underlying stream's errors otherwise.
   *
   * **Interruption**: loses no byte.
   */
  receive(maxBytes?: number): Effect.Effect<Uint8Array, NetReceiveError>
  /**
   * Returns exactly `n` bytes.
   *
   * **Errors**: `IncompleteRead` (with `partial` and `expected`) when the
   * stream ends first; the partial bytes stay buffered, so a caller asking
   * again (for fewer bytes, or with `receive`) gets them. `InvalidArgument`
   * for a negative or fractional `n`.
   *
   * **Interruption**: loses no byte; what was read stays buffered.
   */
  receiveExactly(n: number): Effect.Effect<Uint8Array, IncompleteRead | Exclude<NetReceiveError, EndOfStream>>
  /**
   * Returns the bytes before the next `delimiter` and consumes the
   * delimiter too (it is not returned). The delimiter must start within the
   * first `maxBytes` bytes, i.e. the result is at most `maxBytes` long;
   * bytes further on are never searched, so the outcome does not depend on
   * how the bytes arrived.
   *
   * **Errors**: `LimitExceeded` when no delimiter starts within `maxBytes`
   * bytes — the data stays buffered and can still be read;
   * `IncompleteRead` (with `partial`) when the stream ends first — the
   * bytes stay buffered too; `InvalidArgument` for an empty delimiter or a
   * negative `maxBytes`.
   *
   * **Interruption**: loses no byte.
   */
  receiveUntil(
    delimiter: Uint8Array | string,
    maxBytes: number,
  ): Effect.Effect<Uint8Array, UntilError | InvalidArgument | BusyResource>
  /**
   * `receiveUntil(delimiter, maxLength)` with the defaults `"\n"` and
   * 65536: one line without its delimiter. Same errors and interruption
   * guarantees.
   */
  receiveLine(options?: ReceiveLineOptions): Effect.Effect<Uint8Array, UntilError | InvalidArgument | BusyResource>
  /**
   * The remaining lines (without delimiters) as a Stream. It ends at end of
   * stream; a last line without a delimiter is emitted as it is. A line
   * longer than `maxLength` fails the Stream with `LimitExceeded` (the data
   * stays buffered).
   *
   * **Interruption**: interrupting the consumer loses no line not yet
   * emitted.
   */
  lines(
    options?: ReceiveLineOptions,
  ): Stream.Stream<Uint8Array, LimitExceeded | InvalidArgument | ClosedResource | BrokenResource | BusyResource>
  /**
   * Pushes bytes back in front of the buffer: the next read returns them
   * first. For parsers that read too far. Call it between reads.
   */
  unread(bytes: Uint8Array | string): Effect.Effect<void>
  /**
   * Appends bytes at the end of the buffer (after what is buffered, before
   * what the stream delivers next). Call it between reads.
   */
  feed(bytes: Uint8Array | string): Effect.Effect<void>
}

/**
 * Whether a value is a {@link BufferedStream}.
 *
 * @example
 * ```ts
 * import { BufferedStream, SocketStream } from "@netfx/core"
 * import * as assert from "node:assert"
 *
 * assert.strictEqual(BufferedStream.isBufferedStream({}), false)
 * const buffer = (u: BufferedStream.BufferedStream | SocketStream.SocketStream) =>
 *   BufferedStream.isBufferedStream(u) ? u : BufferedStream.make(u)
 * ```
 *
 * @since 0.1.0
 * @category guards
 */
export const isBufferedStream = (u: unknown): u is BufferedStream =>
  typeof u === "object" && u !== null && BufferedStreamTypeId in u

/**
 * Puts a read buffer in front of a byte stream.
 *
 * **Resource**: none; the buffer lives as long as the value. Only read
 * through the buffered stream from now on, or bytes it buffered are
 * skipped.
 *
 * **Errors**: none here; see the members.
 *
 * **Interruption**: not applicable (synchronous).
 *
 * @example
 * ```ts
 * import { BufferedStream, SocketStream } from "@netfx/core"
 * import { Effect } from "effect"
 *
 * const firstLine = (conn: SocketStream.SocketStream) =>
 *   BufferedStream.make(conn).receiveLine({ maxLength: 1024 }).pipe(
 *     Effect.map((line) => new TextDecoder().decode(line)),
 *   )
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (stream: SocketStream): BufferedStream => new BufferedStreamImpl(stream)
