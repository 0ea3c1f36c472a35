import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import type { BufferedStream, ReceiveLineOptions, UntilError } from "../BufferedStream.ts"
import {
  type BrokenResource,
  BusyResource,
  type ClosedResource,
  EndOfStream,
  IncompleteRead,
  InvalidArgument,
  LimitExceeded,
  type ReceiveError,
} from "../NetError.ts"
import type { SocketStream } from "../SocketStream.ts"
import { SocketStreamImpl } from "./socketStream.ts"

/** @internal */
export const BufferedStreamTypeId: unique symbol = Symbol.for("@netfx/core/BufferedStream")
/** @internal */
export type BufferedStreamTypeId = typeof BufferedStreamTypeId

/** @internal */
export const DEFAULT_MAX_LINE = 65536
/** Bytes asked of the underlying stream per fill. */
const FILL = 65536
/** Above this capacity an emptied buffer is given back to the GC. */
const KEEP_CAPACITY = 256 * 1024

const endOfStream = new EndOfStream()
const encoder = new TextEncoder()

/** @internal */
export const toBytes = (value: Uint8Array | string): Uint8Array =>
  typeof value === "string" ? encoder.encode(value) : value

/** String delimiters already encoded: a protocol uses a handful, each encoded once per process. */
const delimiters = new Map<string, Uint8Array>()
const MAX_CACHED_DELIMITERS = 64

/**
 * A delimiter as bytes. Strings are encoded once and cached (bounded), so
 * `receiveLine({ delimiter: "\r\n" })` in a loop does not encode per call.
 * The cached arrays are never handed to users (errors get a copy).
 *
 * @internal
 */
export const delimiterBytes = (value: Uint8Array | string): Uint8Array => {
  if (typeof value !== "string") return value
  let bytes = delimiters.get(value)
  if (bytes === undefined) {
    if (delimiters.size >= MAX_CACHED_DELIMITERS || value.length > 256) return encoder.encode(value)
    bytes = encoder.encode(value)
    delimiters.set(value, bytes)
  }
  return bytes
}

const busy = (operation: string) => new BusyResource({ operation })

/** Where `needle` starts in `hay[from, to)`, or -1. */
const indexOf = (hay: Uint8Array, needle: Uint8Array, from: number, to: number): number => {
  const n = needle.length
  const first = needle[0] as number
  let i = from
  while (i + n <= to) {
    const at = hay.indexOf(first, i)
    if (at < 0 || at + n > to) return -1
    let k = 1
    while (k < n && hay[at + k] === needle[k]) k++
    if (k === n) return at
    i = at + 1
  }
  return -1
}

type FillResult = "data" | "eof"

/**
 * A read buffer over a byte stream: one contiguous `Uint8Array` with a
 * read offset (`start`) and a write offset (`end`).
 *
 * Interruption safety rests on one rule: bytes move from the underlying
 * stream into `data` in one step (a `receive` that completed is appended
 * before anything can interrupt), and they leave `data` only synchronously,
 * once everything an operation needs is present. An interrupted operation
 * therefore leaves every byte it saw in the buffer.
 *
 * @internal
 */
export class BufferedStreamImpl implements BufferedStream {
  readonly [BufferedStreamTypeId]: typeof BufferedStreamTypeId = BufferedStreamTypeId
  private data: Uint8Array = new Uint8Array(0)
  private start = 0
  private end = 0
  private eof = false
  private busy = false

  constructor(readonly stream: SocketStream) {}

  get buffered(): number {
    return this.end - this.start
  }

  get atEof(): boolean {
    if (this.end !== this.start) return false
    if (this.eof) return true
    // the end already received by the stream counts, as in asyncio (a FIN that
    // arrived with the last bytes makes `at_eof()` true once they are read)
    const stream = this.stream
    return stream instanceof SocketStreamImpl && stream.endReached
  }

  // ---- buffer primitives (synchronous) ----

  private append(chunk: Uint8Array, front = false): void {
    const size = this.end - this.start
    const need = size + chunk.length
    if (front && this.start >= chunk.length) {
      this.start -= chunk.length
      this.data.set(chunk, this.start)
      return
    }
    if (!front && this.end + chunk.length <= this.data.length) {
      this.data.set(chunk, this.end)
      this.end += chunk.length
      return
    }
    const target = need <= this.data.length ? this.data : new Uint8Array(Math.max(need, this.data.length * 2, 4096))
    const offset = front ? chunk.length : 0
    if (target === this.data) this.data.copyWithin(offset, this.start, this.end)
    else target.set(this.data.subarray(this.start, this.end), offset)
    target.set(chunk, front ? 0 : size)
    this.data = target
    this.start = 0
    this.end = need
  }

  /** Removes and returns `n` buffered bytes (a copy), then drops `skip` more. */
  private consume(n: number, skip = 0): Uint8Array {
    const out = this.data.slice(this.start, this.start + n)
    this.start += n + skip
    if (this.start === this.end) {
      this.start = 0
      this.end = 0
      if (this.data.length > KEEP_CAPACITY) this.data = new Uint8Array(0)
    }
    return out
  }

