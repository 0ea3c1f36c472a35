import * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import * as Attribute from "../Attribute.ts"
import type { ConnectionHandlers, RawConnection } from "../Driver.ts"
import {
  BrokenResource,
  BusyResource,
  ClosedResource,
  EndOfStream,
  InvalidArgument,
  type ReceiveError,
  type SendError,
} from "../NetError.ts"
import * as SocketAddress from "../SocketAddress.ts"
import type { SocketStream, SocketStreamOptions } from "../SocketStream.ts"
import { concatBytes } from "./bytes.ts"
import { TypeId } from "./typeId.ts"

/** @internal */
export const DEFAULT_RECEIVE = 65536
/** @internal */
export const DEFAULT_HIGH_WATER_MARK = 65536

const endOfStream = new EndOfStream()
const closedReceive = new ClosedResource({ operation: "receive" })
const closedSend = new ClosedResource({ operation: "send" })
const closedSendEof = new ClosedResource({ operation: "sendEof" })
const busyReceive = new BusyResource({ operation: "receive" })
const busySend = new BusyResource({ operation: "send" })

/** @internal Total length of one buffer or several. */
export const byteLength = (data: Uint8Array | ReadonlyArray<Uint8Array>): number => {
  if (data instanceof Uint8Array) return data.length
  let n = 0
  for (const chunk of data) n += chunk.length
  return n
}

/**
 * Hands one buffer or several to a RawConnection: `writev` when it has
 * one, else one `write` of the concatenation (empty parts dropped).
 *
 * @internal
 */
export const writeTo = (raw: RawConnection, data: Uint8Array | ReadonlyArray<Uint8Array>): boolean => {
  if (data instanceof Uint8Array) return raw.write(data)
  const parts = data.filter((c) => c.length > 0)
  if (parts.length === 1) return raw.write(parts[0] as Uint8Array)
  return raw.writev !== undefined ? raw.writev(parts) : raw.write(concatBytes(parts))
}

/** @internal */
export const invalidMaxBytes = (value: unknown) =>
  new InvalidArgument({ argument: "maxBytes", reason: "must be an integer >= 1", value })

/**
 * The one implementation of the byte-stream contract, shared by every
 * runtime. State machine, no fibers: a receive completes synchronously when
 * bytes are buffered, otherwise it parks one callback that the socket's own
 * data event wakes.
 *
 * @internal
 */
export class SocketStreamImpl implements SocketStream, ConnectionHandlers {
  readonly [TypeId]: typeof TypeId = TypeId
  readonly localAddress: SocketAddress.SocketAddress
  readonly remoteAddress: SocketAddress.SocketAddress
  readonly family: SocketAddress.Family
  readonly fd: number | undefined

  /** How many chunks arrived so far (the `serve` idle timeout watches it). */
  receivedChunks = 0
  private chunks: Array<Uint8Array> = []
  private buffered = 0
  private paused = false
  private readonly highWaterMark: number

  private eof = false
  private failure: BrokenResource | undefined = undefined
  private closed = false
  private eofSent = false

  /** true while a receive is in flight (parked or about to take). */
  private receiving = false
  private readWaiter: (() => void) | undefined = undefined

  private needDrain = false
  private sending = false
  private writeWaiter: (() => void) | undefined = undefined

  constructor(
    readonly raw: RawConnection,
    options?: SocketStreamOptions,
  ) {
    this.localAddress = raw.localAddress
    this.remoteAddress = raw.remoteAddress
    this.family = SocketAddress.family(raw.remoteAddress)
    this.fd = raw.fd
    this.highWaterMark = options?.highWaterMark ?? DEFAULT_HIGH_WATER_MARK
    raw.start(this)
  }

  attribute<A>(key: Attribute.Attribute<A>): Option.Option<A> {
    return Attribute.get(this.raw, key)
  }

  // ---- handlers (called by the runtime) ----

  onData(chunk: Uint8Array): void {
    if (this.forward !== undefined) {
      this.forward.onData(chunk)
      return
    }
    if (this.closed || chunk.length === 0) return
    this.receivedChunks++
    this.chunks.push(chunk)
    this.buffered += chunk.length
    if (this.buffered > this.highWaterMark && !this.paused) {
      this.paused = true
      this.raw.pause()
    }
    this.wakeReader()
  }

  onEnd(): void {
    if (this.forward !== undefined) {
      this.forward.onEnd()
      return
    }
    this.eof = true
    this.wakeReader()
  }

