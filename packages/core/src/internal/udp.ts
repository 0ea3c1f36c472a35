import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type * as Datagram from "../Datagram.ts"
import type { RawUdpSocket, UdpHandlers, UdpOption } from "../Driver.ts"
import {
  BusyResource,
  ClosedResource,
  type ConnectFailed,
  InvalidArgument,
  ListenFailed,
  OperationFailed,
  ResolveFailed,
  type Unsupported,
} from "../NetError.ts"
import * as Network from "../Network.ts"
import * as Resolver from "../Resolver.ts"
import * as SocketAddress from "../SocketAddress.ts"
import type {
  BindOptions,
  ConnectedUdpSocket,
  ConnectOptions,
  Destination,
  MulticastGroup,
  OptionError,
  OverflowPolicy,
  SendError,
  UdpSocket,
} from "../Udp.ts"
import { holdsSlot, reusableAsync } from "./asyncPrimitive.ts"
import { notDatagram } from "./bytes.ts"
import * as validate from "./validate.ts"

/** @internal */
export const DEFAULT_QUEUE_SIZE = 256

type IpAddress = SocketAddress.Ipv4 | SocketAddress.Ipv6
type Errno = { readonly code: string; readonly syscall?: string | undefined; readonly cause: unknown }
type Received = Datagram.ReceivedDatagram<IpAddress>
type ReceiveError = Datagram.ReceiveError
/** What a receive with valid arguments can fail with. */
type TakeError = ClosedResource | BusyResource | OperationFailed

/** How many datagrams one pull of `packets` takes at most (all that are queued, up to this). */
const PACKETS_BATCH = 1024

const setImmediateOrTimeout: (f: () => void) => void =
  typeof globalThis.setImmediate === "function" ? (f) => globalThis.setImmediate(f) : (f) => setTimeout(f, 0)

/** A datagram cut to `maxBytes` (copied, so the discarded rest is not retained). */
const cut = (d: Received, maxBytes: number | undefined): Received =>
  maxBytes === undefined || d.data.length <= maxBytes
    ? d
    : { data: d.data.slice(0, maxBytes), address: d.address, truncated: true }

const checkMax = (argument: string, n: number | undefined): InvalidArgument | undefined =>
  n === undefined || (Number.isInteger(n) && n >= 1)
    ? undefined
    : new InvalidArgument({ argument, reason: "must be an integer >= 1", value: n })

const busyReceive = new BusyResource({ operation: "receive" })

/**
 * The one UDP socket state machine shared by every runtime: a bounded
 * ring of datagrams with an explicit overflow policy, one pull receiver at
 * a time (interruption-safe: the fiber takes the datagrams itself after it
 * is woken), sends that wait for the runtime's completion callback, and a
 * one-shot asynchronous error (ICMP) reported on the next receive or send.
 *
 * With `coalesce`, a waiting receiver is woken once per event-loop turn
 * (setImmediate, after the poll phase) rather than once per datagram: the
 * runtime delivers each datagram in its own callback and runs microtasks
 * after each, so an immediate wake-up would resume the fiber for every
 * datagram; deferred, one wake-up takes the whole burst. Except when the
 * queue fills up: then the reader is woken at once (it runs in the
 * microtask checkpoint after that datagram's callback), so a turn that
 * delivers more datagrams than the queue holds does not drop them while a
 * receiver is waiting.
 *
 * @internal
 */
export class UdpSocketImpl implements UdpHandlers {
  raw!: RawUdpSocket
  private readonly ring: Array<Received | undefined>
  private head = 0
  private count = 0
  private droppedCount = 0
  private pending: Errno | undefined = undefined
  private closed = false
  private readWaiter: (() => void) | undefined = undefined
  private wakeScheduled = false
  private readonly sendWaiters = new Set<() => void>()
  private readonly memberships = new Set<string>()

  constructor(
    readonly capacity: number,
    readonly overflow: OverflowPolicy,
    readonly resolver: Resolver.ResolverService,
    readonly coalesce: boolean,
  ) {
    this.ring = new Array<Received | undefined>(capacity)
  }

