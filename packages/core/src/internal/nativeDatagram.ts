import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type * as Datagram from "../Datagram.ts"
import type { NativeBinding } from "../NativeDriver.ts"
import {
  type BrokenResource,
  BusyResource,
  ClosedResource,
  type ConnectFailed,
  InvalidArgument,
  ListenFailed,
  OperationFailed,
  type Unsupported,
} from "../NetError.ts"
import * as Network from "../Network.ts"
import * as SocketAddress from "../SocketAddress.ts"
import type { UnixAddressInput } from "../Unix.ts"
import type {
  BindOptions,
  ConnectedUnixDatagramSocket,
  ConnectOptions,
  Received,
  UnixAddress,
  UnixDatagramSocket,
} from "../UnixDatagram.ts"
import { notDatagram } from "./bytes.ts"
import { EV_READ, EV_WRITE, NativeSocket, nameOf, requireBinding, toAddress } from "./nativeSocket.ts"
import { endOnClose } from "./udp.ts"
import { connectFailed, toUnixAddress } from "./unix/address.ts"
import { bindAt, validateMode } from "./unix/socketFile.ts"

/** How long one worker-thread blocking sendto may sleep before netfx checks for interruption. */
const SEND_WAIT_MILLIS = 250
/** `maxBytes` when none is given (and for `packets`). */
const DEFAULT_MAX_BYTES = 65536
/** How many waiting datagrams one pull of `packets` takes at most. */
const PACKETS_BATCH = 256
/** Datagrams per `sendmmsg` call at most (the kernel's UIO_MAXIOV). */
const SENDMMSG_MAX = 1024

const busyReceive = new BusyResource({ operation: "receive" })

type TakeError = ClosedResource | BusyResource | OperationFailed
type SendError = Datagram.SendError

/** A send that failed but left the socket usable: the one datagram error of every datagram socket. */
const operationFailed = (e: BrokenResource | ClosedResource): OperationFailed | ClosedResource =>
  e._tag === "ClosedResource"
    ? e
    : new OperationFailed({ operation: e.operation, code: e.code, syscall: e.syscall, address: e.address })

const checkMax = (argument: string, n: number): InvalidArgument | undefined =>
  Number.isInteger(n) && n >= 1
    ? undefined
    : new InvalidArgument({ argument, reason: "must be an integer >= 1", value: n })

/** The state both kinds of Unix datagram socket share: the descriptor, one receiver, ordered sends. */
class UnixDatagramImpl {
  private receiving = false
  /** Sends in the ordered (locked) path; while there are any, new sends queue behind them. */
  private waitingSends = 0
  /** An error met after some datagrams of a batch were taken, reported by the next receive. */
  private pending: OperationFailed | undefined = undefined
  readonly fd: number
  constructor(
    readonly socket: NativeSocket,
    readonly localAddress: UnixAddress,
    readonly remoteAddress: UnixAddress | undefined,
    private readonly sendLock: Effect.Semaphore,
  ) {
    this.fd = socket.fd
  }

  /** Up to `max` datagrams: waits for the first, then takes what is waiting without blocking. */
  receiveBatch(max: number, maxBytes: number): Effect.Effect<Array<Received>, Datagram.ReceiveError> {
    return Effect.suspend((): Effect.Effect<Array<Received>, Datagram.ReceiveError> => {
      const bad = checkMax("max", max) ?? checkMax("maxBytes", maxBytes)
      return bad !== undefined ? Effect.fail(bad) : this.take(max, maxBytes)
    })
  }

  take(max: number, maxBytes: number): Effect.Effect<Array<Received>, TakeError> {
    return Effect.suspend((): Effect.Effect<Array<Received>, TakeError> => {
      if (this.socket.closed) return Effect.fail(new ClosedResource({ operation: "receive" }))
      if (this.receiving) return Effect.fail(busyReceive)
      const pending = this.pending
      if (pending !== undefined) {
        this.pending = undefined
        return Effect.fail(pending)
      }
      const binding = this.socket.binding
      const fd = this.fd
      const out: Array<Received> = []
      // Takes what is waiting without blocking; the error of a failing call.
      const drain = (): OperationFailed | undefined => {
        while (out.length < max && !this.socket.closed) {
          const r = binding.recvfrom(fd, maxBytes)
          if (typeof r === "number") {
            const code = this.socket.errno(r)
            return code === "EAGAIN" || code === "EWOULDBLOCK" || code === "EINTR"
              ? undefined
              : new OperationFailed({ operation: "receive", code, syscall: "recvfrom" })
          }
          out.push({ data: r.data, address: toAddress(r.address), truncated: r.truncated })
        }
        return undefined
      }
      // Fast path: datagrams are waiting (no readiness wait, no flag to undo).
      const error = drain()
      if (out.length > 0) {
        // an error after some datagrams is reported by the next receive
        this.pending = error
        return Effect.succeed(out)
      }
      if (error !== undefined) return Effect.fail(error)
      this.receiving = true
      return this.socket
        .io("recvfrom", EV_READ, () => binding.recvfrom(fd, maxBytes))
        .pipe(
          Effect.map((first) => {
            out.push({ data: first.data, address: toAddress(first.address), truncated: first.truncated })
            this.pending = drain()
            return out
          }),
          Effect.mapError(operationFailed),
          Effect.ensuring(
            Effect.sync(() => {
              this.receiving = false
            }),
          ),
        )
    })
  }