  private snapshot(): Uint8Array {
    return this.data.slice(this.start, this.end)
  }

  /**
   * One receive from the underlying stream, appended to the buffer.
   * The append happens in the same uninterruptible step as the receive's
   * completion, so a received chunk is never dropped.
   */
  private fill(maxBytes = FILL): Effect.Effect<FillResult, Exclude<ReceiveError, EndOfStream>> {
    return Effect.uninterruptibleMask((restore) =>
      this.eof
        ? Effect.succeed<FillResult>("eof")
        : Effect.matchEffect(restore(this.stream.receive(maxBytes)), {
            onFailure: (e) => {
              if (e._tag === "EndOfStream") {
                this.eof = true
                return Effect.succeed<FillResult>("eof")
              }
              return Effect.fail(e)
            },
            onSuccess: (chunk) => {
              this.append(chunk)
              return Effect.succeed<FillResult>("data")
            },
          }),
    )
  }

  /** Runs `op` as the only reader; a concurrent reader fails with `BusyResource`. */
  private exclusive<A, E>(operation: string, op: Effect.Effect<A, E>): Effect.Effect<A, E | BusyResource> {
    return Effect.uninterruptibleMask((restore) =>
      Effect.suspend((): Effect.Effect<A, E | BusyResource> => {
        if (this.busy) return Effect.fail(busy(operation))
        this.busy = true
        return Effect.ensuring(
          restore(op),
          Effect.sync(() => {
            this.busy = false
          }),
        )
      }),
    )
  }

  // ---- public operations ----

  receive(maxBytes: number = FILL): Effect.Effect<Uint8Array, ReceiveError> {
    if (!Number.isInteger(maxBytes) || maxBytes < 1) {
      return Effect.fail(
        new InvalidArgument({ argument: "maxBytes", reason: "must be an integer >= 1", value: maxBytes }),
      )
    }
    return Effect.suspend(() => {
      if (this.busy) return Effect.fail(busy("receive"))
      if (this.end > this.start) return Effect.succeed(this.consume(Math.min(maxBytes, this.end - this.start)))
      if (this.eof) return Effect.fail(endOfStream)
      // Empty buffer: hand the stream's chunk through without copying.
      return this.exclusive(
        "receive",
        Effect.catchTag(this.stream.receive(maxBytes), "EndOfStream", (e) => {
          this.eof = true
          return Effect.fail(e)
        }),
      )
    })
  }

  receiveExactly(n: number): Effect.Effect<Uint8Array, IncompleteRead | Exclude<ReceiveError, EndOfStream>> {
    if (!Number.isInteger(n) || n < 0) {
      return Effect.fail(new InvalidArgument({ argument: "n", reason: "must be an integer >= 0", value: n }))
    }
    const loop: Effect.Effect<Uint8Array, IncompleteRead | Exclude<ReceiveError, EndOfStream>> = Effect.suspend(() => {
      if (this.end - this.start >= n) return Effect.succeed(this.consume(n))
      return Effect.flatMap(this.fill(), (r) =>
        r === "eof" ? Effect.fail(new IncompleteRead({ partial: this.snapshot(), expected: n })) : loop,
      )
    })
    return Effect.suspend(() =>
      // Fast path: enough bytes are buffered; consume them synchronously.
      !this.busy && this.end - this.start >= n
        ? Effect.succeed(this.consume(n))
        : this.exclusive("receiveExactly", loop),
    )
  }

  receiveUntil(
    delimiter: Uint8Array | string,
    maxBytes: number,
  ): Effect.Effect<Uint8Array, UntilError | InvalidArgument | BusyResource> {
    return this.until("receiveUntil", delimiter, maxBytes, false)
  }

  /**
   * The shared search. The delimiter counts as found only when it starts at
   * an offset <= `maxBytes`; the search never looks further, so the outcome
   * does not depend on how the bytes were chunked.
   *
   * @internal
   */
  until(
    operation: string,
    delimiterInput: Uint8Array | string,
    maxBytes: number,
    keepDelimiter: boolean,
  ): Effect.Effect<Uint8Array, UntilError | InvalidArgument | BusyResource> {
    const delimiter = delimiterBytes(delimiterInput)
    if (delimiter.length === 0) {
      return Effect.fail(new InvalidArgument({ argument: "delimiter", reason: "must not be empty", value: delimiter }))
    }
    if (!Number.isInteger(maxBytes) || maxBytes < 0) {
      return Effect.fail(
        new InvalidArgument({ argument: "maxBytes", reason: "must be an integer >= 0", value: maxBytes }),
      )
    }
    const dlen = delimiter.length
    // The delimiter may start at most at `maxBytes`, so no byte past this window matters.
    const window = maxBytes + dlen
    // A fresh search per run: the same Effect value may be run many times (`lines`).
    const search = Effect.suspend(() => {
      let searched = 0 // bytes of the buffer (from start) known not to start a match
      const loop: Effect.Effect<Uint8Array, UntilError> = Effect.suspend(() => {
        const size = this.end - this.start
        const limit = Math.min(size, window)
        const from = this.start + Math.max(0, searched)
        const at = indexOf(this.data, delimiter, from, this.start + limit)
        if (at >= 0) {
          const length = at - this.start
          return Effect.succeed(keepDelimiter ? this.consume(length + dlen) : this.consume(length, dlen))
        }
        searched = Math.max(0, limit - dlen + 1)
        if (size >= window)
          return Effect.fail(
            new LimitExceeded({ limit: maxBytes, buffered: size, operation, delimiter: delimiter.slice() }),
          )
        return Effect.flatMap(this.fill(), (r) =>
          r === "eof" ? Effect.fail(new IncompleteRead({ partial: this.snapshot() })) : loop,
        )
      })
      return loop
    })
    return Effect.suspend(() => {
      // Fast path: the delimiter is already buffered; consume it synchronously.
      if (!this.busy) {
        const at = indexOf(this.data, delimiter, this.start, this.start + Math.min(this.end - this.start, window))
        if (at >= 0) {
          const length = at - this.start
          return Effect.succeed(keepDelimiter ? this.consume(length + dlen) : this.consume(length, dlen))
        }
      }
      return this.exclusive(operation, search)
    })
  }