  // ---- handlers (called by the runtime) ----

  onMessage(data: Uint8Array, address: IpAddress): void {
    if (this.closed) return
    if (this.count === this.capacity) {
      this.droppedCount++
      if (this.overflow === "dropNewest") return
      this.ring[this.head] = undefined
      this.head = (this.head + 1) % this.capacity
      this.count--
    }
    this.ring[(this.head + this.count) % this.capacity] = { data, address, truncated: false }
    this.count++
    if (this.readWaiter === undefined) return
    // A full queue wakes the reader at once: the runtime may deliver more
    // datagrams in this turn than the queue holds, and waiting for the end of
    // the turn would drop them while a receiver is ready to take them.
    if (!this.coalesce || this.count === this.capacity) this.wakeReader()
    else if (!this.wakeScheduled) {
      this.wakeScheduled = true
      setImmediateOrTimeout(this.deferredWake)
    }
  }

  onError(error: Errno): void {
    if (this.closed) return
    this.pending = error
    this.wakeReader()
  }

  private readonly deferredWake = (): void => {
    this.wakeScheduled = false
    this.wakeReader()
  }

  private wakeReader(): void {
    const w = this.readWaiter
    if (w !== undefined) {
      this.readWaiter = undefined
      w()
    }
  }

  // ---- facts ----

  get localAddress(): IpAddress {
    return this.raw.localAddress
  }
  get family(): "ipv4" | "ipv6" {
    return this.raw.localAddress._tag === "Ipv6" ? "ipv6" : "ipv4"
  }
  get fd(): number | undefined {
    return this.raw.fd
  }
  get dropped(): Effect.Effect<number> {
    return Effect.sync(() => this.droppedCount)
  }
  get queued(): Effect.Effect<number> {
    return Effect.sync(() => this.count)
  }

  private takePending(operation: string): OperationFailed | undefined {
    const p = this.pending
    if (p === undefined) return undefined
    this.pending = undefined
    return new OperationFailed({
      operation,
      code: p.code,
      syscall: p.syscall,
      address: this.raw.remoteAddress,
      cause: p.cause,
    })
  }

  // ---- receive ----

  private shift(): Received {
    const d = this.ring[this.head] as Received
    this.ring[this.head] = undefined
    this.head = (this.head + 1) % this.capacity
    this.count--
    return d
  }

  /** Takes up to `max` queued datagrams; `undefined` when there is nothing to report yet. */
  private poll(max: number, maxBytes: number | undefined): Effect.Effect<Array<Received>, TakeError> | undefined {
    if (this.closed) return Effect.fail(new ClosedResource({ operation: "receive" }))
    if (this.count > 0) {
      const n = Math.min(max, this.count)
      const out = new Array<Received>(n)
      for (let i = 0; i < n; i++) out[i] = cut(this.shift(), maxBytes)
      return Effect.succeed(out)
    }
    const failure = this.takePending("receive")
    if (failure !== undefined) return Effect.fail(failure)
    return undefined
  }

  /** Up to `max` datagrams (at least one), waiting for the first. */
  receiveBatch(max: number, maxBytes: number | undefined): Effect.Effect<Array<Received>, ReceiveError> {
    const bad = checkMax("max", max) ?? checkMax("maxBytes", maxBytes)
    return bad !== undefined ? Effect.fail(bad) : this.take(max, maxBytes)
  }

  /** {@link receiveBatch} with arguments known to be valid. */
  take(max: number, maxBytes: number | undefined): Effect.Effect<Array<Received>, TakeError> {
    return Effect.withFiberRuntime((fiber) => {
      if (this.busy(fiber)) return Effect.fail(busyReceive)
      return this.poll(max, maxBytes) ?? this.park(fiber, max, maxBytes)
    })
  }