  /** The ordered path: waits its turn, then for room in the peer's queue. */
  private queuedSend(
    data: Uint8Array,
    to: UnixAddress | undefined,
    name: string | null,
    abstract: boolean,
  ): Effect.Effect<void, ClosedResource | OperationFailed> {
    const socket = this.socket
    const binding = socket.binding
    const fd = this.fd
    const target = to ?? this.remoteAddress
    const operation = to === undefined ? "send" : "sendTo"
    const fail = (r: number) =>
      Effect.fail(new OperationFailed({ operation, code: socket.errno(r), syscall: "sendto", address: target }))
    // Connected: poll reports writability when the peer's queue drains.
    const connectedSend = Effect.mapError(
      socket.io(operation, EV_WRITE, () => binding.sendto(fd, data, null, false), target),
      operationFailed,
    )
    // Unconnected: Linux reports the socket writable even when the peer's
    // queue is full, so wait in a blocking sendto on a worker thread.
    const waitSend = (n: string, a: boolean): Effect.Effect<void, ClosedResource | OperationFailed> =>
      Effect.suspend(() => {
        if (socket.closed) return Effect.fail(new ClosedResource({ operation }))
        return Effect.async<number>((resume) => {
          const r = binding.sendtoWait(fd, data, n, a, (result) => resume(Effect.succeed(result)))
          if (r < 0) resume(Effect.succeed(r))
        }).pipe(
          Effect.flatMap((r) => {
            if (r >= 0) return Effect.void
            const code = socket.errno(r)
            if (code === "EAGAIN" || code === "EWOULDBLOCK" || code === "EINTR") return waitSend(n, a)
            return fail(r)
          }),
        )
      })
    const unconnectedSend = Effect.suspend(() => {
      if (socket.closed) return Effect.fail(new ClosedResource({ operation }))
      const r = binding.sendto(fd, data, name, abstract)
      if (r >= 0) return Effect.void
      const code = socket.errno(r)
      if (code === "EAGAIN" || code === "EWOULDBLOCK") return waitSend(name as string, abstract)
      return fail(r)
    })
    return this.sendLock.withPermits(1)(
      Effect.asVoid(name === null ? connectedSend : unconnectedSend) as Effect.Effect<
        void,
        ClosedResource | OperationFailed
      >,
    )
  }

  send(data: Uint8Array, to: UnixAddress | undefined): Effect.Effect<void, SendError> {
    if (!(data instanceof Uint8Array)) return Effect.fail(notDatagram(data))
    return Effect.suspend(() => {
      const socket = this.socket
      const [name, abstract] = to === undefined ? [null, false] : nameOf(to)
      // Fast path: no send is waiting, so this one may go first; most find
      // room in the peer's queue and need no lock and no readiness wait.
      if (this.waitingSends === 0 && !socket.closed) {
        const r = socket.binding.sendto(this.fd, data, name, abstract)
        if (r >= 0) return Effect.void
        const code = socket.errno(r)
        if (code !== "EAGAIN" && code !== "EWOULDBLOCK" && code !== "EINTR")
          return Effect.fail(
            new OperationFailed({
              operation: to === undefined ? "send" : "sendTo",
              code,
              syscall: "sendto",
              address: to ?? this.remoteAddress,
            }),
          )
      }
      this.waitingSends++
      return Effect.ensuring(
        this.queuedSend(data, to, name, abstract),
        Effect.sync(() => {
          this.waitingSends--
        }),
      )
    })
  }

