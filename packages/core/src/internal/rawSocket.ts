import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { ReceivedDatagram } from "../Datagram.ts"
import type { AnyAddress, NativeBinding } from "../NativeDriver.ts"
import {
  BusyResource,
  ClosedResource,
  ConnectFailed,
  EndOfStream,
  InvalidArgument,
  OperationFailed,
  Unsupported,
} from "../NetError.ts"
import * as Network from "../Network.ts"
import type { Family, RawSocket, ReceivedMessage, ShutdownHow, Type } from "../RawSocket.ts"
import * as SocketAddress from "../SocketAddress.ts"
import { EV_READ, EV_WRITE, NativeSocket, requireBinding } from "./nativeSocket.ts"
import * as validate from "./validate.ts"

const FEATURE = "the low-level socket layer (RawSocket)"
const MAX_FDS = 253

type Full = Required<
  Pick<
    NativeBinding,
    | "socketAny"
    | "bindAny"
    | "connectAny"
    | "getsocknameAny"
    | "getpeernameAny"
    | "sendtoAny"
    | "recvfromAny"
    | "pollReadable"
  >
> &
  NativeBinding

const familyNumber = (family: Family): number => (family === "ipv4" ? 4 : family === "ipv6" ? 6 : 1)

/** @internal */
export const toAny = (address: SocketAddress.SocketAddress): AnyAddress => {
  switch (address._tag) {
    case "Ipv4":
      return { family: 4, host: address.host, port: address.port }
    case "Ipv6":
      return { family: 6, host: address.host, port: address.port, scopeId: address.scopeId, flowInfo: address.flowInfo }
    case "UnixPath":
      return { family: 1, path: address.path, abstract: false }
    case "UnixAbstract":
      return { family: 1, path: address.name, abstract: true }
  }
}

/** @internal */
export const fromAny = (a: AnyAddress): SocketAddress.SocketAddress => {
  switch (a.family) {
    case 4:
      return SocketAddress.ipv4(a.host, a.port)
    case 6:
      return SocketAddress.ipv6(a.host, a.port, { scopeId: a.scopeId ?? 0, flowInfo: a.flowInfo ?? 0 })
    default:
      return a.abstract ? SocketAddress.unixAbstract(a.path) : SocketAddress.unixPath(a.path)
  }
}

const familyOf = (address: SocketAddress.SocketAddress): Family =>
  address._tag === "Ipv4" ? "ipv4" : address._tag === "Ipv6" ? "ipv6" : "unix"

class RawSocketImpl implements RawSocket {
  private receiving = false
  private accepting = false
  private shutWrite = false
  readonly fd: number

  constructor(
    readonly socket: NativeSocket,
    readonly family: Family,
    readonly type: Type,
  ) {
    this.fd = socket.fd
  }

  private get b(): Full {
    return this.socket.binding as Full
  }

  private failed(operation: string, r: number, address?: SocketAddress.SocketAddress) {
    return new OperationFailed({ operation, code: this.socket.errno(r), syscall: operation, address })
  }

  private check(address: SocketAddress.SocketAddress, argument: string): InvalidArgument | undefined {
    return familyOf(address) === this.family
      ? undefined
      : new InvalidArgument({
          argument,
          reason: `a ${this.family} socket needs a ${this.family} address`,
          value: SocketAddress.format(address),
        })
  }

  /** A synchronous call that fails with OperationFailed on -errno (ClosedResource once closed). */
  private call<A>(operation: string, f: () => A | number, address?: SocketAddress.SocketAddress) {
    return Effect.suspend((): Effect.Effect<A, OperationFailed | ClosedResource> => {
      if (this.socket.closed) return Effect.fail(new ClosedResource({ operation }))
      const r = f()
      return typeof r === "number" && r < 0 ? Effect.fail(this.failed(operation, r, address)) : Effect.succeed(r as A)
    })
  }