  receiveOne(maxBytes: number | undefined): Effect.Effect<Received, ReceiveError> {
    const bad = checkMax("maxBytes", maxBytes)
    if (bad !== undefined) return Effect.fail(bad)
    return Effect.withFiberRuntime((fiber): Effect.Effect<Received, TakeError> => {
      if (this.busy(fiber)) return Effect.fail(busyReceive)
      if (this.count > 0) return Effect.succeed(cut(this.shift(), maxBytes))
      return Effect.map(this.poll(1, maxBytes) ?? this.park(fiber, 1, maxBytes), (a) => a[0] as Received)
    })
  }

  // The receiver parks in one wait built once per socket (`reusableAsync`),
  // with no canceler, as SocketStream's receive does. Per wait, the
  // `Effect.async` + canceler it replaces built a dozen objects (the
  // primitive, its proxy resume and closures, the `onInterrupt` frames:
  // onExit, uninterruptibleMask, matchCauseEffect) and a retry/wait closure
  // pair; under a datagram flood those objects, made once per wake-up, were
  // what survived V8's scavenges (every wait's since the last scavenge,
  // 1-2 MB each time on Node 24), which made the scavenges long enough to
  // overflow the socket's buffer (bench/README.md, UDP). Without a canceler
  // a fiber interrupted while parked leaves `parked` set: the receive slot
  // is free again once that fiber is done, or at once for that same fiber
  // (`busy`). A late wake-up of an interrupted fiber is ignored by Effect,
  // and the datagrams stay queued: the fiber takes them itself (`retry`),
  // only when it really resumes.

  /** The fiber parked in {@link wait}, or interrupted there and not done yet. */
  private parked: Fiber.RuntimeFiber<unknown, unknown> | undefined = undefined
  private parkMax = 1
  private parkMaxBytes: number | undefined = undefined
  private resumeParked: ((effect: Effect.Effect<Array<Received>, TakeError>) => void) | undefined = undefined

  /** Whether another receive holds the socket's one receive slot (freeing it if that receive was abandoned). */
  private busy(fiber: Fiber.RuntimeFiber<unknown, unknown>): boolean {
    const p = this.parked
    if (p === undefined) return false
    if (holdsSlot(p, fiber)) return true
    this.release()
    return false
  }

  private release(): void {
    this.parked = undefined
    this.resumeParked = undefined
    if (this.readWaiter === this.wakeParked) this.readWaiter = undefined
  }

  private readonly retry: Effect.Effect<Array<Received>, TakeError> = Effect.suspend(() => {
    const r = this.poll(this.parkMax, this.parkMaxBytes)
    if (r === undefined) return this.wait
    this.release()
    return r
  })

  /** Built once per socket (`reusableAsync`): a wait allocates nothing of its own. */
  private readonly wait: Effect.Effect<Array<Received>, TakeError> = reusableAsync((resume) => {
    this.resumeParked = resume
    this.readWaiter = this.wakeParked
  })

  /** Only wakes the fiber: it takes the datagrams itself (`retry`), so an interruption racing the wake-up leaves them queued. */
  private readonly wakeParked = (): void => {
    const resume = this.resumeParked
    this.resumeParked = undefined
    if (resume !== undefined) resume(this.retry)
  }

  private park(
    fiber: Fiber.RuntimeFiber<unknown, unknown>,
    max: number,
    maxBytes: number | undefined,
  ): Effect.Effect<Array<Received>, TakeError> {
    this.parked = fiber
    this.parkMax = max
    this.parkMaxBytes = maxBytes
    return this.wait
  }

  // ---- send ----

  private sendFailed(operation: string, error: Errno, address: IpAddress | undefined): OperationFailed {
    return new OperationFailed({
      operation,
      code: error.code,
      syscall: error.syscall,
      address: address ?? this.raw.remoteAddress,
      cause: error.cause,
    })
  }

