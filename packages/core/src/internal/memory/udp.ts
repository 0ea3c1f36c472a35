import * as Effect from "effect/Effect"
import * as Scope from "effect/Scope"
import { ListenFailed, Unsupported } from "../../NetError.ts"
import * as SocketAddress from "../../SocketAddress.ts"
import type { RawUdpSocket, UdpBindRequest, UdpDriver, UdpHandlers, UdpOption } from "../../Udp.ts"
import type { MemoryNet } from "./network.ts"
import type { View } from "./tcp.ts"

type Ip = SocketAddress.Ipv4 | SocketAddress.Ipv6

/** The largest UDP payload per family (65535 minus the IP and UDP headers). */
const maxPayload = (address: Ip): number => (address._tag === "Ipv4" ? 65507 : 65527)

/** `::ffff:a.b.c.d` → `a.b.c.d` (the IPv4 packet a dual-stack socket sends). */
const unmap = (address: Ip): Ip => {
  if (address._tag !== "Ipv6") return address
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address.host)
  return m === null ? address : SocketAddress.ipv4(m[1] as string, address.port)
}

const isWildcard = (host: string): boolean => host === "0.0.0.0" || host === "::"

/**
 * A bound in-memory UDP socket. Every datagram meets the link's faults
 * (partition, maximum size, loss, duplication, reordering, latency,
 * jitter, bandwidth) with every random choice drawn from the network's
 * seeded PRNG.
 *
 * @internal
 */
export class MemoryUdpSocket implements RawUdpSocket {
  readonly fd = undefined
  private closed = false

  constructor(
    private readonly net: MemoryNet,
    private readonly view: View,
    readonly localAddress: Ip,
    readonly remoteAddress: Ip | undefined,
    private readonly handlers: UdpHandlers,
  ) {}

  readonly transport = "udp" as const
  get address(): Ip {
    return this.localAddress
  }

  /** The address receivers see as the sender when sending to `to`. */
  private sourceFor(to: Ip): Ip {
    const host = isWildcard(this.localAddress.host)
      ? this.net.sourceFor(to.host.toLowerCase(), this.view)
      : this.localAddress.host
    return SocketAddress.ip(host, this.localAddress.port)
  }

  send(
    data: Uint8Array,
    address: Ip | undefined,
    callback: (
      error: { readonly code: string; readonly syscall?: string | undefined; readonly cause: unknown } | undefined,
    ) => void,
  ): void {
    const to = address ?? this.remoteAddress
    const refusal =
      this.closed || to === undefined
        ? "EBADF"
        : to._tag !== this.localAddress._tag
          ? "EAFNOSUPPORT"
          : data.length > maxPayload(to)
            ? "EMSGSIZE"
            : undefined
    if (refusal !== undefined || to === undefined) {
      callback({ code: refusal ?? "EBADF", syscall: "send", cause: undefined })
      return
    }
    callback(undefined)
    this.transmit(data, unmap(to as Ip))
  }

  private transmit(data: Uint8Array, to: Ip): void {
    const net = this.net
    const from = this.sourceFor(to)
    const fromHost = from.host.toLowerCase()
    const toHost = to.host.toLowerCase()
    net.stats.datagramsSent++
    const f = net.faults(fromHost, toHost)
    if (
      net.partitioned(fromHost, toHost) ||
      (f.maxDatagramSize !== undefined && data.length > f.maxDatagramSize) ||
      net.prng.chance(f.loss)
    ) {
      net.stats.datagramsDropped++
      return
    }
    const copies = net.prng.chance(f.duplicate) ? 2 : 1
    if (copies === 2) net.stats.datagramsDuplicated++
    for (let i = 0; i < copies; i++) {
      let at = net.departure(fromHost, toHost, f, data.length)
      // held back: later datagrams overtake it
      if (net.prng.chance(f.reorder)) at += Math.max(2 * f.latency, 10)
      const payload = data.slice()
      net.scheduler.at(at, () => this.arrive(payload, from, to))
    }
  }

  private arrive(data: Uint8Array, from: Ip, to: Ip): void {
    const net = this.net
    const target = net.lookup<MemoryUdpSocket>("udp", to)
    if (target === undefined || target.closed) {
      net.stats.datagramsDropped++
      // ICMP port unreachable reaches a connected sender
      if (this.remoteAddress !== undefined && !this.closed) {
        const back = net.faults(to.host.toLowerCase(), from.host.toLowerCase())
        net.scheduler.at(net.departure(to.host.toLowerCase(), from.host.toLowerCase(), back, 0), () => {
          if (!this.closed) this.handlers.onError({ code: "ECONNREFUSED", syscall: "recv", cause: undefined })
        })
      }
      return
    }
    const peer = target.remoteAddress === undefined ? undefined : unmap(target.remoteAddress)
    if (peer !== undefined && !(peer.host.toLowerCase() === from.host.toLowerCase() && peer.port === from.port)) {
      // a connected socket only takes datagrams from its peer
      net.stats.datagramsDropped++
      return
    }
    net.stats.datagramsDelivered++
    // a dual-stack IPv6 socket sees IPv4 senders as v4-mapped addresses
    target.handlers.onMessage(
      data,
      from._tag === "Ipv4" && target.localAddress._tag === "Ipv6"
        ? SocketAddress.ipv6(`::ffff:${from.host}`, from.port)
        : from,
    )
  }

  setOption(option: UdpOption): Unsupported | undefined {
    switch (option._tag) {
      case "Broadcast":
      case "Ttl":
      case "MulticastTtl":
      case "MulticastLoopback":
        return undefined
      default:
        return new Unsupported({
          feature: `UDP ${option._tag}`,
          runtime: "memory",
          reason: "the memory network has no multicast groups",
        })
    }
  }

  /** Set by the driver: unbinds the socket. */
  release: () => void = () => {}

  close(): void {
    if (this.closed) return
    this.closed = true
    this.release()
  }
}

/** The in-memory UDP driver. @internal */
export const udpDriver = (net: MemoryNet, view: View): UdpDriver => ({
  bind: (request: UdpBindRequest) =>
    Effect.uninterruptible(
      Effect.flatMap(Effect.scope, (scope) => {
        const remote = request.connect
        const result = net.bind(
          {
            transport: "udp",
            address: request.address,
            reusePort: request.reusePort,
            ipv6Only: request.ipv6Only,
          },
          (address) => {
            const socket = new MemoryUdpSocket(net, view, address as Ip, remote, request.handlers)
            const entry = { transport: "udp" as const, address }
            net.listening.add(entry)
            socket.release = () => {
              net.listening.delete(entry)
              net.unbind("udp", address, socket)
            }
            return socket
          },
        )
        if ("code" in result) {
          return Effect.fail(new ListenFailed({ address: request.address, code: result.code, syscall: "bind" }))
        }
        const socket = result.target
        return Effect.as(
          Scope.addFinalizer(
            scope,
            Effect.sync(() => socket.close()),
          ),
          socket,
        )
      }),
    ),
})
