import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Effectable from "effect/Effectable"
import type * as Fiber from "effect/Fiber"
import type * as Option from "effect/Option"
import { YieldWrap } from "effect/Utils"
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
import { holdsSlot, reusableAsync } from "./asyncPrimitive.ts"
import { byteLength, concatBytes, notBytes } from "./bytes.ts"
import { Done, doneVoid, inlineFiber, plainIterator, YieldOnce } from "./inlineYield.ts"
import { currentFiber, resumeFromIo, wakeDone, wakeInline } from "./ioScheduler.ts"
import { TypeId } from "./typeId.ts"

/** @internal */
export const DEFAULT_RECEIVE = 65536
/** @internal */
export const DEFAULT_HIGH_WATER_MARK = 65536

/**
 * Chunks at least this big are handed out as they are; smaller ones are
 * coalesced (copied) up to `maxBytes`. TLS delivers 16 KiB records, and
 * copying those into one bigger array costs more than the extra receive.
 */
const COALESCE_BELOW = 16384

const endOfStream = new EndOfStream()
/**
 * A receive at the end of the stream in a fiber without a span, built once.
 * `Effect.fail` of an object is one more run-loop step that reads the
 * fiber's span to attach it to the error; without a span it makes exactly
 * this failure (see `failEndOfStream`).
 */
const endOfStreamFailure: Effect.Effect<never, EndOfStream> = Effect.failCause(Cause.fail(endOfStream))
/** `Effect.fail(endOfStream)`, without its run-loop step when the fiber running this has no span. */
const failEndOfStream = (): Effect.Effect<never, EndOfStream> => {
  const fiber = currentFiber()
  return fiber !== undefined && fiber.currentSpan === undefined ? endOfStreamFailure : Effect.fail(endOfStream)
}
const closedReceive = new ClosedResource({ operation: "receive" })
const closedSend = new ClosedResource({ operation: "send" })
const closedSendEof = new ClosedResource({ operation: "sendEof" })
const busyReceive = new BusyResource({ operation: "receive" })
const busySend = new BusyResource({ operation: "send" })

/** What a stream with nothing read ahead holds: never written to (`onData` replaces it). */
const noChunks: Array<Uint8Array> = []

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

/**
 * The Effect `send(data)` returns: one object holding the stream and the
 * data, run by `sendNow` when the fiber gets to it (Effect's `commit`), so
 * the state is read then, as with `Effect.suspend`, but without a closure
 * and its scope per call (a ping-pong sends once per message).
 */
class SendEffect extends Effectable.Class<void, SendError> {
  constructor(
    readonly stream: SocketStreamImpl,
    readonly data: Uint8Array | ReadonlyArray<Uint8Array>,
  ) {
    super()
  }

  commit(): Effect.Effect<void, SendError> {
    return this.stream.sendNow(this.data)
  }

  /**
   * `yield* conn.send(data)`: the send runs in the generator step, and a
   * send the socket takes at once finishes there (see `inlineYield.ts`).
   */
  override [Symbol.iterator](): Effect.EffectGenerator<Effect.Effect<void, SendError>> {
    if (inlineFiber() === undefined) return plainIterator(this)
    const effect = this.stream.sendNow(this.data)
    return (effect === Effect.void ? doneVoid : plainIterator(effect)) as unknown as Effect.EffectGenerator<
      Effect.Effect<void, SendError>
    >
  }
}

/**
 * A send parked until the socket drains: what the parked fiber is resumed
 * with (it runs the send again, so the bytes are written by the sending
 * fiber itself, never by the drain callback: an interrupted send writes
 * nothing), and the park's state (the fiber and its resume callback).
 *
 * @internal
 */
export class ParkedSend extends Effectable.Class<void, SendError> {
  /** The parked fiber's resume callback, until it is woken. */
  resume: ((effect: Effect.Effect<void, SendError>) => void) | undefined = undefined

  constructor(
    readonly stream: SocketStreamImpl,
    readonly data: Uint8Array | ReadonlyArray<Uint8Array>,
    /** The fiber that parked (`undefined`: not published, the park has a canceler). */
    readonly fiber: ParkingFiber | undefined,
  ) {
    super()
  }

  commit(): Effect.Effect<void, SendError> {
    return this.stream.sendNow(this.data, this)
  }

  /** {@link leanPark}'s registration. */
  register(resume: (effect: Effect.Effect<void, SendError>) => void): void {
    this.stream.registerWriter(this, resume)
  }
}