  /**
   * Runs `start`, which hands datagrams to the runtime and calls `finish`
   * once with the outcome (or never, if the socket closes first). A runtime
   * that completes at once (Bun; Node sending on the descriptor) costs no
   * fiber suspension; one that completes later (node:dgram: on the next
   * tick) suspends the fiber once.
   *
   * No canceler on purpose: an interrupted send leaves its completion
   * pending (the runtime calls back exactly once, which removes the close
   * waiter), and Effect ignores a resume after interruption. A canceler
   * would make every send several times dearer (Effect wraps it in
   * `onInterrupt`).
   */
  private complete(
    operation: string,
    start: (finish: (outcome: Effect.Effect<void, OperationFailed>) => void) => void,
  ): Effect.Effect<void, ClosedResource | OperationFailed> {
    return Effect.suspend((): Effect.Effect<void, ClosedResource | OperationFailed> => {
      if (this.closed) return Effect.fail(new ClosedResource({ operation }))
      const failure = this.takePending(operation)
      if (failure !== undefined) return Effect.fail(failure)
      let outcome: Effect.Effect<void, ClosedResource | OperationFailed> | undefined
      let resume: ((effect: Effect.Effect<void, ClosedResource | OperationFailed>) => void) | undefined
      let waiting = false
      const finish = (effect: Effect.Effect<void, ClosedResource | OperationFailed>) => {
        if (outcome !== undefined) return
        outcome = effect
        if (waiting) this.sendWaiters.delete(onClose)
        if (resume !== undefined) resume(effect)
      }
      const onClose = () => finish(Effect.fail(new ClosedResource({ operation })))
      start(finish)
      if (outcome !== undefined) return outcome
      waiting = true
      this.sendWaiters.add(onClose)
      return Effect.async<void, ClosedResource | OperationFailed>((r) => {
        if (outcome !== undefined) r(outcome)
        else resume = r
      })
    })
  }

  sendRaw(
    data: Uint8Array,
    address: IpAddress | undefined,
    operation: string,
  ): Effect.Effect<void, ClosedResource | OperationFailed | InvalidArgument> {
    // what the types forbid and a JavaScript caller can pass (a string, null, ...)
    if (!(data instanceof Uint8Array)) return Effect.fail(notDatagram(data))
    return this.complete(operation, (finish) =>
      this.raw.send(data, address, (error) =>
        finish(error === undefined ? Effect.void : Effect.fail(this.sendFailed(operation, error, address))),
      ),
    )
  }

  /**
   * Hands every datagram to the runtime in order without waiting in
   * between, and completes when the runtime accepted all of them; fails with
   * the first failure reported (a runtime that reports failures at once —
   * Bun, Node sending on the descriptor — stops there; one that reports
   * them later — node:dgram — may have sent later datagrams already).
   */
  sendBatch(
    datagrams: ReadonlyArray<Uint8Array>,
    addresses: ReadonlyArray<IpAddress> | undefined,
    operation: string,
  ): Effect.Effect<void, ClosedResource | OperationFailed | InvalidArgument> {
    // the datagrams before one that is no Uint8Array go, then the batch fails with InvalidArgument
    let n = 0
    while (n < datagrams.length && datagrams[n] instanceof Uint8Array) n++
    if (n < datagrams.length) {
      const bad = Effect.fail(notDatagram(datagrams[n]))
      return n === 0 ? bad : Effect.zipRight(this.sendBatch(datagrams.slice(0, n), addresses, operation), bad)
    }
    if (n === 0) return Effect.void
    return this.complete(operation, (finish) => {
      let remaining = n
      let failed = false
      for (let i = 0; i < n && !failed; i++) {
        const address = addresses === undefined ? undefined : addresses[i]
        this.raw.send(datagrams[i] as Uint8Array, address, (error) => {
          if (error !== undefined) {
            failed = true
            finish(Effect.fail(this.sendFailed(operation, error, address)))
          } else if (--remaining === 0) finish(Effect.void)
        })
      }
    })
  }

