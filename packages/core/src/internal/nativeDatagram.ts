import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { NativeBinding } from "../NativeDriver.ts"
import {
  BrokenResource,
  BusyResource,
  ClosedResource,
  type ConnectFailed,
  InvalidArgument,
  ListenFailed,
  type Unsupported,
} from "../NetError.ts"
import * as Network from "../Network.ts"
import * as SocketAddress from "../SocketAddress.ts"
import * as Unix from "../Unix.ts"
import type { BindOptions, Packet, UnixDatagramSocket } from "../UnixDatagram.ts"
import { EV_READ, EV_WRITE, NativeSocket, nameOf, requireBinding, toAddress } from "./nativeSocket.ts"

type UnixAddress = SocketAddress.UnixPath | SocketAddress.UnixAbstract

/** How long one worker-thread blocking sendto may sleep before netfx checks for interruption. */
const SEND_WAIT_MILLIS = 250

const busyReceive = new BusyResource({ operation: "receive" })

class UnixDatagramImpl implements UnixDatagramSocket {
  private receiving = false
  readonly fd: number
  constructor(
    readonly socket: NativeSocket,
    readonly address: UnixAddress,
    readonly remoteAddress: UnixAddress | undefined,
    private readonly sendLock: Effect.Semaphore,
  ) {
    this.fd = socket.fd
  }

  receive(maxBytes = 65536): Effect.Effect<Packet, ClosedResource | BusyResource | BrokenResource | InvalidArgument> {
    return Effect.suspend(
      (): Effect.Effect<Packet, ClosedResource | BusyResource | BrokenResource | InvalidArgument> => {
        if (!(Number.isInteger(maxBytes) && maxBytes >= 1))
          return Effect.fail(
            new InvalidArgument({ argument: "maxBytes", reason: "must be an integer >= 1", value: maxBytes }),
          )
        if (this.socket.closed) return Effect.fail(new ClosedResource({ operation: "receive" }))
        if (this.receiving) return Effect.fail(busyReceive)
        this.receiving = true
        const binding = this.socket.binding
        return this.socket
          .io("recvfrom", EV_READ, () => binding.recvfrom(this.fd, maxBytes))
          .pipe(
            Effect.map((r) => ({ data: r.data, address: toAddress(r.address), truncated: r.truncated })),
            Effect.ensuring(
              Effect.sync(() => {
                this.receiving = false
              }),
            ),
          )
      },
    )
  }

  sendTo(
    data: Uint8Array,
    to: Unix.UnixAddressInput,
  ): Effect.Effect<void, ClosedResource | BrokenResource | InvalidArgument> {
    return Effect.flatMap(Unix.toAddress("to", to), (address) => this.sendImpl(data, address))
  }

  send(data: Uint8Array): Effect.Effect<void, ClosedResource | BrokenResource | InvalidArgument> {
    return this.remoteAddress === undefined
      ? Effect.fail(
          new InvalidArgument({
            argument: "send",
            reason: "the socket is not connected; use sendTo",
            value: undefined,
          }),
        )
      : this.sendImpl(data, undefined)
  }

  private sendImpl(
    data: Uint8Array,
    to: UnixAddress | undefined,
  ): Effect.Effect<void, ClosedResource | BrokenResource | InvalidArgument> {
    if (!(data instanceof Uint8Array))
      return Effect.fail(new InvalidArgument({ argument: "data", reason: "must be a Uint8Array", value: data }))
    const socket = this.socket
    const binding = socket.binding
    const fd = this.fd
    const target = to ?? this.remoteAddress
    const [name, abstract] = to === undefined ? [null, false] : nameOf(to)
    const operation = "sendTo"
    const fail = (r: number) =>
      Effect.fail(new BrokenResource({ operation, code: socket.errno(r), syscall: "sendto", address: target }))
    // Connected: poll reports writability when the peer's queue drains.
    const connectedSend = socket.io(operation, EV_WRITE, () => binding.sendto(fd, data, null, false), target)
    // Unconnected: Linux reports the socket writable even when the peer's
    // queue is full, so wait in a blocking sendto on a worker thread.
    const waitSend = (n: string, a: boolean): Effect.Effect<void, ClosedResource | BrokenResource> =>
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
        ClosedResource | BrokenResource
      >,
    )
  }

  get close(): Effect.Effect<void> {
    return Effect.sync(() => this.socket.close())
  }
}

const listenFailed = (address: UnixAddress, code: string) => new ListenFailed({ address, code, syscall: "bind" })

/** @internal */
export const open = (
  options: BindOptions,
  remote: Unix.UnixAddressInput | undefined,
): Effect.Effect<
  UnixDatagramSocket,
  ListenFailed | ConnectFailed | InvalidArgument | Unsupported,
  Scope.Scope | Network.Network
> =>
  Effect.gen(function* () {
    const local = options.path === undefined ? undefined : yield* Unix.toAddress("path", options.path)
    const peer = remote === undefined ? undefined : yield* Unix.toAddress("remotePath", remote)
    yield* Unix.validateMode(options.mode)
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
        yield* Unix.bindAt(
          network.unix,
          local,
          bindOnce,
          probeDatagram(binding, native.addon.errnoName, local),
          options,
        )
      } else {
        yield* bindOnce
      }
    }
    if (peer !== undefined) {
      const [name, abstract] = nameOf(peer)
      const r = binding.connect(socket.fd, name, abstract)
      if (r < 0) return yield* Effect.fail(Unix.connectFailed(peer, native.addon.errnoName(r), "connect", undefined))
    }
    const named = binding.getsockname(socket.fd)
    const address = typeof named === "number" ? (local ?? SocketAddress.unixPath("")) : toAddress(named)
    const lock = yield* Effect.makeSemaphore(1)
    return new UnixDatagramImpl(socket, address, peer, lock)
  })

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