  onError(error: BrokenResource): void {
    if (this.forward !== undefined) {
      this.forward.onError(error)
      return
    }
    if (this.failure === undefined) this.failure = error
    this.wakeReader()
    this.wakeWriter()
  }

  onDrain(): void {
    if (this.forward !== undefined) {
      this.forward.onDrain()
      return
    }
    this.needDrain = false
    this.wakeWriter()
  }

  onClose(): void {
    if (this.forward !== undefined) {
      this.forward.onClose()
      return
    }
    // The descriptor is gone: whatever was not reported as an error reads as EOF.
    this.eof = true
    this.wakeReader()
    this.wakeWriter()
  }

  private wakeReader(): void {
    const w = this.readWaiter
    if (w !== undefined) {
      this.readWaiter = undefined
      w()
    }
  }

  private wakeWriter(): void {
    const w = this.writeWaiter
    if (w !== undefined) {
      this.writeWaiter = undefined
      w()
    }
  }

  /**
   * The connection's failure as the operation that meets it reports it: the
   * runtime saw the error on the socket, the user called `receive` or `send`.
   */
  private failureIn(operation: string): BrokenResource {
    const f = this.failure as BrokenResource
    if (f.operation === operation) return f
    return new BrokenResource({
      operation,
      code: f.code,
      syscall: f.syscall,
      address: f.address,
      cause: f.cause,
    })
  }

  // ---- receive ----

  private take(maxBytes: number): Uint8Array {
    const first = this.chunks[0] as Uint8Array
    let out: Uint8Array
    if (first.length > maxBytes) {
      out = first.subarray(0, maxBytes)
      this.chunks[0] = first.subarray(maxBytes)
    } else if (first.length === maxBytes || this.chunks.length === 1) {
      out = first
      this.chunks.shift()
    } else {
      // coalesce small chunks up to maxBytes
      const size = Math.min(maxBytes, this.buffered)
      out = new Uint8Array(size)
      let offset = 0
      while (offset < size) {
        const c = this.chunks[0] as Uint8Array
        const n = Math.min(c.length, size - offset)
        out.set(n === c.length ? c : c.subarray(0, n), offset)
        offset += n
        if (n === c.length) this.chunks.shift()
        else this.chunks[0] = c.subarray(n)
      }
    }
    this.buffered -= out.length
    if (this.paused && this.buffered < this.highWaterMark) {
      this.paused = false
      this.raw.resume()
    }
    return out
  }

  /** Synchronous attempt; `undefined` means "must wait". */
  private poll(maxBytes: number): Effect.Effect<Uint8Array, ReceiveError> | undefined {
    if (this.closed) return Effect.fail(closedReceive)
    if (this.buffered > 0) return Effect.succeed(this.take(maxBytes))
    if (this.failure !== undefined) return Effect.fail(this.failureIn("receive"))
    if (this.eof) return Effect.fail(endOfStream)
    return undefined
  }

  receive(maxBytes: number = DEFAULT_RECEIVE): Effect.Effect<Uint8Array, ReceiveError> {
    if (!Number.isInteger(maxBytes) || maxBytes < 1) return Effect.fail(invalidMaxBytes(maxBytes))
    return Effect.suspend(() => {
      if (this.receiving) return Effect.fail(busyReceive)
      return this.poll(maxBytes) ?? this.wait(maxBytes)
    })
  }

  private wait(maxBytes: number): Effect.Effect<Uint8Array, ReceiveError> {
    const retry: Effect.Effect<Uint8Array, ReceiveError> = Effect.suspend(() => {
      const r = this.poll(maxBytes)
      if (r !== undefined) {
        this.receiving = false
        return r
      }
      return park
    })
    const park: Effect.Effect<Uint8Array, ReceiveError> = Effect.async<Uint8Array, ReceiveError>((resume) => {
      // Only wake the fiber; the bytes are taken by the fiber itself (retry),
      // so an interruption racing the wake-up leaves them buffered.
      const waiter = () => resume(retry)
      this.receiving = true
      this.readWaiter = waiter
      if (this.paused && this.buffered < this.highWaterMark) {
        this.paused = false
        this.raw.resume()
      }
      return Effect.sync(() => {
        if (this.readWaiter === waiter) this.readWaiter = undefined
        this.receiving = false
      })
    })
    return park
  }

  // ---- send ----

