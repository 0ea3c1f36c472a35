import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type {
  ReadError,
  Server,
  StreamOptions,
  StreamReader,
  StreamWriter,
  WriteBufferLimits,
  WriterError,
} from "../Asyncio.ts"
import type { Listener } from "../Listener.ts"
import {
  ClosedResource,
  type IncompleteRead,
  InvalidArgument,
  type LimitExceeded,
  type SendError,
} from "../NetError.ts"
import type * as SocketAddress from "../SocketAddress.ts"
import type { SocketStream } from "../SocketStream.ts"
import * as Tls from "../Tls.ts"
import { BufferedStreamImpl, toBytes } from "./bufferedStream.ts"
import { concatBytes } from "./bytes.ts"

/** @internal */
export const DEFAULT_LIMIT = 65536
/** @internal */
export const DEFAULT_HIGH = 65536
/** @internal */
export const DEFAULT_LOW = 16384
/** The flusher coalesces small writes into sends of at most this size. */
const COALESCE = 65536

const EMPTY = new Uint8Array(0)
const NEWLINE = new Uint8Array([10])

/** @internal */
export const validateLimit = (limit: unknown): Effect.Effect<number, InvalidArgument> =>
  typeof limit === "number" && Number.isInteger(limit) && limit >= 1
    ? Effect.succeed(limit)
    : Effect.fail(new InvalidArgument({ argument: "limit", reason: "must be an integer >= 1", value: limit }))

/** asyncio's `set_write_buffer_limits` rules: high defaults to 4 * low, low to high / 4. */
/** @internal */
export const resolveLimits = (
  limits: WriteBufferLimits | undefined,
): Effect.Effect<[number, number], InvalidArgument> => {
  const high = limits?.high ?? (limits?.low === undefined ? DEFAULT_HIGH : 4 * limits.low)
  const low = limits?.low ?? Math.floor(high / 4)
  if (!Number.isInteger(high) || !Number.isInteger(low) || low < 0 || high < low) {
    return Effect.fail(
      new InvalidArgument({
        argument: "writeBufferLimits",
        reason: "high and low must be integers with high >= low >= 0",
        value: { high, low },
      }),
    )
  }
  return Effect.succeed([high, low])
}

// ---------------------------------------------------------------------------
// StreamReader

/** @internal */
export class StreamReaderImpl implements StreamReader {
  constructor(
    readonly buffer: BufferedStreamImpl,
    readonly limit: number,
  ) {}

  read(n = -1): Effect.Effect<Uint8Array, ReadError> {
    if (!Number.isInteger(n)) {
      return Effect.fail(new InvalidArgument({ argument: "n", reason: "must be an integer", value: n }))
    }
    if (n === 0) return Effect.succeed(EMPTY)
    if (n > 0) {
      // asyncio returns min(n, everything that arrived): bytes the connection
      // already received join what is buffered, before and after a wait
      return Effect.suspend(() => {
        const buffer = this.buffer
        if (buffer.buffered > 0 && buffer.buffered < n) buffer.absorb(n - buffer.buffered)
        return Effect.map(
          Effect.catchTag(buffer.receive(n), "EndOfStream", () => Effect.succeed(EMPTY)),
          (chunk) => {
            if (chunk.length === 0 || chunk.length >= n || buffer.buffered > 0) return chunk
            buffer.absorb(n - chunk.length)
            return buffer.buffered === 0 ? chunk : concatBytes([chunk, buffer.takeAll()])
          },
        )
      })
    }
    // n < 0: everything until EOF. Bytes accumulate in the buffer (so an
    // interrupted read(-1) loses nothing) and are taken at the end.
    const loop: Effect.Effect<Uint8Array, ReadError> = Effect.flatMap(this.buffer.fillOnce(), (r) =>
      r === "eof" ? Effect.sync(() => this.buffer.takeAll()) : loop,
    )
    return this.buffer.withExclusive("read", loop)
  }

  readexactly(n: number): Effect.Effect<Uint8Array, ReadError | IncompleteRead> {
    // asyncio consumes the partial bytes (they travel in the error).
    return Effect.tapErrorTag(this.buffer.receiveExactly(n), "IncompleteRead", (e) =>
      Effect.sync(() => this.buffer.discard(e.partial.length)),
    )
  }

  readuntil(
    separator: Uint8Array | string = NEWLINE,
  ): Effect.Effect<Uint8Array, ReadError | IncompleteRead | LimitExceeded> {
    return Effect.tapErrorTag(this.buffer.until("readuntil", separator, this.limit, true), "IncompleteRead", (e) =>
      Effect.sync(() => this.buffer.discard(e.partial.length)),
    )
  }