  /** Waits (interruptibly) and retries on EAGAIN; other errors are OperationFailed. */
  private io<A>(operation: string, events: number, f: () => A | number, address?: SocketAddress.SocketAddress) {
    return Effect.catchTag(this.socket.io(operation, events, f, address), "BrokenResource", (e) =>
      Effect.fail(new OperationFailed({ operation, code: e.code, syscall: e.syscall, address })),
    )
  }

  get didShutdownWrite(): boolean {
    return this.shutWrite
  }

  get localAddress() {
    return Effect.map(
      this.call("getsockname", () => this.b.getsocknameAny(this.fd)),
      fromAny,
    )
  }

  get remoteAddress() {
    return Effect.map(
      this.call("getpeername", () => this.b.getpeernameAny(this.fd)),
      fromAny,
    )
  }

  bind(address: SocketAddress.SocketAddress) {
    return Effect.suspend((): Effect.Effect<void, OperationFailed | ClosedResource | InvalidArgument> => {
      const bad = this.check(address, "address")
      if (bad !== undefined) return Effect.fail(bad)
      return Effect.asVoid(this.call("bind", () => this.b.bindAny(this.fd, toAny(address)), address))
    })
  }

  connect(address: SocketAddress.SocketAddress) {
    const failed = (code: string) =>
      new ConnectFailed({
        host: SocketAddress.isIp(address) ? address.host : SocketAddress.format(address),
        port: SocketAddress.isIp(address) ? address.port : -1,
        attempts: [{ address, code, syscall: "connect" }],
      })
    return Effect.suspend((): Effect.Effect<void, ConnectFailed | InvalidArgument | ClosedResource> => {
      const bad = this.check(address, "address")
      if (bad !== undefined) return Effect.fail(bad)
      if (this.socket.closed) return Effect.fail(new ClosedResource({ operation: "connect" }))
      const b = this.b
      const attempt = (delay: number): Effect.Effect<void, ConnectFailed | ClosedResource> =>
        Effect.suspend(() => {
          if (this.socket.closed) return Effect.fail(new ClosedResource({ operation: "connect" }))
          const r = b.connectAny(this.fd, toAny(address))
          if (r >= 0) return Effect.void
          const code = this.socket.errno(r)
          if (code === "EINPROGRESS") {
            // wait for the handshake, then read its outcome
            return Effect.flatMap(
              this.socket.wait(EV_WRITE),
              (): Effect.Effect<void, ConnectFailed | ClosedResource> => {
                if (this.socket.closed) return Effect.fail(new ClosedResource({ operation: "connect" }))
                const [e, v] = b.getsockopt(this.fd, b.constants.SOL_SOCKET as number, b.constants.SO_ERROR as number)
                return e !== 0 || v !== 0 ? Effect.fail(failed(this.socket.errno(-(e || v)))) : Effect.void
              },
            )
          }
          // a Unix listener with a full backlog: no readiness tells when it has room
          if (code === "EAGAIN" && this.family === "unix")
            return Effect.zipRight(Effect.sleep(delay), attempt(Math.min(delay * 2, 100)))
          return Effect.fail(failed(code))
        })
      // an interrupted connect leaves the socket in an unknown state: it is closed
      return attempt(5).pipe(Effect.onInterrupt(() => Effect.sync(() => this.socket.close())))
    })
  }

  listen(backlog = 511) {
    return Effect.flatMap(validate.positiveInt("backlog", backlog), (n) =>
      Effect.asVoid(this.call("listen", () => this.b.listen(this.fd, n))),
    )
  }

