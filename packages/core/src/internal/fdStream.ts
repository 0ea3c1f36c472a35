import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Attribute from "../Attribute.ts"
import type { ConnectOptions, FdListener, FdStream, ListenOptions, ReceivedFd, ReceivedMessage } from "../FdPassing.ts"
import type { ServeOptions } from "../Listener.ts"
import type { NativeBinding } from "../NativeDriver.ts"
import {
  BrokenResource,
  BusyResource,
  ClosedResource,
  type ConnectFailed,
  EndOfStream,
  InvalidArgument,
  ListenFailed,
  type Unsupported,
} from "../NetError.ts"
import * as Network from "../Network.ts"
import * as SocketAddress from "../SocketAddress.ts"
import { byteLength, concatBytes, notBytes } from "./bytes.ts"
import { withConnectTimeout } from "./connect.ts"
import { acceptLoop, serveWith } from "./listener.ts"
import { EV_READ, EV_WRITE, NativeSocket, nameOf, requireBinding, toAddress } from "./nativeSocket.ts"
import { ListenerTypeId, TypeId } from "./typeId.ts"
import { connectFailed, toUnixAddress } from "./unix/address.ts"
import { bindAt, validateMode } from "./unix/socketFile.ts"
import * as validate from "./validate.ts"

type UnixAddress = SocketAddress.UnixPath | SocketAddress.UnixAbstract

/** Linux's SCM_MAX_FD. */
const MAX_FDS = 253
const FEATURE = "fd passing (SCM_RIGHTS)"

const endOfStream = new EndOfStream()

class FdStreamImpl implements FdStream {
  readonly [TypeId]: typeof TypeId = TypeId
  readonly family = "unix" as const
  readonly fd: number
  private receiving = false
  private sending = false
  private sendBroken = false
  private eofSent = false
  private eof = false
  /** Descriptors that arrived during a plain `receive`, for the next `receiveFds`. */
  private stray: Array<number> = []
  private strayTruncated = false
  /** How many messages arrived so far (the `serve` idle timeout watches it, as on every SocketStream). */
  receivedChunks = 0

  constructor(
    readonly socket: NativeSocket,
    readonly localAddress: UnixAddress,
    readonly remoteAddress: UnixAddress,
  ) {
    this.fd = socket.fd
  }

  private get binding(): NativeBinding {
    return this.socket.binding
  }

  attribute<A>(key: Attribute.Attribute<A>): Option.Option<A> {
    return Attribute.get(
      { localAddress: this.localAddress, remoteAddress: this.remoteAddress, fd: this.fd, extra },
      key,
    )
  }

  /** Set by a listener's `incoming` to forget the stream once it closes. @internal */
  onClosed: (() => void) | undefined = undefined

  private beginReceive<A, E, R>(
    effect: Effect.Effect<A, E, R>,
  ): Effect.Effect<A, E | ClosedResource | BusyResource | EndOfStream, R> {
    return Effect.suspend((): Effect.Effect<A, E | ClosedResource | BusyResource | EndOfStream, R> => {
      if (this.socket.closed) return Effect.fail(new ClosedResource({ operation: "receive" }))
      if (this.receiving) return Effect.fail(new BusyResource({ operation: "receive" }))
      if (this.eof) return Effect.fail(endOfStream)
      this.receiving = true
      return Effect.ensuring(
        effect,
        Effect.sync(() => {
          this.receiving = false
        }),
      )
    })
  }

  /** One recvmsg after readiness; 0 bytes is end of stream. */
  private recv(maxBytes: number, maxFds: number) {
    const binding = this.binding
    return this.socket
      .io("recvmsg", EV_READ, () => binding.recvmsg(this.fd, maxBytes, maxFds), this.remoteAddress)
      .pipe(
        Effect.flatMap((r) => {
          if (r.data.length === 0 && r.fds.length === 0) {
            this.eof = true
            return Effect.fail(endOfStream)
          }
          this.receivedChunks++
          return Effect.succeed(r)
        }),
      )
  }

  receive(
    maxBytes = 65536,
  ): Effect.Effect<Uint8Array, EndOfStream | ClosedResource | BrokenResource | BusyResource | InvalidArgument> {
    if (!(Number.isInteger(maxBytes) && maxBytes >= 1))
      return Effect.fail(
        new InvalidArgument({ argument: "maxBytes", reason: "must be an integer >= 1", value: maxBytes }),
      )
    // Uninterruptible between the recvmsg and keeping its descriptors.
    return this.beginReceive(
      Effect.map(Effect.uninterruptible(this.recv(maxBytes, MAX_FDS)), (r) => {
        for (const fd of r.fds) this.stray.push(fd)
        if (r.truncated) this.strayTruncated = true
        return r.data
      }),
    )
  }