  /**
   * A connected socket's `sendMany`: `datas` in order, in `sendmmsg`
   * batches. While no other send waits, each call hands the kernel what
   * fits in the peer's queue at once; when it is full, the batch takes the
   * ordered path (the send lock, behind earlier waiting sends) and waits for
   * room (connected sockets get a writability signal), sending again as
   * much as fits after each wake-up. A failing datagram ends the batch with
   * its error: the ones before it went, the rest did not.
   */
  sendBatch(datas: ReadonlyArray<Uint8Array>): Effect.Effect<void, SendError> {
    return Effect.suspend(() => {
      const socket = this.socket
      const binding = socket.binding
      const sendmmsg = binding.sendmmsg
      if (sendmmsg === undefined || datas.length < 2)
        return Effect.forEach(datas, (d) => this.send(d, undefined), { discard: true })
      // the datagrams before one that is not a Uint8Array go, then its send fails (as one by one)
      let n = 0
      while (n < datas.length && datas[n] instanceof Uint8Array) n++
      const fd = this.fd
      let i = 0
      const call = () => sendmmsg.call(binding, fd, datas, i, Math.min(n - i, SENDMMSG_MAX), null, false)
      const rest = (): Effect.Effect<void, SendError> =>
        n < datas.length ? this.send(datas[n] as Uint8Array, undefined) : Effect.void
      // fast path: nothing waits, so this batch may go first
      while (i < n && this.waitingSends === 0 && !socket.closed) {
        const r = call()
        if (r <= 0) {
          const code = socket.errno(r)
          if (r < 0 && code !== "EAGAIN" && code !== "EWOULDBLOCK" && code !== "EINTR")
            return Effect.fail(
              new OperationFailed({ operation: "send", code, syscall: "sendmmsg", address: this.remoteAddress }),
            )
          break
        }
        i += r
      }
      if (i >= n) return rest()
      const waiting: Effect.Effect<void, ClosedResource | OperationFailed> = Effect.suspend(() => {
        if (i >= n) return Effect.void
        return Effect.flatMap(
          Effect.mapError(socket.io("send", EV_WRITE, call, this.remoteAddress), operationFailed),
          (r) => {
            i += r
            return waiting
          },
        )
      })
      this.waitingSends++
      return Effect.zipRight(
        Effect.ensuring(
          this.sendLock.withPermits(1)(waiting),
          Effect.sync(() => {
            this.waitingSends--
          }),
        ),
        Effect.suspend(rest),
      )
    })
  }

  sendTo(data: Uint8Array, to: UnixAddressInput): Effect.Effect<void, SendError> {
    return Effect.flatMap(toUnixAddress("to", to), (address) => this.send(data, address))
  }

  get close(): Effect.Effect<void> {
    return Effect.sync(() => this.socket.close())
  }
}

const nonEmpty = <A>(as: Array<A>) => Chunk.unsafeFromNonEmptyArray(as as unknown as readonly [A, ...Array<A>])
const datasOf = (ds: Array<Received>) => ds.map((d) => d.data)

const makeSocket = (impl: UnixDatagramImpl): UnixDatagramSocket => ({
  localAddress: impl.localAddress,
  fd: impl.fd,
  receive: (maxBytes = DEFAULT_MAX_BYTES) => Effect.map(impl.receiveBatch(1, maxBytes), (ds) => ds[0] as Received),
  receiveMany: (max, maxBytes = DEFAULT_MAX_BYTES) => Effect.map(impl.receiveBatch(max, maxBytes), nonEmpty),
  packets: Stream.repeatEffectChunkOption(
    endOnClose<Chunk.Chunk<Received>, Datagram.PacketsError>(
      Effect.map(impl.take(PACKETS_BATCH, DEFAULT_MAX_BYTES), Chunk.unsafeFromArray),
    ),
  ),
  sendTo: (data, to) => impl.sendTo(data, to),
  sendMany: (datagrams) => Effect.forEach(datagrams, (d) => impl.sendTo(d.data, d.address), { discard: true }),
  close: impl.close,
})