  get accept(): Effect.Effect<
    { readonly socket: RawSocket; readonly address: SocketAddress.SocketAddress },
    OperationFailed | ClosedResource | BusyResource,
    Scope.Scope
  > {
    return Effect.suspend(
      (): Effect.Effect<
        { readonly socket: RawSocket; readonly address: SocketAddress.SocketAddress },
        OperationFailed | ClosedResource | BusyResource,
        Scope.Scope
      > => {
        if (this.socket.closed) return Effect.fail(new ClosedResource({ operation: "accept" }))
        if (this.accepting) return Effect.fail(new BusyResource({ operation: "accept" }))
        this.accepting = true
        // uninterruptible but for the readiness wait: an accepted descriptor always reaches the Scope
        return Effect.uninterruptible(
          Effect.flatMap(
            this.io("accept", EV_READ, () => this.b.accept(this.fd)),
            (fd) =>
              Effect.map(adopt(this.socket, fd, this.family, this.type), (socket) => {
                const peer = this.b.getpeernameAny(fd)
                return {
                  socket,
                  address: typeof peer === "number" ? SocketAddress.unixPath("") : fromAny(peer),
                }
              }),
          ),
        ).pipe(
          Effect.ensuring(
            Effect.sync(() => {
              this.accepting = false
            }),
          ),
        )
      },
    )
  }

  private sendImpl(operation: string, data: Uint8Array, to: SocketAddress.SocketAddress | undefined) {
    return Effect.suspend((): Effect.Effect<number, OperationFailed | ClosedResource | InvalidArgument> => {
      if (!(data instanceof Uint8Array))
        return Effect.fail(new InvalidArgument({ argument: "data", reason: "must be a Uint8Array", value: data }))
      if (to !== undefined) {
        const bad = this.check(to, "to")
        if (bad !== undefined) return Effect.fail(bad)
      }
      const target = to === undefined ? null : toAny(to)
      return this.io(operation, EV_WRITE, () => this.b.sendtoAny(this.fd, data, target), to)
    })
  }

  send(data: Uint8Array) {
    return this.sendImpl("send", data, undefined)
  }

  sendTo(data: Uint8Array, to: SocketAddress.SocketAddress) {
    return this.sendImpl("sendTo", data, to)
  }

  private beginReceive<A, E>(effect: Effect.Effect<A, E>) {
    return Effect.suspend((): Effect.Effect<A, E | ClosedResource | BusyResource> => {
      if (this.socket.closed) return Effect.fail(new ClosedResource({ operation: "receive" }))
      if (this.receiving) return Effect.fail(new BusyResource({ operation: "receive" }))
      this.receiving = true
      return Effect.ensuring(
        effect,
        Effect.sync(() => {
          this.receiving = false
        }),
      )
    })
  }

  private recv(maxBytes: number) {
    return Effect.flatMap(validate.positiveInt("maxBytes", maxBytes), (max) =>
      this.beginReceive(this.io("receive", EV_READ, () => this.b.recvfromAny(this.fd, max))),
    )
  }

  receive(maxBytes = 65536) {
    return Effect.flatMap(this.recv(maxBytes), (r) =>
      // end of stream is an error in netfx, not an empty chunk (an empty datagram is data)
      r.data.length === 0 && this.type === "stream" ? Effect.fail(new EndOfStream()) : Effect.succeed(r.data),
    )
  }

  receiveFrom(maxBytes = 65536) {
    return Effect.flatMap(
      this.recv(maxBytes),
      (r): Effect.Effect<ReceivedDatagram<SocketAddress.SocketAddress | undefined>, EndOfStream> =>
        r.data.length === 0 && this.type === "stream"
          ? Effect.fail(new EndOfStream())
          : Effect.succeed({
              data: r.data,
              address: r.address === null ? undefined : fromAny(r.address),
              truncated: r.truncated,
            }),
    )
  }