  /** The numeric address a destination goes to, or the effect resolving it. */
  private target(to: Destination): IpAddress | Effect.Effect<IpAddress, SendError> {
    if (this.closed) return Effect.fail(new ClosedResource({ operation: "sendTo" }))
    const { host, port } = to ?? ({} as Partial<Destination>)
    if (typeof host !== "string")
      return Effect.fail(new InvalidArgument({ argument: "to", reason: "must be { host, port }", value: to }))
    if (!Number.isInteger(port) || (port as number) < 1 || (port as number) > 65535)
      return Effect.fail(
        new InvalidArgument({ argument: "port", reason: "must be an integer in 1..65535", value: port }),
      )
    const p = port as number
    // a received datagram's address is already in this socket's family
    if ("_tag" in to && to._tag === this.raw.localAddress._tag) return to as IpAddress
    const bare = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host
    const numeric = SocketAddress.numericFamily(bare)
    if (numeric !== 0) {
      const target = this.destination(SocketAddress.ip(bare, p))
      return target._tag === "Left" ? Effect.fail(target.left) : target.right
    }
    return this.resolveFor(host, p)
  }

  sendTo(data: Uint8Array, to: Destination): Effect.Effect<void, SendError> {
    return Effect.suspend(() => {
      const target = this.target(to)
      return Effect.isEffect(target)
        ? Effect.flatMap(target, (address) => this.sendRaw(data, address, "sendTo"))
        : this.sendRaw(data, target, "sendTo")
    })
  }

  sendMany(datagrams: Iterable<Datagram.OutgoingDatagram<Destination>>): Effect.Effect<void, SendError> {
    return Effect.suspend(() => {
      const data: Array<Uint8Array> = []
      const addresses: Array<IpAddress> = []
      const lookups: Array<Effect.Effect<void, SendError>> = []
      for (const d of datagrams) {
        const i = data.length
        data.push(d.data)
        const target = this.target(d.address)
        if (Effect.isEffect(target))
          lookups.push(
            Effect.map(target, (a) => {
              addresses[i] = a
            }),
          )
        else addresses[i] = target
      }
      const send = this.sendBatch(data, addresses, "sendTo")
      return lookups.length === 0 ? send : Effect.zipRight(Effect.all(lookups, { discard: true }), send)
    })
  }

  /** Maps a destination to this socket's family (IPv4 → v4-mapped on an IPv6 socket). */
  private destination(
    address: IpAddress,
  ): { readonly _tag: "Right"; readonly right: IpAddress } | { readonly _tag: "Left"; readonly left: InvalidArgument } {
    const mine = this.raw.localAddress._tag
    if (address._tag === mine) return { _tag: "Right", right: address }
    if (mine === "Ipv6" && address._tag === "Ipv4")
      return { _tag: "Right", right: SocketAddress.ipv6(`::ffff:${address.host}`, address.port) }
    return {
      _tag: "Left",
      left: new InvalidArgument({
        argument: "host",
        reason: `an IPv6 destination cannot be reached from an IPv4 socket (bound to ${SocketAddress.format(this.raw.localAddress)})`,
        value: address.host,
      }),
    }
  }

  private resolveFor(host: string, port: number): Effect.Effect<IpAddress, ResolveFailed | InvalidArgument> {
    const v4 = this.raw.localAddress._tag === "Ipv4"
    return Effect.flatMap(
      Resolver.lookup(this.resolver, host, port, { family: v4 ? 4 : 0, type: "dgram" }),
      (infos): Effect.Effect<IpAddress, ResolveFailed | InvalidArgument> => {
        // An IPv6 socket prefers IPv6 results and falls back to v4-mapped.
        const pick = v4 ? infos.find((i) => i.family === 4) : (infos.find((i) => i.family === 6) ?? infos[0])
        if (pick === undefined) return Effect.fail(new ResolveFailed({ host, code: "EAI_ADDRFAMILY" }))
        const target = this.destination(pick.address)
        return target._tag === "Left" ? Effect.fail(target.left) : Effect.succeed(target.right)
      },
    )
  }

  // ---- options ----

  setOption(option: UdpOption): Effect.Effect<void, OptionError> {
    return Effect.suspend((): Effect.Effect<void, OptionError> => {
      if (this.closed) return Effect.fail(new ClosedResource({ operation: `set ${option._tag}` }))
      const error = this.raw.setOption(option)
      return error === undefined ? Effect.void : Effect.fail(error)
    })
  }