  receiveFds(
    maxMessageBytes: number,
    maxFds: number,
  ): Effect.Effect<
    ReceivedMessage,
    EndOfStream | InvalidArgument | ClosedResource | BrokenResource | BusyResource,
    Scope.Scope
  > {
    return Effect.gen(this, function* () {
      yield* validate.positiveInt("maxMessageBytes", maxMessageBytes)
      const max = yield* validate.positiveInt("maxFds", maxFds)
      if (max > MAX_FDS)
        return yield* Effect.fail(
          new InvalidArgument({ argument: "maxFds", reason: `must be at most ${MAX_FDS} (SCM_MAX_FD)`, value: maxFds }),
        )
      if (this.stray.length > 0) {
        // Descriptors a plain receive already took in: hand them out first.
        const fds = this.stray.splice(0, max)
        const truncated = this.strayTruncated || this.stray.length > 0
        for (const fd of this.stray) this.binding.close(fd)
        this.stray = []
        this.strayTruncated = false
        return yield* this.own(new Uint8Array(0), fds, truncated)
      }
      // uninterruptible but for the readiness wait: received descriptors are owned before anything else
      return yield* this.beginReceive(
        Effect.uninterruptible(
          Effect.flatMap(this.recv(maxMessageBytes, max), (r) => this.own(r.data, r.fds, r.truncated)),
        ),
      )
    })
  }

  private own(
    message: Uint8Array,
    fds: ReadonlyArray<number>,
    truncated: boolean,
  ): Effect.Effect<ReceivedMessage, never, Scope.Scope> {
    const binding = this.binding
    return Effect.gen(function* () {
      const received: Array<ReceivedFd> = fds.map((fd) => {
        let taken = false
        return {
          fd,
          take: Effect.sync(() => {
            taken = true
            return fd
          }),
          taken: () => taken,
        }
      })
      yield* Effect.addFinalizer(() =>
        Effect.sync(() => {
          for (const r of received) if (!r.taken()) binding.close(r.fd)
        }),
      )
      return { message, fds: received, truncated }
    })
  }

  private write(
    operation: string,
    data: Uint8Array,
    fds: ReadonlyArray<number>,
  ): Effect.Effect<void, ClosedResource | BrokenResource | BusyResource> {
    return Effect.suspend((): Effect.Effect<void, ClosedResource | BrokenResource | BusyResource> => {
      if (this.socket.closed) return Effect.fail(new ClosedResource({ operation }))
      if (this.eofSent) return Effect.fail(new ClosedResource({ operation: `${operation} after sendEof` }))
      if (this.sending) return Effect.fail(new BusyResource({ operation }))
      if (this.sendBroken)
        return Effect.fail(
          new BrokenResource({ operation, code: "EINTERRUPTED", cause: "an earlier send was interrupted midway" }),
        )
      this.sending = true
      const binding = this.binding
      let offset = 0
      let attached = fds
      const step: Effect.Effect<void, ClosedResource | BrokenResource> = Effect.suspend(() =>
        this.socket
          .io(
            operation,
            EV_WRITE,
            () => binding.sendmsg(this.fd, offset === 0 ? data : data.subarray(offset), attached),
            this.remoteAddress,
          )
          .pipe(
            Effect.flatMap((n) => {
              offset += n
              if (n > 0) attached = [] // the descriptors went with the first byte
              return offset < data.length ? step : Effect.void
            }),
          ),
      )
      return step.pipe(
        Effect.onInterrupt(() =>
          Effect.sync(() => {
            if (offset > 0 && offset < data.length) this.sendBroken = true
          }),
        ),
        Effect.ensuring(
          Effect.sync(() => {
            this.sending = false
          }),
        ),
      )
    })
  }

  send(
    data: Uint8Array | ReadonlyArray<Uint8Array>,
  ): Effect.Effect<void, ClosedResource | BrokenResource | BusyResource | InvalidArgument> {
    if (byteLength(data) < 0) return Effect.fail(notBytes(data))
    // one sendmsg for several parts: the native binding takes one buffer
    const bytes = data instanceof Uint8Array ? data : concatBytes(data.filter((c) => c.length > 0))
    return bytes.length === 0 ? Effect.void : this.write("send", bytes, [])
  }