  readline(): Effect.Effect<Uint8Array, ReadError | LimitExceeded> {
    return this.buffer.until("readline", NEWLINE, this.limit, true).pipe(
      Effect.catchTags({
        // At EOF the partial line is the result (empty at the very end).
        IncompleteRead: (e) =>
          Effect.sync(() => {
            this.buffer.discard(e.partial.length)
            return e.partial
          }),
        // Drop the overlong line (through its newline, or all that arrived), as asyncio does.
        LimitExceeded: (e) =>
          Effect.suspend(() => {
            this.buffer.absorb(Number.POSITIVE_INFINITY)
            const at = this.buffer.find(NEWLINE)
            this.buffer.discard(at >= 0 ? at + 1 : this.buffer.buffered)
            return Effect.fail(e)
          }),
      }),
    )
  }

  atEof(): boolean {
    return this.buffer.atEof
  }

  get lines(): Stream.Stream<Uint8Array, ReadError | LimitExceeded> {
    return Stream.repeatEffectOption(
      this.readline().pipe(
        Effect.mapError(Option.some),
        Effect.flatMap((line) => (line.length === 0 ? Effect.fail(Option.none()) : Effect.succeed(line))),
      ),
    )
  }

  feedData(data: Uint8Array | string): Effect.Effect<void> {
    return this.buffer.feed(data)
  }
}

// ---------------------------------------------------------------------------
// StreamWriter

type State = "open" | "closing" | "closed"

/**
 * The writer: `write` queues bytes and returns at once; one flusher fiber
 * per writer (forked in the writer's Scope) sends them in order. `pending`
 * counts bytes written but not yet accepted by the stream's `send`; the
 * stream itself holds at most one more write buffer (its `send` waits for
 * the platform's drain), so memory is bounded by what the user writes
 * between `drain`s.
 *
 * @internal
 */
export class StreamWriterImpl implements StreamWriter {
  private readonly queue: Array<Uint8Array> = []
  private pending = 0
  private state: State = "open"
  private eofRequested = false
  private failure: SendError | undefined = undefined
  private wakeFlusher: (() => void) | undefined = undefined
  private readonly drainWaiters = new Set<() => void>()
  high: number
  low: number

  constructor(
    readonly stream: SocketStream,
    high: number,
    low: number,
    readonly closed: Deferred.Deferred<void, SendError>,
  ) {
    this.high = high
    this.low = low
  }

  get transport(): SocketStream {
    return this.stream
  }

  // ---- flusher ----

  private hasWork(): boolean {
    return this.queue.length > 0 || (this.eofRequested && this.failure === undefined) || this.state === "closing"
  }

  private readonly waitWork: Effect.Effect<void> = Effect.async<void>((resume) => {
    if (this.hasWork()) return resume(Effect.void)
    const wake = () => resume(Effect.void)
    this.wakeFlusher = wake
    return Effect.sync(() => {
      if (this.wakeFlusher === wake) this.wakeFlusher = undefined
    })
  })

  private wake(): void {
    const w = this.wakeFlusher
    if (w !== undefined) {
      this.wakeFlusher = undefined
      w()
    }
  }

  private wakeDrains(): void {
    for (const w of [...this.drainWaiters]) w()
  }

  /** Takes the next send: one big chunk alone, small ones coalesced. */
  private next(): Uint8Array {
    const parts: Array<Uint8Array> = []
    let size = 0
    while (this.queue.length > 0) {
      const c = this.queue[0] as Uint8Array
      if (parts.length > 0 && size + c.length > COALESCE) break
      parts.push(c)
      size += c.length
      this.queue.shift()
      if (size >= COALESCE) break
    }
    return concatBytes(parts, size)
  }

  private fail(error: SendError): void {
    if (this.failure === undefined) this.failure = error
    this.queue.length = 0
    this.pending = 0
    this.eofRequested = false
    this.wakeDrains()
  }