  setTtl(ttl: number, tag: "Ttl" | "MulticastTtl", min: number): Effect.Effect<void, OptionError> {
    if (!Number.isInteger(ttl) || ttl < min || ttl > 255)
      return Effect.fail(
        new InvalidArgument({ argument: "ttl", reason: `must be an integer in ${min}..255`, value: ttl }),
      )
    return this.setOption({ _tag: tag, ttl })
  }

  joinMulticastGroup(options: MulticastGroup): Effect.Effect<void, OptionError, Scope.Scope> {
    const { group, source } = options
    const family = SocketAddress.numericFamily(group)
    const mine = this.raw.localAddress._tag === "Ipv6" ? 6 : 4
    if (!isMulticast(group) || (family === 6 && mine === 4))
      return Effect.fail(
        new InvalidArgument({
          argument: "group",
          reason: `must be a multicast address (224.0.0.0/4 or ff00::/8) usable on this ${mine === 4 ? "IPv4" : "IPv6"} socket`,
          value: group,
        }),
      )
    if (source !== undefined && SocketAddress.numericFamily(source) !== family)
      return Effect.fail(
        new InvalidArgument({
          argument: "source",
          reason: "must be a numeric address of the group's family",
          value: source,
        }),
      )
    const key = `${group}|${options.interface ?? ""}|${source ?? ""}`
    const request = { group, interface: options.interface, source }
    return Effect.acquireRelease(
      Effect.tap(this.setOption({ _tag: "JoinGroup", ...request }), () => Effect.sync(() => this.memberships.add(key))),
      () =>
        Effect.sync(() => {
          // Closing the socket leaves every group; only leave while it is open.
          if (this.closed || !this.memberships.delete(key)) return
          this.raw.setOption({ _tag: "LeaveGroup", ...request })
        }),
    )
  }

  // ---- close ----

  get close(): Effect.Effect<void> {
    return Effect.sync(() => this.closeNow())
  }

  closeNow(): void {
    if (this.closed) return
    this.closed = true
    this.ring.fill(undefined)
    this.count = 0
    this.memberships.clear()
    this.raw.close()
    this.wakeReader()
    const waiters = [...this.sendWaiters]
    this.sendWaiters.clear()
    for (const w of waiters) w()
  }
}

/** @internal */
export const endOnClose = <A, E>(effect: Effect.Effect<A, E | ClosedResource>): Effect.Effect<A, Option.Option<E>> =>
  Effect.mapError(effect, (e) =>
    typeof e === "object" && e !== null && (e as { _tag?: unknown })._tag === "ClosedResource"
      ? Option.none()
      : Option.some(e as E),
  )

const base = (impl: UdpSocketImpl) => ({
  localAddress: impl.localAddress,
  family: impl.family,
  fd: impl.fd,
  dropped: impl.dropped,
  queued: impl.queued,
  setBroadcast: (enabled: boolean) => impl.setOption({ _tag: "Broadcast", enabled }),
  setTtl: (ttl: number) => impl.setTtl(ttl, "Ttl", 1),
  close: impl.close,
})

const nonEmpty = <A>(as: Array<A>) => Chunk.unsafeFromNonEmptyArray(as as unknown as readonly [A, ...Array<A>])

const makeSocket = (impl: UdpSocketImpl): UdpSocket => ({
  ...base(impl),
  receive: (maxBytes) => impl.receiveOne(maxBytes),
  receiveMany: (max, maxBytes) => Effect.map(impl.receiveBatch(max, maxBytes), nonEmpty),
  packets: Stream.repeatEffectChunkOption(
    endOnClose<Chunk.Chunk<Received>, Datagram.PacketsError>(
      Effect.map(impl.take(PACKETS_BATCH, undefined), Chunk.unsafeFromArray),
    ),
  ),
  sendTo: (data, to) => impl.sendTo(data, to),
  sendMany: (datagrams) => impl.sendMany(datagrams),
  joinMulticastGroup: (options) => impl.joinMulticastGroup(options),
  setMulticastTtl: (ttl) => impl.setTtl(ttl, "MulticastTtl", 0),
  setMulticastLoopback: (enabled) => impl.setOption({ _tag: "MulticastLoopback", enabled }),
  setMulticastInterface: (address) => impl.setOption({ _tag: "MulticastInterface", address }),
})