  sendFds(
    message: Uint8Array,
    fds: ReadonlyArray<number>,
  ): Effect.Effect<void, InvalidArgument | ClosedResource | BrokenResource | BusyResource> {
    if (!(message instanceof Uint8Array) || message.length === 0)
      return Effect.fail(new InvalidArgument({ argument: "message", reason: "must not be empty", value: message }))
    if (!Array.isArray(fds) || fds.length === 0)
      return Effect.fail(new InvalidArgument({ argument: "fds", reason: "must not be empty", value: fds }))
    if (fds.length > MAX_FDS)
      return Effect.fail(
        new InvalidArgument({ argument: "fds", reason: `at most ${MAX_FDS} (SCM_MAX_FD)`, value: fds }),
      )
    if (!fds.every(validate.isDescriptor))
      return Effect.fail(
        new InvalidArgument({ argument: "fds", reason: "must be descriptors (integers in 0..2147483647)", value: fds }),
      )
    return this.write("sendFds", message, fds)
  }

  get sendEof(): Effect.Effect<void, ClosedResource | BrokenResource> {
    return Effect.suspend((): Effect.Effect<void, ClosedResource | BrokenResource> => {
      if (this.socket.closed) return Effect.fail(new ClosedResource({ operation: "sendEof" }))
      if (this.eofSent) return Effect.void
      this.eofSent = true
      const r = this.binding.shutdown(this.fd, this.binding.constants.SHUT_WR as number)
      return r < 0
        ? Effect.fail(new BrokenResource({ operation: "sendEof", code: this.socket.errno(r), syscall: "shutdown" }))
        : Effect.void
    })
  }

  get close(): Effect.Effect<void> {
    return Effect.sync(() => this.closeNow())
  }

  /** @internal */
  closeNow(): void {
    if (!this.socket.closed) {
      this.socket.close()
      this.onClosed?.()
    }
    for (const fd of this.stray) this.binding.close(fd)
    this.stray = []
  }
}

/** Every native stream's `extra`: shared, so a stream costs no record of its own. */
const extra: Readonly<Record<string, unknown>> = Object.freeze({})

const nativeOf = (feature: string) =>
  Effect.gen(function* () {
    const native = yield* Network.driver("native", feature)
    const { binding } = yield* requireBinding(native.addon, feature)
    return { native, binding }
  })

const streamSocket = (native: { addon: NativeSocket["addon"] }, fd: number) =>
  Effect.acquireRelease(
    Effect.sync(() => new NativeSocket(native.addon, fd)),
    (s) => Effect.sync(() => s.close()),
  )

const makeStream = (socket: NativeSocket, local?: UnixAddress, remote?: UnixAddress): FdStreamImpl => {
  const b = socket.binding
  const l = b.getsockname(socket.fd)
  const p = b.getpeername(socket.fd)
  return new FdStreamImpl(
    socket,
    local ?? (typeof l === "number" ? SocketAddress.unixPath("") : toAddress(l)),
    remote ?? (typeof p === "number" ? SocketAddress.unixPath("") : toAddress(p)),
  )
}

/** @internal */
export const connect = (
  options: ConnectOptions,
): Effect.Effect<FdStream, ConnectFailed | InvalidArgument | Unsupported, Scope.Scope | Network.Network> =>
  Effect.gen(function* () {
    const address = yield* toUnixAddress("path", options.path)
    const timeout =
      options.timeout === undefined ? undefined : yield* validate.positiveDuration("timeout", options.timeout)
    const attempt = connectTo(address)
    return timeout === undefined
      ? yield* attempt
      : yield* withConnectTimeout(attempt, timeout, () => [{ address, code: "ETIMEDOUT" }])(
          SocketAddress.format(address),
          -1,
        )
  })