  sendMsg(data: Uint8Array, fds: ReadonlyArray<number>) {
    return Effect.suspend((): Effect.Effect<number, OperationFailed | ClosedResource | InvalidArgument> => {
      if (this.family !== "unix" && fds.length > 0)
        return Effect.fail(
          new InvalidArgument({ argument: "fds", reason: "descriptors travel over Unix sockets only", value: fds }),
        )
      if (fds.length > MAX_FDS || !fds.every(validate.isDescriptor))
        return Effect.fail(
          new InvalidArgument({
            argument: "fds",
            reason: `at most ${MAX_FDS} descriptors (integers in 0..2147483647)`,
            value: fds,
          }),
        )
      return this.io("sendMsg", EV_WRITE, () => this.b.sendmsg(this.fd, data, fds))
    })
  }

  receiveMsg(maxBytes: number, maxFds: number) {
    return Effect.gen(this, function* () {
      const max = yield* validate.positiveInt("maxBytes", maxBytes)
      const fdsMax = yield* validate.positiveInt("maxFds", maxFds)
      if (fdsMax > MAX_FDS)
        return yield* Effect.fail(
          new InvalidArgument({ argument: "maxFds", reason: `must be at most ${MAX_FDS} (SCM_MAX_FD)`, value: maxFds }),
        )
      // uninterruptible but for the readiness wait: received descriptors are always returned
      const r = yield* this.beginReceive(
        Effect.uninterruptible(this.io("receiveMsg", EV_READ, () => this.b.recvmsg(this.fd, max, fdsMax))),
      )
      if (r.data.length === 0 && r.fds.length === 0 && this.type === "stream")
        return yield* Effect.fail(new EndOfStream())
      const message: ReceivedMessage = {
        data: r.data,
        fds: r.fds,
        fdsTruncated: r.truncated,
        dataTruncated: r.dataTruncated,
      }
      return message
    })
  }

  shutdown(how: ShutdownHow) {
    return Effect.suspend(() => {
      const c = this.b.constants
      const n = how === "read" ? c.SHUT_RD : how === "write" ? c.SHUT_WR : c.SHUT_RDWR
      return Effect.map(
        this.call("shutdown", () => this.b.shutdown(this.fd, n as number)),
        () => {
          if (how !== "read") this.shutWrite = true
        },
      )
    })
  }

  get isReadable() {
    return Effect.map(
      this.call("isReadable", () => this.b.pollReadable(this.fd)),
      (r) => r === 1,
    )
  }

  getOption(level: number, name: number) {
    return this.call("getOption", () => {
      const [e, v] = this.b.getsockopt(this.fd, level, name)
      return e !== 0 ? -Math.abs(e) : v
    })
  }

  setOption(level: number, name: number, value: number) {
    return Effect.asVoid(this.call("setOption", () => this.b.setsockopt(this.fd, level, name, value)))
  }

  get close(): Effect.Effect<void> {
    return Effect.sync(() => this.socket.close())
  }
}

const bindingOf = Effect.gen(function* () {
  const native = yield* Network.driver("native", FEATURE)
  const { binding } = yield* requireBinding(native.addon, FEATURE)
  if (binding.socketAny === undefined || binding.recvfromAny === undefined)
    return yield* Effect.fail(
      new Unsupported({
        feature: FEATURE,
        runtime: native.addon.runtime,
        reason: "this @netfx/native build has no any-family socket calls; rebuild it (`pnpm rebuild @netfx/native`)",
      }),
    )
  return { addon: native.addon, binding: binding as Full }
})

/** Wraps a descriptor netfx now owns, closed with the Scope. */
const adopt = (
  like: { readonly addon: NativeSocket["addon"] },
  fd: number,
  family: Family,
  type: Type,
): Effect.Effect<RawSocket, never, Scope.Scope> =>
  Effect.map(
    Effect.acquireRelease(
      Effect.sync(() => new NativeSocket(like.addon, fd)),
      (s) => Effect.sync(() => s.close()),
    ),
    (s) => new RawSocketImpl(s, family, type),
  )

const typeNumber = (binding: Full, type: Type): number =>
  (type === "stream" ? binding.constants.SOCK_STREAM : binding.constants.SOCK_DGRAM) as number