const dataOf = (d: Received) => d.data
const datasOf = (ds: Array<Received>) => {
  const out = new Array<Uint8Array>(ds.length)
  for (let i = 0; i < ds.length; i++) out[i] = (ds[i] as Received).data
  return out
}

const makeConnection = (impl: UdpSocketImpl, remoteAddress: IpAddress): ConnectedUdpSocket => ({
  ...base(impl),
  remoteAddress,
  receive: (maxBytes) => Effect.map(impl.receiveOne(maxBytes), dataOf),
  receiveMany: (max, maxBytes) => Effect.map(impl.receiveBatch(max, maxBytes), (ds) => nonEmpty(datasOf(ds))),
  packets: Stream.repeatEffectChunkOption(
    endOnClose<Chunk.Chunk<Uint8Array>, Datagram.PacketsError>(
      Effect.map(impl.take(PACKETS_BATCH, undefined), (ds) => Chunk.unsafeFromArray(datasOf(ds))),
    ),
  ),
  send: (data) => impl.sendRaw(data, undefined, "send"),
  sendMany: (datagrams) => impl.sendBatch(Array.from(datagrams), undefined, "send"),
})

// ---------------------------------------------------------------------------
// constructors
// ---------------------------------------------------------------------------

/** @internal */
export const isMulticast = (host: string): boolean => {
  const bare = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host
  switch (SocketAddress.numericFamily(bare)) {
    case 4: {
      const first = Number(bare.split(".")[0])
      return first >= 224 && first <= 239
    }
    case 6:
      return /^ff[0-9a-f]{2}:/i.test(bare)
    default:
      return false
  }
}

const queueOptions = (options: {
  readonly queueSize?: number | undefined
  readonly overflow?: OverflowPolicy | undefined
  readonly receiveBufferSize?: number | undefined
  readonly sendBufferSize?: number | undefined
  readonly family?: "ipv4" | "ipv6" | undefined
}) =>
  Effect.gen(function* () {
    const queueSize = yield* validate.positiveInt("queueSize", options.queueSize ?? DEFAULT_QUEUE_SIZE)
    const overflow = options.overflow ?? "dropNewest"
    if (overflow !== "dropNewest" && overflow !== "dropOldest")
      return yield* Effect.fail(
        new InvalidArgument({ argument: "overflow", reason: 'must be "dropNewest" or "dropOldest"', value: overflow }),
      )
    if (options.receiveBufferSize !== undefined)
      yield* validate.positiveInt("receiveBufferSize", options.receiveBufferSize)
    if (options.sendBufferSize !== undefined) yield* validate.positiveInt("sendBufferSize", options.sendBufferSize)
    if (options.family !== undefined && options.family !== "ipv4" && options.family !== "ipv6")
      return yield* Effect.fail(
        new InvalidArgument({ argument: "family", reason: 'must be "ipv4" or "ipv6"', value: options.family }),
      )
    return { queueSize, overflow }
  })

/** Resolves a host to one address of the wanted family (the first one the resolver gives). */
const resolveOne = (
  resolver: Resolver.ResolverService,
  argument: string,
  host: string,
  port: number,
  family: "ipv4" | "ipv6" | undefined,
): Effect.Effect<IpAddress, ResolveFailed | InvalidArgument> => {
  const bare = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host
  const numeric = SocketAddress.numericFamily(bare)
  const want = family === "ipv4" ? 4 : family === "ipv6" ? 6 : 0
  if (numeric !== 0) {
    if (want !== 0 && numeric !== want)
      return Effect.fail(new InvalidArgument({ argument, reason: `is not an ${family} address`, value: host }))
    return Effect.succeed(SocketAddress.ip(bare, port))
  }
  return Effect.flatMap(Resolver.lookup(resolver, host, port, { family: want, type: "dgram" }), (infos) => {
    const pick = want === 0 ? infos[0] : infos.find((i) => i.family === want)
    return pick === undefined
      ? Effect.fail(new ResolveFailed({ host, code: "EAI_ADDRFAMILY" }))
      : Effect.succeed({ ...pick.address, port } as IpAddress)
  })
}