const connectTo = (
  address: UnixAddress,
): Effect.Effect<FdStream, ConnectFailed | Unsupported, Scope.Scope | Network.Network> =>
  Effect.gen(function* () {
    const { native, binding } = yield* nativeOf(FEATURE)
    const fd = binding.socket(binding.constants.SOCK_STREAM as number)
    if (fd < 0) return yield* Effect.fail(connectFailed(address, native.addon.errnoName(fd), "socket", undefined))
    const socket = yield* streamSocket(native, fd)
    const [name, abstract] = nameOf(address)
    // A Unix connect completes at once or fails, except EAGAIN: the
    // listener's backlog is full. Linux offers no readiness for "the backlog
    // has room", so retry with a short, growing delay (until interrupted).
    let delay = 5
    while (true) {
      const r = binding.connect(fd, name, abstract)
      if (r >= 0) break
      const code = native.addon.errnoName(r)
      if (code === "EINPROGRESS") {
        yield* socket.wait(EV_WRITE)
        const [e, v] = binding.getsockopt(
          fd,
          binding.constants.SOL_SOCKET as number,
          binding.constants.SO_ERROR as number,
        )
        if (e !== 0 || v !== 0)
          return yield* Effect.fail(connectFailed(address, native.addon.errnoName(e || v), "connect", undefined))
        break
      }
      if (code !== "EAGAIN") return yield* Effect.fail(connectFailed(address, code, "connect", undefined))
      yield* Effect.sleep(delay)
      delay = Math.min(delay * 2, 100)
    }
    return makeStream(socket, undefined, address)
  })

/** @internal */
export const socketpair = (): Effect.Effect<
  readonly [FdStream, FdStream],
  BrokenResource | Unsupported,
  Scope.Scope | Network.Network
> =>
  Effect.gen(function* () {
    const { native, binding } = yield* nativeOf(FEATURE)
    const pair = binding.socketpair(binding.constants.SOCK_STREAM as number)
    if (typeof pair === "number")
      return yield* Effect.fail(
        new BrokenResource({ operation: "socketpair", code: native.addon.errnoName(pair), syscall: "socketpair" }),
      )
    const [a, b] = pair as [number, number]
    const sa = yield* streamSocket(native, a)
    const sb = yield* streamSocket(native, b)
    const unnamed = SocketAddress.unixPath("")
    return [makeStream(sa, unnamed, unnamed), makeStream(sb, unnamed, unnamed)] as const
  })

/** Accept failures that pass: out of descriptors or memory, a client that gave up. */
const TRANSIENT_ACCEPT = new Set(["EMFILE", "ENFILE", "ENOBUFS", "ENOMEM", "ECONNABORTED", "EPROTO", "EINTR"])
const ACCEPT_BACKOFF = "100 millis"
const unnamed = SocketAddress.unixPath("")

class FdListenerImpl implements FdListener {
  readonly [ListenerTypeId]: typeof ListenerTypeId = ListenerTypeId
  readonly addresses: ReadonlyArray<UnixAddress>
  readonly fd: number
  private accepting = false
  private readonly live = new Set<FdStreamImpl>()

  constructor(
    readonly socket: NativeSocket,
    readonly address: UnixAddress,
  ) {
    this.fd = socket.fd
    this.addresses = [address]
  }

  /**
   * Accepts one connection and hands it to `own` with no gap an
   * interruption could fall into (only the readiness wait and the backoff
   * are interruptible). Transient failures are logged and retried.
   */
  private acceptWith<A>(
    own: (conn: FdStreamImpl) => Effect.Effect<A>,
  ): Effect.Effect<A, ClosedResource | BusyResource> {
    return Effect.suspend((): Effect.Effect<A, ClosedResource | BusyResource> => {
      if (this.socket.closed) return Effect.fail(new ClosedResource({ operation: "accept" }))
      if (this.accepting) return Effect.fail(new BusyResource({ operation: "accept" }))
      this.accepting = true
      const binding = this.socket.binding
      const once = Effect.uninterruptible(
        this.socket
          .io("accept", EV_READ, () => binding.accept(this.fd), this.address)
          .pipe(
            Effect.flatMap((fd) => own(makeStream(new NativeSocket(this.socket.addon, fd), this.address, unnamed))),
          ),
      )
      const loop: Effect.Effect<A, ClosedResource> = Effect.catchTag(once, "BrokenResource", (e) =>
        Effect.logWarning(
          `netfx: accept failed with ${e.code}${TRANSIENT_ACCEPT.has(e.code) ? "" : " (unexpected)"}; still listening`,
        ).pipe(
          Effect.annotateLogs({ listener: SocketAddress.format(this.address), code: e.code }),
          Effect.zipRight(Effect.sleep(ACCEPT_BACKOFF)),
          Effect.zipRight(Effect.suspend(() => loop)),
        ),
      )
      return Effect.ensuring(
        loop,
        Effect.sync(() => {
          this.accepting = false
        }),
      )
    })
  }