const makeConnected = (impl: UnixDatagramImpl, remoteAddress: UnixAddress): ConnectedUnixDatagramSocket => ({
  localAddress: impl.localAddress,
  remoteAddress,
  fd: impl.fd,
  receive: (maxBytes = DEFAULT_MAX_BYTES) =>
    Effect.map(impl.receiveBatch(1, maxBytes), (ds) => (ds[0] as Received).data),
  receiveMany: (max, maxBytes = DEFAULT_MAX_BYTES) =>
    Effect.map(impl.receiveBatch(max, maxBytes), (ds) => nonEmpty(datasOf(ds))),
  packets: Stream.repeatEffectChunkOption(
    endOnClose<Chunk.Chunk<Uint8Array>, Datagram.PacketsError>(
      Effect.map(impl.take(PACKETS_BATCH, DEFAULT_MAX_BYTES), (ds) => Chunk.unsafeFromArray(datasOf(ds))),
    ),
  ),
  send: (data) => impl.send(data, undefined),
  sendMany: (datagrams) => impl.sendBatch(Array.from(datagrams)),
  close: impl.close,
})

const listenFailed = (address: UnixAddress, code: string) => new ListenFailed({ address, code, syscall: "bind" })

/** @internal */
const open = (
  options: BindOptions,
  remote: UnixAddressInput | undefined,
): Effect.Effect<
  UnixDatagramImpl,
  ListenFailed | ConnectFailed | InvalidArgument | Unsupported,
  Scope.Scope | Network.Network
> =>
  Effect.gen(function* () {
    const local = options.path === undefined ? undefined : yield* toUnixAddress("path", options.path)
    const peer = remote === undefined ? undefined : yield* toUnixAddress("path", remote)
    yield* validateMode(options.mode)
    const native = yield* Network.driver("native", "Unix datagram sockets")
    const { binding } = yield* requireBinding(native.addon, "Unix datagram sockets")
    const network = yield* Network.Network
    const SOCK_DGRAM = binding.constants.SOCK_DGRAM as number
    // Blocking mode (every call but the worker-thread send passes MSG_DONTWAIT).
    const socket = yield* Effect.acquireRelease(
      Effect.suspend(() => {
        const fd = binding.socket(SOCK_DGRAM, false)
        if (fd < 0) return Effect.fail(listenFailed(local ?? SocketAddress.unixPath(""), native.addon.errnoName(fd)))
        binding.setTimeout(fd, binding.constants.SO_SNDTIMEO as number, SEND_WAIT_MILLIS)
        return Effect.succeed(new NativeSocket(native.addon, fd))
      }),
      (s) => Effect.sync(() => s.close()),
    )
    if (local !== undefined) {
      const [name, abstract] = nameOf(local)
      const bindOnce = Effect.suspend(() => {
        const r = binding.bind(socket.fd, name, abstract)
        return r < 0 ? Effect.fail(listenFailed(local, native.addon.errnoName(r))) : Effect.void
      })
      if (network.unix !== undefined) {
        yield* bindAt(network.unix, local, bindOnce, probeDatagram(binding, native.addon.errnoName, local), options)
      } else {
        yield* bindOnce
      }
    }
    if (peer !== undefined) {
      const [name, abstract] = nameOf(peer)
      const r = binding.connect(socket.fd, name, abstract)
      if (r < 0) return yield* Effect.fail(connectFailed(peer, native.addon.errnoName(r), "connect", undefined))
    }
    const named = binding.getsockname(socket.fd)
    const address = typeof named === "number" ? (local ?? SocketAddress.unixPath("")) : toAddress(named)
    const lock = yield* Effect.makeSemaphore(1)
    return new UnixDatagramImpl(socket, address, peer, lock)
  })

/** @internal */
export const bind = (options: BindOptions) => Effect.map(open(options, undefined), makeSocket)

/** @internal */
export const connect = (options: ConnectOptions) =>
  Effect.map(
    open(
      {
        ...(options.localPath === undefined ? {} : { path: options.localPath }),
        ...(options.mode === undefined ? {} : { mode: options.mode }),
        ...(options.removeOnClose === undefined ? {} : { removeOnClose: options.removeOnClose }),
      },
      options.path,
    ),
    (impl) => makeConnected(impl, impl.remoteAddress as UnixAddress),
  )

/** Is a datagram socket bound at this path? (connect succeeds: yes; ECONNREFUSED: a stale file). */
const probeDatagram = (
  binding: NativeBinding,
  errnoName: (n: number) => string,
  address: UnixAddress,
): Effect.Effect<"alive" | "stale" | "unknown"> =>
  Effect.sync(() => {
    const fd = binding.socket(binding.constants.SOCK_DGRAM as number)
    if (fd < 0) return "unknown"
    const [name, abstract] = nameOf(address)
    const r = binding.connect(fd, name, abstract)
    binding.close(fd)
    if (r === 0) return "alive"
    return errnoName(r) === "ECONNREFUSED" ? "stale" : "unknown"
  })