/** @internal */
export const invalidMaxBytes = (value: unknown) =>
  new InvalidArgument({ argument: "maxBytes", reason: "must be an integer >= 1", value })

type ParkingFiber = Fiber.RuntimeFiber<unknown, unknown>

/** What a fiber parks on through {@link leanPark}: a stream's receive, or a {@link ParkedSend}. */
interface Parker {
  register(resume: (effect: Effect.Effect<unknown, unknown>) => void): void
}

/**
 * What a fiber is about to park on, and that fiber: set by {@link parkOn}
 * (from `runReceive`, or a send that waits for the socket to drain), taken
 * by the park's registration, which runs next on the same fiber. A fiber
 * may yield in between (Effect yields every `maxOpsBeforeYield` operations)
 * and another fiber park meanwhile: the earlier pair then moves to
 * `parkingLater`, where the registration finds it by its fiber. A fiber
 * interrupted in between never registers; its pair is overwritten by the
 * next park (or cleared by `clearReader`/`clearWriter`), and its WeakMap
 * entry goes with the fiber.
 */
let parking: Parker | undefined
let parkingFiber: ParkingFiber | undefined
const parkingLater = new WeakMap<ParkingFiber, Parker>()

/** Parks the running `fiber` on `parker` (see {@link leanPark}). */
const parkOn = <A, E>(parker: Parker, fiber: ParkingFiber): Effect.Effect<A, E> => {
  if (parking !== undefined && parkingFiber !== fiber) parkingLater.set(parkingFiber as ParkingFiber, parking)
  parking = parker
  parkingFiber = fiber
  return leanPark as Effect.Effect<A, E>
}

/**
 * The wait of every stream's receive and send, one Effect for all of them: an idle
 * connection holds no park of its own (an `Effect.async` built per stream
 * is an Effect, two closures and two contexts, ~0.3 KB per idle connection
 * end). Built once (`reusableAsync`), so a wait allocates nothing of its
 * own beyond what the fiber needs to suspend. It registers no canceler: Effect then resumes an
 * interrupted park without running any code of ours, and saves the
 * interruption frames it builds around every wait that has one (an
 * `onInterrupt`: a mask, two runtime-flag changes and a match, about as
 * much work as the rest of the receive). What the canceler would clear (the
 * `receiving` mark and the parked callback) is found stale later instead,
 * by `receiveInProgress`, from the fiber that parked: a park is over once
 * that fiber is done, or is the one asking. It needs the running fiber
 * (`globalThis["effect/FiberCurrent"]`, Effect 3); where that is not
 * published, a receive parks with a canceler built per wait.
 */
const leanPark: Effect.Effect<unknown, unknown> = reusableAsync<unknown, unknown>((resume) => {
  const fiber = currentFiber()
  let parker: Parker | undefined
  if (parking !== undefined && parkingFiber === fiber) {
    parker = parking
    parking = undefined
    parkingFiber = undefined
  } else if (fiber !== undefined) {
    parker = parkingLater.get(fiber)
    parkingLater.delete(fiber)
  }
  if (parker === undefined) resume(Effect.dieMessage("netfx: a fiber parked without its stream"))
  else parker.register(resume)
})

/** {@link leanPark} as `yield*` hands it to the fiber. */
const parkWrap = new YieldWrap(leanPark)

/**
 * One stream's `receive(maxBytes)` as an Effect: a plain object with the
 * stream and the size, which Effect runs by calling `commit` (an Effect
 * `Commit`, like `Effect.suspend`). A stream keeps one for the size last
 * asked for and, once it has waited, one more (`retry`) that the data
 * callback resumes the parked fiber with. Each is three fields; the
 * `suspend` + `async` Effects and closures they replace cost ~1 KB per
 * connection, which an idle connection kept for nothing.
 *
 * @internal
 */
export class ReceiveOp extends Effectable.Class<Uint8Array, ReceiveError> {
  /** The retry of this receive (itself, for a retry); built on the first wait. */
  private retryOp: ReceiveOp | undefined

  constructor(
    readonly stream: SocketStreamImpl,
    readonly maxBytes: number,
    /** Set for a retry: the attempt it retries. */
    attempt: ReceiveOp | undefined,
  ) {
    super()
    this.retryOp = attempt === undefined ? undefined : this
  }

  /** Whether this is the parked fiber's resumption, not a new receive. */
  get woken(): boolean {
    return this.retryOp === this
  }

  get retry(): ReceiveOp {
    if (this.retryOp === undefined) this.retryOp = new ReceiveOp(this.stream, this.maxBytes, this)
    return this.retryOp
  }