/** @internal */
export const socket = (options: {
  readonly family: Family
  readonly type: Type
}): Effect.Effect<RawSocket, Unsupported | OperationFailed | InvalidArgument, Scope.Scope | Network.Network> =>
  Effect.gen(function* () {
    if (!["ipv4", "ipv6", "unix"].includes(options.family))
      return yield* Effect.fail(
        new InvalidArgument({ argument: "family", reason: 'must be "ipv4", "ipv6" or "unix"', value: options.family }),
      )
    if (options.type !== "stream" && options.type !== "dgram")
      return yield* Effect.fail(
        new InvalidArgument({ argument: "type", reason: 'must be "stream" or "dgram"', value: options.type }),
      )
    const { addon, binding } = yield* bindingOf
    return yield* Effect.uninterruptible(
      Effect.suspend(() => {
        const fd = binding.socketAny(familyNumber(options.family), typeNumber(binding, options.type))
        if (fd < 0)
          return Effect.fail(new OperationFailed({ operation: "socket", code: addon.errnoName(fd), syscall: "socket" }))
        return adopt({ addon }, fd, options.family, options.type)
      }),
    )
  })

/** @internal */
export const socketpair = (
  type: Type,
): Effect.Effect<
  readonly [RawSocket, RawSocket],
  Unsupported | OperationFailed | InvalidArgument,
  Scope.Scope | Network.Network
> =>
  Effect.gen(function* () {
    if (type !== "stream" && type !== "dgram")
      return yield* Effect.fail(
        new InvalidArgument({ argument: "type", reason: 'must be "stream" or "dgram"', value: type }),
      )
    const { addon, binding } = yield* bindingOf
    return yield* Effect.uninterruptible(
      Effect.suspend(() => {
        const pair = binding.socketpair(typeNumber(binding, type))
        if (typeof pair === "number")
          return Effect.fail(
            new OperationFailed({ operation: "socketpair", code: addon.errnoName(pair), syscall: "socketpair" }),
          )
        const [a, b] = pair as readonly [number, number]
        return Effect.all([adopt({ addon }, a, "unix", type), adopt({ addon }, b, "unix", type)])
      }),
    )
  })

/** @internal */
export const fromFd = (
  fd: number,
): Effect.Effect<RawSocket, Unsupported | OperationFailed | InvalidArgument, Scope.Scope | Network.Network> =>
  Effect.gen(function* () {
    const invalid = validate.descriptorError("fd", fd)
    if (invalid !== undefined) return yield* Effect.fail(invalid)
    const { addon, binding } = yield* bindingOf
    const c = binding.constants
    const option = (name: string) => {
      const [e, v] = binding.getsockopt(fd, c.SOL_SOCKET as number, c[name] as number)
      return e !== 0 ? -Math.abs(e) : v
    }
    const domain = option("SO_DOMAIN")
    const kind = option("SO_TYPE")
    const bad = [domain, kind].find((r) => r < 0)
    if (bad !== undefined)
      return yield* Effect.fail(
        new OperationFailed({ operation: "fromFd", code: addon.errnoName(bad), syscall: "getsockopt" }),
      )
    const family: Family | undefined =
      domain === c.AF_INET ? "ipv4" : domain === c.AF_INET6 ? "ipv6" : domain === c.AF_UNIX ? "unix" : undefined
    const type: Type | undefined = kind === c.SOCK_STREAM ? "stream" : kind === c.SOCK_DGRAM ? "dgram" : undefined
    if (family === undefined || type === undefined)
      return yield* Effect.fail(
        new InvalidArgument({
          argument: "fd",
          reason: "not an IPv4, IPv6 or Unix stream or datagram socket",
          value: fd,
        }),
      )
    // netfx reads readiness itself: the descriptor must not block
    binding.setNonBlocking(fd, true)
    return yield* Effect.uninterruptible(adopt({ addon }, fd, family, type))
  })
