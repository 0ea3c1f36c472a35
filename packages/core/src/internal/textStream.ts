import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import {
  type BrokenResource,
  type ClosedResource,
  EndOfStream,
  InvalidArgument,
  type ReceiveError,
  type SendError,
} from "../NetError.ts"
import type { SocketStream } from "../SocketStream.ts"
import type { TextStream, TextStreamOptions } from "../TextStream.ts"

/** @internal */
export const TextStreamTypeId: unique symbol = Symbol.for("@netfx/core/TextStream")
/** @internal */
export type TextStreamTypeId = typeof TextStreamTypeId

const utf8 = new TextEncoder()

type Decoder = InstanceType<typeof TextDecoder>

const encodeUtf16 = (text: string, littleEndian: boolean): Uint8Array => {
  const out = new Uint8Array(text.length * 2)
  const view = new DataView(out.buffer)
  for (let i = 0; i < text.length; i++) view.setUint16(i * 2, text.charCodeAt(i), littleEndian)
  return out
}

/** @internal */
export type Encode = (text: string) => Uint8Array

/**
 * An encoder for the encodings a platform-free TextEncoder cannot do.
 * Decoding supports every WHATWG encoding label through `TextDecoder`.
 *
 * @internal
 */
export const encoderFor = (encoding: string): Encode | undefined => {
  switch (encoding.trim().toLowerCase()) {
    case "utf-8":
    case "utf8":
    case "unicode-1-1-utf-8":
      return (text) => utf8.encode(text)
    case "utf-16le":
    case "utf-16":
      return (text) => encodeUtf16(text, true)
    case "utf-16be":
      return (text) => encodeUtf16(text, false)
    default:
      return undefined
  }
}

/** @internal */
export const makeDecoder = (encoding: string, fatal: boolean): Decoder | InvalidArgument => {
  try {
    return new TextDecoder(encoding, { fatal })
  } catch (cause) {
    return new InvalidArgument({ argument: "encoding", reason: `unknown encoding (${String(cause)})`, value: encoding })
  }
}

/** @internal */
export const malformed = (encoding: string) =>
  new InvalidArgument({ argument: "data", reason: `bytes are not valid ${encoding}` })

/**
 * Decodes one chunk in streaming mode: an incomplete multi-byte sequence at
 * the end is held by the decoder until the next chunk completes it.
 *
 * @internal
 */
export const decodeChunk = (
  decoder: Decoder,
  chunk: Uint8Array | undefined,
  encoding: string,
): string | InvalidArgument => {
  try {
    return chunk === undefined ? decoder.decode() : decoder.decode(chunk, { stream: true })
  } catch {
    return malformed(encoding)
  }
}

const eos = new EndOfStream()

/** @internal */
export class TextStreamImpl implements TextStream {
  readonly [TextStreamTypeId]: typeof TextStreamTypeId = TextStreamTypeId
  private ended = false

  constructor(
    readonly stream: SocketStream,
    readonly encoding: string,
    private readonly decoder: Decoder,
    private readonly encode: Encode,
    private readonly encodingName: string,
  ) {}

  receive(maxBytes?: number): Effect.Effect<string, ReceiveError> {
    const loop: Effect.Effect<string, ReceiveError> = Effect.suspend(() => {
      if (this.ended) return Effect.fail(eos)
      return Effect.matchEffect(this.stream.receive(maxBytes), {
        onFailure: (e): Effect.Effect<string, ReceiveError> => {
          if (e._tag !== "EndOfStream") return Effect.fail(e)
          this.ended = true
          // Flush: bytes of an incomplete character at the end decode as U+FFFD (or fail when fatal).
          const rest = decodeChunk(this.decoder, undefined, this.encodingName)
          if (typeof rest !== "string") return Effect.fail(rest)
          return rest.length > 0 ? Effect.succeed(rest) : Effect.fail(e)
        },
        // A chunk that only held part of a character decodes to ""; receive more.
        onSuccess: (chunk) => {
          const text = decodeChunk(this.decoder, chunk, this.encodingName)
          if (typeof text !== "string") return Effect.fail(text)
          return text.length > 0 ? Effect.succeed(text) : loop
        },
      })
    })
    return loop
  }

  send(text: string): Effect.Effect<void, SendError> {
    return Effect.suspend(() => (text.length === 0 ? Effect.void : this.stream.send(this.encode(text))))
  }

  get sendEof(): Effect.Effect<void, ClosedResource | BrokenResource> {
    return this.stream.sendEof
  }
}

/** @internal */
export const make = (stream: SocketStream, options?: TextStreamOptions): Effect.Effect<TextStream, InvalidArgument> =>
  Effect.suspend(() => {
    const encoding = options?.encoding ?? "utf-8"
    const fatal = options?.fatal ?? false
    const decoder = makeDecoder(encoding, fatal)
    if (decoder instanceof InvalidArgument) return Effect.fail(decoder)
    const encode = encoderFor(encoding)
    if (encode === undefined) {
      return Effect.fail(
        new InvalidArgument({
          argument: "encoding",
          reason: "netfx can encode utf-8, utf-16le and utf-16be (any encoding can be decoded with TextStream.decode)",
          value: encoding,
        }),
      )
    }
    return Effect.succeed(new TextStreamImpl(stream, encoding, decoder, encode, decoder.encoding))
  })

/** @internal */
export const decode = <E, R>(
  self: Stream.Stream<Uint8Array, E, R>,
  options?: Omit<TextStreamOptions, "encoding"> & { readonly encoding?: string },
): Stream.Stream<string, E | InvalidArgument, R> =>
  Stream.suspend(() => {
    const decoder = makeDecoder(options?.encoding ?? "utf-8", options?.fatal ?? false)
    if (decoder instanceof InvalidArgument) return Stream.fail(decoder)
    const step = (chunk: Uint8Array | undefined): Effect.Effect<string, InvalidArgument> => {
      const text = decodeChunk(decoder, chunk, decoder.encoding)
      return typeof text === "string" ? Effect.succeed(text) : Effect.fail(text)
    }
    const body = Stream.mapEffect(self, (chunk) => step(chunk))
    const tail = Stream.fromEffect(Effect.suspend(() => step(undefined)))
    return Stream.filter(Stream.concat(body, tail), (s) => s.length > 0)
  })

/** @internal */
export const encode = <E, R>(
  self: Stream.Stream<string, E, R>,
  encoding = "utf-8",
): Stream.Stream<Uint8Array, E | InvalidArgument, R> => {
  const encoder = encoderFor(encoding)
  if (encoder === undefined) {
    return Stream.fail(
      new InvalidArgument({
        argument: "encoding",
        reason: "netfx can encode utf-8, utf-16le and utf-16be",
        value: encoding,
      }),
    )
  }
  return Stream.filter(
    Stream.map(self, (s) => encoder(s)),
    (b) => b.length > 0,
  )
}