  send(data: Uint8Array | ReadonlyArray<Uint8Array>): Effect.Effect<void, SendError> {
    return Effect.suspend(() => {
      if (this.closed) return Effect.fail(closedSend)
      if (this.failure !== undefined) return Effect.fail(this.failureIn("send"))
      if (this.eofSent) return Effect.fail(new ClosedResource({ operation: "send after sendEof" }))
      if (this.sending) return Effect.fail(busySend)
      if (byteLength(data) === 0) return Effect.void
      if (!this.needDrain) {
        this.write(data)
        return Effect.void
      }
      this.sending = true
      return Effect.async<void, SendError>((resume) => {
        const waiter = () => {
          this.sending = false
          if (this.closed) return resume(Effect.fail(closedSend))
          if (this.failure !== undefined) return resume(Effect.fail(this.failureIn("send")))
          if (this.needDrain) {
            // spurious wake: keep waiting
            this.sending = true
            this.writeWaiter = waiter
            return
          }
          this.write(data)
          resume(Effect.void)
        }
        this.writeWaiter = waiter
        return Effect.sync(() => {
          if (this.writeWaiter === waiter) this.writeWaiter = undefined
          this.sending = false
        })
      })
    })
  }

  private write(data: Uint8Array | ReadonlyArray<Uint8Array>): void {
    if (!writeTo(this.raw, data)) this.needDrain = true
  }

  get sendEof(): Effect.Effect<void, ClosedResource | BrokenResource> {
    return Effect.suspend((): Effect.Effect<void, ClosedResource | BrokenResource> => {
      if (this.closed) return Effect.fail(closedSendEof)
      if (this.failure !== undefined) return Effect.fail(this.failureIn("sendEof"))
      if (!this.eofSent) {
        this.eofSent = true
        this.raw.shutdown()
      }
      return Effect.void
    })
  }

  get close(): Effect.Effect<void> {
    return Effect.sync(() => this.closeNow())
  }

  /** Called once when the stream closes locally (used by listeners to track live connections). */
  onClosed: (() => void) | undefined = undefined

  /** @internal */
  closeNow(): void {
    if (this.closed) return
    this.closed = true
    this.onClosed?.()
    const unread = this.buffered > 0
    this.chunks = []
    this.buffered = 0
    this.raw.close(unread)
    this.wakeReader()
    this.wakeWriter()
  }

  /** After `detach`: where the runtime's events go now. */
  private forward: ConnectionHandlers | undefined = undefined

  /**
   * Hands the connection to a new owner (STARTTLS): this stream reads as
   * closed from now on and its `close` no longer touches the connection.
   * Bytes read ahead but not received, and an EOF or error already seen,
   * are delivered to the new owner's handlers first. Returns the reason
   * as a string when the stream cannot be detached.
   *
   * @internal
   */
  detach(): RawConnection | string {
    if (this.closed) return "is closed"
    if (this.receiving) return "has a receive in progress"
    if (this.sending) return "has a send in progress"
    if (this.eofSent) return "was half-closed with sendEof"
    const raw = this.raw
    const held: Array<(h: ConnectionHandlers) => void> = this.chunks.map((c) => (h) => h.onData(c))
    if (this.failure !== undefined) {
      const failure = this.failure
      held.push((h) => h.onError(failure))
    } else if (this.eof) held.push((h) => h.onEnd())
    let target: ConnectionHandlers | undefined
    const later = (f: (h: ConnectionHandlers) => void) => {
      if (target !== undefined) f(target)
      else held.push(f)
    }
    this.forward = {
      onData: (c) => later((h) => h.onData(c)),
      onEnd: () => later((h) => h.onEnd()),
      onError: (e) => later((h) => h.onError(e)),
      onDrain: () => later((h) => h.onDrain()),
      onClose: () => later((h) => h.onClose()),
    }
    this.closed = true
    this.onClosed?.()
    this.chunks = []
    this.buffered = 0
    this.wakeReader()
    this.wakeWriter()
    const wasPaused = this.paused
    return {
      localAddress: raw.localAddress,
      remoteAddress: raw.remoteAddress,
      fd: raw.fd,
      extra: raw.extra,
      handle: raw.handle,
      start: (handlers) => {
        target = handlers
        for (const f of held.splice(0)) f(handlers)
        if (wasPaused) raw.resume()
      },
      pause: () => raw.pause(),
      resume: () => raw.resume(),
      write: (data) => raw.write(data),
      writev: (chunks) => writeTo(raw, chunks),
      shutdown: () => raw.shutdown(),
      close: (unread) => raw.close(unread),
    }
  }

  get isClosed(): boolean {
    return this.closed
  }
}