  /** The flusher fiber's body. Ends after closing the stream. */
  readonly flusher: Effect.Effect<void> = Effect.gen(this, function* () {
    while (true) {
      yield* this.waitWork
      if (this.queue.length > 0 && this.failure === undefined) {
        const chunk = this.next()
        const exit = yield* Effect.exit(this.stream.send(chunk))
        if (Exit.isFailure(exit)) {
          const e = Option.getOrUndefined(Exit.causeOption(exit).pipe(Option.flatMap((c) => Cause.failureOption(c))))
          this.fail(e ?? new ClosedResource({ operation: "write" }))
        } else {
          this.pending -= chunk.length
          if (this.pending <= this.low) this.wakeDrains()
        }
        continue
      }
      if (this.eofRequested && this.failure === undefined) {
        this.eofRequested = false
        const exit = yield* Effect.exit(this.stream.sendEof)
        if (Exit.isFailure(exit)) {
          const e = Option.getOrUndefined(Exit.causeOption(exit).pipe(Option.flatMap((c) => Cause.failureOption(c))))
          this.fail(e ?? new ClosedResource({ operation: "writeEof" }))
        }
        continue
      }
      if (this.state === "closing") {
        yield* this.stream.close
        this.state = "closed"
        this.wakeDrains()
        yield* Deferred.done(this.closed, this.failure === undefined ? Exit.void : Exit.fail(this.failure))
        return
      }
    }
  })

  /** Scope finalizer: drop what is queued, close the stream now. */
  readonly abortNow: Effect.Effect<void> = Effect.suspend(() => {
    this.queue.length = 0
    this.pending = 0
    this.eofRequested = false
    this.state = "closed"
    this.wakeDrains()
    this.wake()
    return Effect.zipRight(
      this.stream.close,
      Deferred.done(this.closed, this.failure === undefined ? Exit.void : Exit.fail(this.failure)),
    )
  })

  // ---- public ----

  private writable(operation: string): WriterError | undefined {
    if (this.failure !== undefined) return this.failure
    if (this.state !== "open") return new ClosedResource({ operation: `${operation} after close` })
    if (this.eofRequested || this.eofSent) return new ClosedResource({ operation: `${operation} after writeEof` })
    return undefined
  }

  private eofSent = false

  write(data: Uint8Array | string): Effect.Effect<void, WriterError> {
    return Effect.suspend(() => {
      const error = this.writable("write")
      if (error !== undefined) return Effect.fail(error)
      const bytes = toBytes(data)
      if (bytes.length === 0) return Effect.void
      this.queue.push(bytes)
      this.pending += bytes.length
      this.wake()
      return Effect.void
    })
  }

  writelines(data: Iterable<Uint8Array | string>): Effect.Effect<void, WriterError> {
    return Effect.suspend(() => {
      const error = this.writable("writelines")
      if (error !== undefined) return Effect.fail(error)
      for (const d of data) {
        const bytes = toBytes(d)
        if (bytes.length === 0) continue
        this.queue.push(bytes)
        this.pending += bytes.length
      }
      this.wake()
      return Effect.void
    })
  }

  get drain(): Effect.Effect<void, WriterError> {
    return Effect.suspend(() => {
      if (this.failure !== undefined) return Effect.fail(this.failure)
      if (this.state !== "open") return Effect.fail(new ClosedResource({ operation: "drain after close" }))
      if (this.pending <= this.high) return Effect.void
      return Effect.async<void, WriterError>((resume) => {
        const check = (): boolean => {
          if (this.failure !== undefined) resume(Effect.fail(this.failure))
          else if (this.state !== "open") resume(Effect.fail(new ClosedResource({ operation: "drain after close" })))
          else if (this.pending <= this.low) resume(Effect.void)
          else return false
          this.drainWaiters.delete(check)
          return true
        }
        this.drainWaiters.add(check)
        return Effect.sync(() => {
          this.drainWaiters.delete(check)
        })
      })
    })
  }

  canWriteEof(): boolean {
    return true
  }

  get writeEof(): Effect.Effect<void, WriterError> {
    return Effect.suspend(() => {
      if (this.failure !== undefined) return Effect.fail(this.failure)
      if (this.state !== "open") return Effect.fail(new ClosedResource({ operation: "writeEof after close" }))
      if (!this.eofRequested && !this.eofSent) {
        this.eofRequested = true
        this.eofSent = true
        this.wake()
      }
      return Effect.void
    })
  }

  get close(): Effect.Effect<void> {
    return Effect.sync(() => {
      if (this.state !== "open") return
      this.state = "closing"
      this.wakeDrains()
      this.wake()
    })
  }

  get abort(): Effect.Effect<void> {
    return this.abortNow
  }

  isClosing(): boolean {
    return this.state === "closing" || this.state === "closed"
  }

  get waitClosed(): Effect.Effect<void, SendError> {
    return Deferred.await(this.closed)
  }

  getWriteBufferSize(): number {
    return this.pending
  }