  commit(): Effect.Effect<Uint8Array, ReceiveError> {
    return this.stream.runReceive(this)
  }

  /**
   * `yield* conn.receive()`: the receive runs in the generator step; bytes
   * already buffered finish it there, a wait yields the park to the fiber
   * with one object instead of Effect's four (see `inlineYield.ts`).
   */
  override [Symbol.iterator](): Effect.EffectGenerator<Effect.Effect<Uint8Array, ReceiveError>> {
    if (inlineFiber() === undefined) return plainIterator(this)
    const step = this.stream.receiveStep(this)
    return (step instanceof Uint8Array
      ? new Done(step)
      : step === leanPark
        ? new YieldOnce(parkWrap)
        : plainIterator(step)) as unknown as Effect.EffectGenerator<Effect.Effect<Uint8Array, ReceiveError>>
  }
}

/**
 * The one implementation of the byte-stream contract, shared by every
 * runtime. State machine, no fibers: a receive completes synchronously when
 * bytes are buffered, otherwise it parks one callback that the socket's own
 * data event wakes.
 *
 * @internal
 */
export class SocketStreamImpl implements SocketStream, ConnectionHandlers {
  // `TypeId` lives on the prototype (below), and the addresses, family and
  // descriptor are read from `raw`: fields an idle connection would keep
  // twice otherwise.
  declare readonly [TypeId]: typeof TypeId

  /** How many chunks arrived so far (the `serve` idle timeout watches it). */
  receivedChunks = 0
  /** Bytes read ahead and not yet received; the shared empty array until the first chunk. */
  private chunks: Array<Uint8Array> = noChunks
  private buffered = 0
  private paused = false
  private readonly highWaterMark: number

  private eof = false
  private failure: BrokenResource | undefined = undefined
  private closed = false
  private eofSent = false

  /** true while a receive is parked or woken but not yet run again. */
  private receiving = false

  private needDrain = false
  /** The send waiting for the socket to drain (parked, or woken but not yet run again). */
  private parkedSend: ParkedSend | undefined = undefined

  constructor(
    readonly raw: RawConnection,
    options?: SocketStreamOptions,
  ) {
    this.highWaterMark = options?.highWaterMark ?? DEFAULT_HIGH_WATER_MARK
    raw.start(this)
  }

  get localAddress(): SocketAddress.SocketAddress {
    return this.raw.localAddress
  }

  get remoteAddress(): SocketAddress.SocketAddress {
    return this.raw.remoteAddress
  }

  get family(): SocketAddress.Family {
    return SocketAddress.family(this.raw.remoteAddress)
  }

  get fd(): number | undefined {
    return this.raw.fd
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
    if (this.chunks === noChunks) this.chunks = [chunk]
    else this.chunks.push(chunk)
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
    const resume = this.resumeReader
    if (resume !== undefined) {
      const retry = this.parked as ReceiveOp
      this.resumeReader = undefined
      this.parked = undefined
      // `receiving` stays true until the fiber runs `retry`
      resumeFromIo(resume, retry)
    }
  }