  get accept(): Effect.Effect<FdStream, ClosedResource | BusyResource, Scope.Scope> {
    return Effect.flatMap(Effect.scope, (scope) =>
      this.acceptWith((conn) => Effect.as(Scope.addFinalizer(scope, conn.close), conn as FdStream)),
    )
  }

  get incoming(): Stream.Stream<FdStream, BusyResource> {
    // Each connection is the consumer's; those still open close with the listener.
    return Stream.repeatEffectOption(
      this.acceptWith((conn) =>
        Effect.sync(() => {
          this.live.add(conn)
          conn.onClosed = this.live.delete.bind(this.live, conn)
          return conn as FdStream
        }),
      ).pipe(Effect.mapError((e) => (e._tag === "ClosedResource" ? Option.none() : Option.some(e)))),
    )
  }

  /** The listener's addresses for log annotations (what `serve` reads). */
  describe(): string {
    return SocketAddress.format(this.address)
  }

  serve<E, R>(
    handler: (connection: FdStream) => Effect.Effect<unknown, E, R>,
    options?: ServeOptions,
  ): Effect.Effect<never, ClosedResource | BusyResource | InvalidArgument, R> {
    // The core listener's serve (limits, logging, closing), fed by this listener's accept loop.
    return serveWith<FdStreamImpl, E, R>(this, handler, options, (server) =>
      acceptLoop(server, (use) => this.acceptWith(use)),
    )
  }

  get close(): Effect.Effect<void> {
    return Effect.sync(() => {
      this.socket.close()
      for (const conn of [...this.live]) conn.closeNow()
    })
  }
}

/** @internal */
export const listen = (
  options: ListenOptions,
): Effect.Effect<FdListener, ListenFailed | InvalidArgument | Unsupported, Scope.Scope | Network.Network> =>
  Effect.gen(function* () {
    const address = yield* toUnixAddress("path", options.path)
    const backlog = yield* validate.positiveInt("backlog", options.backlog ?? 511)
    yield* validateMode(options.mode)
    const { native, binding } = yield* nativeOf(FEATURE)
    const network = yield* Network.Network
    const fd = binding.socket(binding.constants.SOCK_STREAM as number)
    if (fd < 0)
      return yield* Effect.fail(new ListenFailed({ address, code: native.addon.errnoName(fd), syscall: "socket" }))
    const socket = yield* streamSocket(native, fd)
    const [name, abstract] = nameOf(address)
    const bindOnce = Effect.suspend(() => {
      const r = binding.bind(fd, name, abstract)
      return r < 0
        ? Effect.fail(new ListenFailed({ address, code: native.addon.errnoName(r), syscall: "bind" }))
        : Effect.void
    })
    const probe = Effect.sync(() => {
      const p = binding.socket(binding.constants.SOCK_STREAM as number)
      if (p < 0) return "unknown" as const
      const r = binding.connect(p, name, abstract)
      binding.close(p)
      if (r === 0 || native.addon.errnoName(r) === "EAGAIN") return "alive" as const
      return native.addon.errnoName(r) === "ECONNREFUSED" ? ("stale" as const) : ("unknown" as const)
    })
    if (network.unix !== undefined) yield* bindAt(network.unix, address, bindOnce, probe, options)
    else yield* bindOnce
    const r = binding.listen(fd, backlog)
    if (r < 0)
      return yield* Effect.fail(new ListenFailed({ address, code: native.addon.errnoName(r), syscall: "listen" }))
    return new FdListenerImpl(socket, address)
  })

/** @internal */
export const getSocketOption = (
  fd: number,
  level: number,
  name: number,
): Effect.Effect<number, BrokenResource | Unsupported, Network.Network> =>
  Effect.gen(function* () {
    const { native, binding } = yield* nativeOf("socket options")
    const [e, v] = binding.getsockopt(fd, level, name)
    if (e !== 0)
      return yield* Effect.fail(
        new BrokenResource({ operation: "getSocketOption", code: native.addon.errnoName(e), syscall: "getsockopt" }),
      )
    return v
  })

/** @internal */
export const setSocketOption = (
  fd: number,
  level: number,
  name: number,
  value: number,
): Effect.Effect<void, BrokenResource | Unsupported, Network.Network> =>
  Effect.gen(function* () {
    const { native, binding } = yield* nativeOf("socket options")
    const r = binding.setsockopt(fd, level, name, value)
    if (r < 0)
      return yield* Effect.fail(
        new BrokenResource({ operation: "setSocketOption", code: native.addon.errnoName(r), syscall: "setsockopt" }),
      )
  })