  receiveLine(options?: ReceiveLineOptions): Effect.Effect<Uint8Array, UntilError | InvalidArgument | BusyResource> {
    return this.until("receiveLine", options?.delimiter ?? "\n", options?.maxLength ?? DEFAULT_MAX_LINE, false)
  }

  lines(
    options?: ReceiveLineOptions,
  ): Stream.Stream<Uint8Array, LimitExceeded | InvalidArgument | ClosedResource | BrokenResource | BusyResource> {
    const line = this.receiveLine(options).pipe(
      Effect.catchTag("IncompleteRead", (e) =>
        // The last line without a delimiter is still a line; nothing at all means the end.
        Effect.suspend(() => {
          if (e.partial.length === 0) return Effect.fail(Option.none())
          this.consume(this.end - this.start)
          return Effect.succeed(e.partial)
        }),
      ),
      Effect.mapError((e) => (Option.isOption(e) ? e : Option.some(e))),
    )
    const delimiter = delimiterBytes(options?.delimiter ?? "\n")
    const maxLength = options?.maxLength ?? DEFAULT_MAX_LINE
    const valid = delimiter.length > 0 && Number.isInteger(maxLength) && maxLength >= 0
    const window = maxLength + delimiter.length
    // One line per pull (so `Stream.take(n)` leaves later lines buffered); a
    // line already buffered is taken synchronously without the search machinery.
    const pull = Effect.suspend(() => {
      if (valid && !this.busy) {
        const at = indexOf(this.data, delimiter, this.start, this.start + Math.min(this.end - this.start, window))
        if (at >= 0) return Effect.succeed(this.consume(at - this.start, delimiter.length))
      }
      return line
    })
    return Stream.repeatEffectOption(pull)
  }

  unread(bytes: Uint8Array | string): Effect.Effect<void> {
    return Effect.sync(() => {
      const b = toBytes(bytes)
      if (b.length > 0) this.append(b, true)
    })
  }

  feed(bytes: Uint8Array | string): Effect.Effect<void> {
    return Effect.sync(() => {
      const b = toBytes(bytes)
      if (b.length > 0) this.append(b)
    })
  }

  /** Takes whatever is buffered (maybe nothing), synchronously. @internal */
  takeAll(): Uint8Array {
    return this.consume(this.end - this.start)
  }

  /** Drops up to `n` buffered bytes. @internal */
  discard(n: number): void {
    this.consume(0, Math.min(n, this.end - this.start))
  }

  /** Index of `delimiter` in the buffer, or -1. @internal */
  find(delimiter: Uint8Array): number {
    const at = indexOf(this.data, delimiter, this.start, this.end)
    return at < 0 ? -1 : at - this.start
  }

  /**
   * Moves up to `max` bytes that the stream already received into the
   * buffer, without waiting, where the stream is netfx's own (another
   * stream has no such view); nothing while an operation waits (it owns
   * the stream). The asyncio reader uses it where asyncio's answer depends
   * on everything that arrived (its buffer holds all of it). @internal
   */
  absorb(max: number): void {
    const stream = this.stream
    if (this.busy || this.eof || !(stream instanceof SocketStreamImpl)) return
    let left = max
    while (left > 0) {
      const chunk = stream.takeAvailable(Math.min(left, FILL))
      if (chunk === undefined) return
      this.append(chunk)
      left -= chunk.length
    }
  }

  /** One fill, exposed for the asyncio reader. @internal */
  fillOnce(): Effect.Effect<FillResult, Exclude<ReceiveError, EndOfStream>> {
    return this.fill()
  }

  /** @internal */
  withExclusive<A, E>(operation: string, op: Effect.Effect<A, E>): Effect.Effect<A, E | BusyResource> {
    return this.exclusive(operation, op)
  }
}