  private wakeWriter(): void {
    const parked = this.parkedSend
    const resume = parked?.resume
    if (resume !== undefined) {
      ;(parked as ParkedSend).resume = undefined
      // `parkedSend` stays set until the fiber runs the send again
      resumeFromIo(resume, parked as ParkedSend)
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
    } else if (first.length === maxBytes || this.chunks.length === 1 || first.length >= COALESCE_BELOW) {
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

  /**
   * Whether a receive would fail with `EndOfStream` at once: the peer ended
   * the stream and every byte it sent was taken (no failure, not closed). A
   * snapshot, for `BufferedStream.atEof` (asyncio's `at_eof()`).
   *
   * @internal
   */
  get endReached(): boolean {
    return this.eof && this.buffered === 0 && this.failure === undefined && !this.closed
  }

  /**
   * Up to `maxBytes` bytes already received, taken without waiting;
   * `undefined` when none are buffered, the stream is closed, or a receive
   * is in progress (its bytes are not taken from under it). For the asyncio
   * reader, whose buffer holds everything that arrived.
   *
   * @internal
   */
  takeAvailable(maxBytes: number): Uint8Array | undefined {
    if (this.closed || this.buffered === 0) return undefined
    if (this.receiving && this.receiveInProgress()) return undefined
    return this.take(maxBytes)
  }

  /** Synchronous attempt: the bytes, the failure, or `undefined` for "must wait". */
  private poll(maxBytes: number): Uint8Array | Effect.Effect<never, ReceiveError> | undefined {
    if (this.closed) return Effect.fail(closedReceive)
    if (this.buffered > 0) return this.take(maxBytes)
    if (this.failure !== undefined) return Effect.fail(this.failureIn("receive"))
    if (this.eof) return failEndOfStream()
    return undefined
  }

  /**
   * The last `receive(maxBytes)` Effect built, reused while callers ask for
   * the same `maxBytes` (a read loop asks for the same size every time), so
   * the steady state builds no Effect and no closure per receive.
   */
  private lastReceive: ReceiveOp | undefined = undefined

  receive(maxBytes: number = DEFAULT_RECEIVE): Effect.Effect<Uint8Array, ReceiveError> {
    const last = this.lastReceive
    if (last !== undefined && last.maxBytes === maxBytes) return last
    if (!Number.isInteger(maxBytes) || maxBytes < 1) return Effect.fail(invalidMaxBytes(maxBytes))
    const op = new ReceiveOp(this, maxBytes, undefined)
    this.lastReceive = op
    return op
  }

  /**
   * A receive run by a fiber (`ReceiveOp.commit`). Bytes are taken by the
   * receiving fiber itself, never by the data callback: the callback only
   * wakes the fiber, so an interruption racing the wake-up leaves the bytes
   * buffered.
   *
   * @internal
   */
  runReceive(op: ReceiveOp): Effect.Effect<Uint8Array, ReceiveError> {
    const step = this.receiveStep(op)
    return step instanceof Uint8Array ? Effect.succeed(step) : step
  }

  /**
   * {@link runReceive}'s work: the bytes taken, or the Effect to run (a
   * failure, or the park).
   *
   * @internal
   */
  receiveStep(op: ReceiveOp): Uint8Array | Effect.Effect<Uint8Array, ReceiveError> {
    if (op.woken) {
      // the parked fiber, resumed by `wakeReader`
      this.receiving = false
      this.readerFiber = undefined
      wakeDone()
    } else if (this.receiving && this.receiveInProgress()) {
      return Effect.fail(busyReceive)
    }
    const polled = this.poll(op.maxBytes)
    if (polled !== undefined) return polled
    this.parked = op.retry
    const fiber = currentFiber()
    this.readerFiber = fiber
    if (fiber === undefined) return this.parkCancelable()
    // in progress from now on, also while the fiber is between here and its park
    this.receiving = true
    return parkOn(this, fiber)
  }

  /** The park with a canceler, where the running fiber is not published (see {@link leanPark}). */
  private parkCancelable(): Effect.Effect<Uint8Array, ReceiveError> {
    return Effect.async<Uint8Array, ReceiveError>((resume) => {
      this.register(resume)
      return Effect.sync(() => {
        wakeDone()
        this.clearReader()
      })
    })
  }

  /** @internal Parks the receive: `resume` is called with `parked` when the socket has news. */
  register(resume: (effect: Effect.Effect<Uint8Array, ReceiveError>) => void): void {
    this.receiving = true
    this.resumeReader = resume
    wakeInline()
    if (this.buffered > 0 || this.eof || this.failure !== undefined || this.closed) {
      // news arrived while the fiber was on its way here (it yielded in between): no wait
      this.wakeReader()
      return
    }
    if (this.paused && this.buffered < this.highWaterMark) {
      this.paused = false
      this.raw.resume()
    }
  }

  /** The parked receive's resume callback, and what it resumes with (the parked receive's `retry`). */
  private resumeReader: ((effect: Effect.Effect<Uint8Array, ReceiveError>) => void) | undefined = undefined
  private parked: ReceiveOp | undefined = undefined
  /** The fiber parked in (or woken from) `leanPark`. */
  private readerFiber: Fiber.RuntimeFiber<unknown, unknown> | undefined = undefined

  private clearReader(): void {
    this.resumeReader = undefined
    this.parked = undefined
    this.readerFiber = undefined
    this.receiving = false
    if (parking === this) {
      parking = undefined
      parkingFiber = undefined
    }
  }

  /**
   * Whether a receive is really in progress while `receiving` is set: after
   * an interrupted `leanPark` nobody cleared the mark, and it is cleared
   * here once the parked fiber is done (`Fiber.interrupt`, a race or a
   * timeout wait for that) or is the caller itself (it cannot be parked and
   * asking at once). Bytes that arrived meanwhile stay buffered for the
   * next receive.
   */
  private receiveInProgress(): boolean {
    const fiber = this.readerFiber
    if (fiber === undefined || holdsSlot(fiber, currentFiber())) return true
    this.clearReader()
    return false
  }

  // ---- send ----

  send(data: Uint8Array | ReadonlyArray<Uint8Array>): Effect.Effect<void, SendError> {
    return new SendEffect(this, data)
  }

  /**
   * @internal What a `send` Effect does when it runs; `woken` is the parked
   * send the fiber was resumed with, run again. A send waits for the
   * socket to drain as a receive waits for bytes (the shared
   * {@link leanPark}: no canceler, woken inline from the drain callback),
   * and the bytes are written when the woken fiber runs the send again, so
   * an interruption racing the wake-up writes nothing.
   */
  sendNow(data: Uint8Array | ReadonlyArray<Uint8Array>, woken?: ParkedSend): Effect.Effect<void, SendError> {
    let busy = false
    if (woken !== undefined) {
      if (this.parkedSend === woken) this.clearWriter()
      wakeDone()
    } else busy = this.parkedSend !== undefined && this.sendInProgress()
    if (this.closed) return Effect.fail(closedSend)
    if (this.failure !== undefined) return Effect.fail(this.failureIn("send"))
    if (this.eofSent) return Effect.fail(new ClosedResource({ operation: "send after sendEof" }))
    if (busy) return Effect.fail(busySend)
    const length = byteLength(data)
    if (length <= 0) return length === 0 ? Effect.void : Effect.fail(notBytes(data))
    if (!this.needDrain) {
      this.write(data)
      return Effect.void
    }
    // in progress from now on, also while the fiber is between here and its park
    const fiber = currentFiber()
    const parked = new ParkedSend(this, data, fiber)
    this.parkedSend = parked
    if (fiber !== undefined) return parkOn(parked, fiber)
    // the running fiber is not published: a park with a canceler
    return Effect.async<void, SendError>((resume) => {
      this.registerWriter(parked, resume)
      return Effect.sync(() => {
        wakeDone()
        if (this.parkedSend === parked) this.clearWriter()
      })
    })
  }

  /** @internal Parks a send until the socket drains: `resume` is called with `parked` then. */
  registerWriter(parked: ParkedSend, resume: (effect: Effect.Effect<void, SendError>) => void): void {
    if (this.parkedSend !== parked) {
      // the send was given up (its fiber done) before it got here
      resume(parked)
      return
    }
    parked.resume = resume
    wakeInline()
    // the socket drained, closed or failed while the fiber was on its way here: no wait
    if (!this.needDrain || this.closed || this.failure !== undefined) this.wakeWriter()
  }

  private clearWriter(): void {
    const parked = this.parkedSend
    this.parkedSend = undefined
    if (parked !== undefined && parking === parked) {
      parking = undefined
      parkingFiber = undefined
    }
  }

  /**
   * Whether a send is really waiting while `parkedSend` is set: after an
   * interrupted park nobody cleared it, and it is cleared here once the
   * parked fiber is done or is the caller itself (see `receiveInProgress`).
   */
  private sendInProgress(): boolean {
    const fiber = (this.parkedSend as ParkedSend).fiber
    if (fiber === undefined || holdsSlot(fiber, currentFiber())) return true
    this.clearWriter()
    return false
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

  /**
   * Called once when the stream closes locally (used by listeners to track
   * live connections). Undefined on the prototype, like `forward`: set on
   * few streams, so not a field of every one (see the note at the end).
   */
  declare onClosed: (() => void) | undefined

  /** @internal */
  closeNow(): void {
    if (this.closed) return
    this.closed = true
    this.onClosed?.()
    const unread = this.buffered > 0
    this.chunks = noChunks
    this.buffered = 0
    this.raw.close(unread)
    this.wakeReader()
    this.wakeWriter()
  }

  /** After `detach`: where the runtime's events go now (undefined on the prototype until then). */
  declare private forward: ConnectionHandlers | undefined

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
    if (this.receiving && this.receiveInProgress()) return "has a receive in progress"
    if (this.parkedSend !== undefined && this.sendInProgress()) return "has a send in progress"
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
    this.chunks = noChunks
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
// on the prototype: `isSocketStream` checks it with `in`
;(SocketStreamImpl.prototype as { [TypeId]: typeof TypeId })[TypeId] = TypeId
// Rarely set fields live on the prototype (as undefined) until a stream sets
// its own: every field an idle connection carries counts, and JSC sizes an
// object by its fields in steps (13-18 fields: 160 bytes, 19-24: 224), so
// 18 fields instead of 20 take 64 bytes off every stream on Bun.
Object.assign(SocketStreamImpl.prototype, { onClosed: undefined, forward: undefined })
