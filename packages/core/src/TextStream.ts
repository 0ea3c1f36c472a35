/**
 * Text over byte streams: decode received bytes and encode sent text with a
 * chosen encoding. A multi-byte character split across chunks comes out
 * whole (the decoder holds the incomplete bytes until the rest arrives).
 * AnyIO's `TextReceiveStream` / `TextSendStream` / `TextStream`, plus
 * Stream pipelines for any `Stream<Uint8Array>`.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Sink from "effect/Sink"
import * as Stream from "effect/Stream"
import * as internal from "./internal/textStream.ts"
import type {
  BrokenResource,
  ClosedResource,
  EndOfStream,
  InvalidArgument,
  ReceiveError,
  SendError,
} from "./NetError.ts"
import type { SocketStream } from "./SocketStream.ts"

const TypeId: typeof internal.TextStreamTypeId = internal.TextStreamTypeId

export {
  /**
   * @since 0.1.0
   * @category type ids
   */
  TypeId,
}

/**
 * Options of {@link make} and {@link decode}.
 *
 * @example
 * ```ts
 * import { TextStream } from "@netfx/core"
 * import { Effect, Stream } from "effect"
 * import * as assert from "node:assert"
 *
 * const options: TextStream.TextStreamOptions = { encoding: "utf-16le", fatal: true }
 * const text = TextStream.decode(Stream.make(new Uint8Array([0x68, 0x00, 0x69, 0x00])), options)
 * assert.strictEqual(Effect.runSync(Stream.mkString(text)), "hi")
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface TextStreamOptions {
  /**
   * The encoding (default `"utf-8"`). Decoding accepts every WHATWG
   * encoding label (`TextDecoder`); encoding supports `utf-8`, `utf-16le`
   * and `utf-16be`.
   */
  readonly encoding?: string
  /**
   * Malformed input: `false` (default) decodes it as U+FFFD, `true` fails
   * with `InvalidArgument` (argument `"data"`).
   */
  readonly fatal?: boolean
}

/**
 * A byte stream seen as text.
 *
 * **Resource**: none of its own; the underlying stream belongs to whoever
 * opened it.
 *
 * @example
 * ```ts
 * import { TextStream, Tcp } from "@netfx/core"
 * import { Effect } from "effect"
 *
 * const greet = Effect.gen(function* () {
 *   const conn = yield* Tcp.connect({ host: "127.0.0.1", port: 1234 })
 *   const text = yield* TextStream.make(conn)
 *   yield* text.send("héllo\n")
 *   return yield* text.receive()
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface TextStream {
  readonly [internal.TextStreamTypeId]: typeof internal.TextStreamTypeId
  readonly stream: SocketStream
  readonly encoding: string
  /**
   * Receives at most `maxBytes` bytes (default 65536) and returns them
   * decoded; never an empty string. Bytes of a character not yet complete
   * are held until the rest arrives.
   *
   * **Errors**: `EndOfStream` at the end (a trailing incomplete character
   * is first returned as U+FFFD, or fails with `InvalidArgument` when
   * `fatal`); the underlying stream's errors.
   *
   * **Interruption**: loses no byte (the underlying receive does not, and
   * decoding is synchronous).
   */
  receive(maxBytes?: number): Effect.Effect<string, ReceiveError>
  /**
   * Encodes and sends `text`. **Errors** and **Interruption**: as the
   * underlying `send`.
   */
  send(text: string): Effect.Effect<void, SendError>
  /** Half-closes the sending side (the underlying `sendEof`). */
  readonly sendEof: Effect.Effect<void, ClosedResource | BrokenResource>
}

/**
 * Views a byte stream as text.
 *
 * **Resource**: none.
 *
 * **Errors**: `InvalidArgument` for an encoding that cannot be decoded or
 * encoded.
 *
 * **Interruption**: not applicable (it does not wait).
 *
 * @example
 * ```ts
 * import { SocketStream, TextStream } from "@netfx/core"
 *
 * const asText = (conn: SocketStream.SocketStream) => TextStream.make(conn, { encoding: "utf-8" })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (stream: SocketStream, options?: TextStreamOptions) => Effect.Effect<TextStream, InvalidArgument> =
  internal.make

/**
 * Decodes a Stream of byte chunks into a Stream of strings (no empty
 * strings). Characters split across chunks come out whole; the decoder is
 * created fresh for each run of the Stream.
 *
 * **Errors**: the upstream's errors; `InvalidArgument` for an unknown
 * encoding, or malformed bytes when `fatal`.
 *
 * @example
 * ```ts
 * import { TextStream } from "@netfx/core"
 * import { Chunk, Effect, Stream } from "effect"
 * import * as assert from "node:assert"
 *
 * const euro = new TextEncoder().encode("€") // 3 bytes
 * const text = Stream.make(euro.subarray(0, 1), euro.subarray(1)).pipe(TextStream.decode, Stream.runCollect)
 * assert.deepStrictEqual(Chunk.toArray(Effect.runSync(text)), ["€"])
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const decode: <E, R>(
  self: Stream.Stream<Uint8Array, E, R>,
  options?: TextStreamOptions,
) => Stream.Stream<string, E | InvalidArgument, R> = internal.decode

/**
 * Encodes a Stream of strings into byte chunks (`utf-8` by default; also
 * `utf-16le`, `utf-16be`).
 *
 * **Errors**: the upstream's errors; `InvalidArgument` for an encoding
 * netfx cannot encode.
 *
 * @example
 * ```ts
 * import { TextStream } from "@netfx/core"
 * import { Stream } from "effect"
 *
 * const bytes = Stream.make("a", "é").pipe((s) => TextStream.encode(s))
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const encode: <E, R>(
  self: Stream.Stream<string, E, R>,
  encoding?: string,
) => Stream.Stream<Uint8Array, E | InvalidArgument, R> = internal.encode

/**
 * The decoded text of a text stream as a Stream; ends normally at
 * `EndOfStream`.
 *
 * **Interruption**: interrupting the consumer loses no byte not yet
 * received.
 *
 * @example
 * ```ts
 * import { TextStream } from "@netfx/core"
 * import { Stream } from "effect"
 *
 * const all = (t: TextStream.TextStream) => TextStream.toStream(t).pipe(Stream.mkString)
 * ```
 *
 * @since 0.1.0
 * @category views
 */
export const toStream = (
  self: TextStream,
  maxBytes?: number,
): Stream.Stream<string, Exclude<ReceiveError, EndOfStream>> =>
  Stream.repeatEffectOption(
    Effect.mapError(self.receive(maxBytes), (e) => (e._tag === "EndOfStream" ? Option.none() : Option.some(e))),
  ) as Stream.Stream<string, Exclude<ReceiveError, EndOfStream>>

/**
 * A Sink that encodes and sends every string it is fed. With `endOnDone`
 * (default true) it half-closes the stream when the upstream finishes.
 *
 * @example
 * ```ts
 * import { TextStream } from "@netfx/core"
 * import { Stream } from "effect"
 *
 * const say = (t: TextStream.TextStream) => Stream.make("hello ", "world\n").pipe(Stream.run(TextStream.toSink(t)))
 * ```
 *
 * @since 0.1.0
 * @category views
 */
export const toSink = (
  self: TextStream,
  options?: { readonly endOnDone?: boolean },
): Sink.Sink<void, string, never, SendError | ClosedResource | BrokenResource> => {
  const sink = Sink.forEach((text: string) => self.send(text))
  return options?.endOnDone === false ? sink : Sink.mapEffect(sink, () => self.sendEof)
}