  setWriteBufferLimits(limits?: WriteBufferLimits): Effect.Effect<void, InvalidArgument> {
    return Effect.map(resolveLimits(limits), ([high, low]) => {
      this.high = high
      this.low = low
      this.wakeDrains()
    })
  }

  extraInfo(name: "peername" | "sockname"): SocketAddress.SocketAddress
  extraInfo(name: string, defaultValue?: unknown): unknown
  extraInfo(name: string, defaultValue?: unknown): unknown {
    return extraInfo(this.stream, name, defaultValue)
  }
}

/** asyncio's TLS extra-info names, and the `TlsInfo` field each reads. */
const TLS_KEYS: Record<string, string | undefined> = {
  ssl_object: undefined,
  tls: undefined,
  peercert: "peerCertificate",
  cipher: "cipher",
  alpn_protocol: "alpnProtocol",
  selected_alpn_protocol: "alpnProtocol",
  tls_version: "version",
  server_hostname: "serverName",
  server_side: "serverSide",
  authorized: "authorized",
}

/** @internal */
export const extraInfo = (stream: SocketStream, name: string, defaultValue?: unknown): unknown => {
  switch (name) {
    case "peername":
      return stream.remoteAddress
    case "sockname":
      return stream.localAddress
    case "family":
      return stream.family
    case "fd":
      return stream.fd ?? defaultValue
    case "socket":
      return {
        fd: stream.fd,
        family: stream.family,
        localAddress: stream.localAddress,
        remoteAddress: stream.remoteAddress,
      }
  }
  if (name in TLS_KEYS) {
    const tls = Option.getOrUndefined(stream.attribute(Tls.Info))
    if (tls === undefined) return defaultValue
    const field = TLS_KEYS[name]
    if (field === undefined) return tls
    const value = (tls as unknown as Record<string, unknown>)[field]
    // TlsInfo keeps optional facts as Options; asyncio returns the value or the default.
    const plain = Option.isOption(value) ? Option.getOrUndefined(value) : value
    return plain === undefined ? defaultValue : plain
  }
  return defaultValue
}

// ---------------------------------------------------------------------------
// constructors

/** @internal */
export const fromStream = (
  stream: SocketStream,
  options?: StreamOptions,
): Effect.Effect<readonly [StreamReader, StreamWriter], InvalidArgument, Scope.Scope> =>
  Effect.gen(function* () {
    const limit = yield* validateLimit(options?.limit ?? DEFAULT_LIMIT)
    const [high, low] = yield* resolveLimits(options?.writeBufferLimits)
    const reader = new StreamReaderImpl(new BufferedStreamImpl(stream), limit)
    const closed = yield* Deferred.make<void, SendError>()
    const writer = new StreamWriterImpl(stream, high, low, closed)
    // Finalizers run in reverse: the flusher is interrupted first, then the stream closes.
    yield* Effect.addFinalizer(() => writer.abortNow)
    yield* Effect.forkScoped(writer.flusher)
    return [reader, writer] as const
  })

/** @internal */
export const makeServer = <E, R>(
  listener: Listener,
  handler: (reader: StreamReader, writer: StreamWriter) => Effect.Effect<unknown, E, R>,
  options?: StreamOptions,
): Effect.Effect<Server, never, Scope.Scope | R> =>
  Effect.gen(function* () {
    const stopped = yield* Deferred.make<void>()
    let serving = true
    const perConnection = (conn: SocketStream) =>
      Effect.scoped(
        Effect.gen(function* () {
          const [reader, writer] = yield* fromStream(conn, options)
          // When the handler ends (or fails), flush what it wrote, then close. This
          // waits in the normal, interruptible flow (not in a finalizer): closing the
          // server interrupts it, and the Scope's finalizer then aborts the connection,
          // so a client that never reads cannot hold the server open.
          const exit = yield* Effect.exit(handler(reader, writer))
          yield* writer.close
          yield* Effect.ignore(writer.waitClosed)
          return yield* exit
        }),
      )
    const run = listener.serve(perConnection).pipe(
      Effect.ignore,
      Effect.ensuring(
        Effect.suspend(() => {
          serving = false
          return Deferred.succeed(stopped, undefined)
        }),
      ),
    )
    const fiber = yield* Effect.forkScoped(run)
    const server: Server = {
      listener,
      address: listener.address,
      addresses: listener.addresses,
      sockets: listener.addresses,
      serveForever: Deferred.await(stopped),
      close: listener.close,
      waitClosed: Effect.asVoid(Fiber.await(fiber)),
      isServing: () => serving,
    }
    return server
  })