const wildcard = (family: "ipv4" | "ipv6", port: number): IpAddress =>
  family === "ipv6" ? SocketAddress.ipv6("::", port) : SocketAddress.ipv4("0.0.0.0", port)

/** @internal */
export const bind = (
  options: BindOptions = {},
): Effect.Effect<
  UdpSocket,
  ListenFailed | ResolveFailed | InvalidArgument | Unsupported,
  Scope.Scope | Network.Network
> =>
  Effect.gen(function* () {
    const port = yield* validate.port("port", options.port ?? 0)
    const { queueSize, overflow } = yield* queueOptions(options)
    const udp = yield* Network.driver("udp", "UDP")
    const network = yield* Network.Network
    const address =
      options.host === undefined
        ? wildcard(options.family ?? "ipv4", port)
        : yield* resolveOne(network.resolver, "host", yield* validate.host("host", options.host), port, options.family)
    const impl = new UdpSocketImpl(queueSize, overflow, network.resolver, udp.coalesceWakeups === true)
    impl.raw = yield* udp
      .bind({
        address,
        reusePort: options.reusePort ?? false,
        reuseAddress: options.reuseAddress ?? false,
        ipv6Only: options.ipv6Only ?? false,
        receiveBufferSize: options.receiveBufferSize,
        sendBufferSize: options.sendBufferSize,
        handlers: impl,
      })
      .pipe(
        // no connect was asked for, so a driver cannot really fail this way
        Effect.catchTag("ConnectFailed", (e) =>
          Effect.fail(new ListenFailed({ address, code: e.attempts[0]?.code ?? "EUNKNOWN", cause: e })),
        ),
      )
    yield* Effect.addFinalizer(() => impl.close)
    return makeSocket(impl)
  })

/** @internal */
export const connect = (
  options: ConnectOptions,
): Effect.Effect<
  ConnectedUdpSocket,
  ListenFailed | ConnectFailed | ResolveFailed | InvalidArgument | Unsupported,
  Scope.Scope | Network.Network
> =>
  Effect.gen(function* () {
    const remoteHost = yield* validate.host("host", options.host)
    const remotePort = yield* validate.port("port", options.port)
    if (remotePort === 0)
      return yield* Effect.fail(
        new InvalidArgument({ argument: "port", reason: "must be in 1..65535", value: remotePort }),
      )
    const localPort = yield* validate.port("localPort", options.localPort ?? 0)
    const { queueSize, overflow } = yield* queueOptions(options)
    const udp = yield* Network.driver("udp", "UDP")
    const network = yield* Network.Network
    const remote = yield* resolveOne(network.resolver, "host", remoteHost, remotePort, options.family)
    const family = remote._tag === "Ipv6" ? "ipv6" : "ipv4"
    const local =
      options.localHost === undefined
        ? wildcard(family, localPort)
        : yield* resolveOne(
            network.resolver,
            "localHost",
            yield* validate.host("localHost", options.localHost),
            localPort,
            family,
          )
    const impl = new UdpSocketImpl(queueSize, overflow, network.resolver, udp.coalesceWakeups === true)
    impl.raw = yield* udp.bind({
      address: local,
      connect: remote,
      reusePort: options.reusePort ?? false,
      reuseAddress: options.reuseAddress ?? false,
      ipv6Only: false,
      receiveBufferSize: options.receiveBufferSize,
      sendBufferSize: options.sendBufferSize,
      handlers: impl,
    })
    yield* Effect.addFinalizer(() => impl.close)
    return makeConnection(impl, impl.raw.remoteAddress ?? remote)
  })
