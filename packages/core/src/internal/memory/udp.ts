import * as Effect from "effect/Effect"
import * as Scope from "effect/Scope"
import type { RawUdpSocket, UdpBindRequest, UdpDriver, UdpHandlers, UdpOption } from "../../Driver.ts"
import { ConnectFailed, ListenFailed, OperationFailed } from "../../NetError.ts"
import * as SocketAddress from "../../SocketAddress.ts"
import { isMulticast } from "../udp.ts"
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

/** One spelling per address (`FF15:0::1234` → `ff15::1234`), so groups and sources compare by value. */
const canonical = (host: string): string => {
  const h = host.toLowerCase()
  if (!h.includes(":")) return h
  try {
    return new URL(`http://[${h}]/`).hostname.slice(1, -1)
  } catch {
    return h
  }
}

/**
 * Whether a destination is a broadcast address of the memory network:
 * `"loopback"` for 127.255.255.255 (the sending host's own sockets),
 * `"link"` for the limited broadcast 255.255.255.255 and for any other
 * IPv4 address ending in `.255` (the directed broadcast of a /24): every
 * host of the network.
 */
const broadcastKind = (to: Ip): "loopback" | "link" | undefined => {
  if (to._tag !== "Ipv4" || !to.host.endsWith(".255") || isMulticast(to.host)) return undefined
  if (to.host.startsWith("127.")) return to.host === "127.255.255.255" ? "loopback" : undefined
  return "link"
}

/** Whether an interface argument is an address of the family (for IPv6 optionally with a scope: `"::%lo"`). */
const interfaceOk = (address: string, family: 4 | 6): boolean => {
  const bare = family === 6 ? (address.split("%")[0] as string) : address
  return SocketAddress.numericFamily(bare) === family
}

/** A socket's membership of one group: `undefined` sources is any-source, else the included sources. */
interface Membership {
  sources: Array<string> | undefined
}

/** Every open UDP socket of the network with its binding, in a fixed order (so PRNG draws repeat). */
const udpSockets = (
  net: MemoryNet,
): Array<{ readonly bound: { readonly ipv6Only: boolean }; readonly socket: MemoryUdpSocket }> => {
  const all: Array<{ readonly bound: { readonly ipv6Only: boolean }; readonly socket: MemoryUdpSocket }> = []
  for (const list of net.bound.values())
    for (const b of list)
      if (b.transport === "udp" && b.target instanceof MemoryUdpSocket && !b.target.closed)
        all.push({ bound: b, socket: b.target })
  return all
}

/**
 * A bound in-memory UDP socket. Every datagram meets the link's faults
 * (partition, maximum size, loss, duplication, reordering, latency,
 * jitter, bandwidth) with every random choice drawn from the network's
 * seeded PRNG.
 *
 * Multicast and broadcast follow Linux: a datagram to a group reaches a
 * host when one of its sockets is a member admitting the source, and there
 * every socket bound to the port (wildcard or the group itself) that is a
 * member admitting the source, or that has no membership of that group at
 * all (IP_MULTICAST_ALL, on by default), gets its own copy; each copy
 * meets the faults of the link to that socket's host. A host is a network
 * view (its source addresses). Broadcasts need SO_BROADCAST (`EACCES`
 * otherwise) and reach every socket bound to the port on the wildcard or on
 * the broadcast address itself.
 *
 * @internal
 */
export class MemoryUdpSocket implements RawUdpSocket {
  readonly fd = undefined
  closed = false
  /** The host this socket lives on: sockets of views with the same source addresses share it. */
  readonly hostKey: string
  private broadcast = false
  private multicastTtl = 1
  private multicastLoop = true
  /** IP_MULTICAST_IF of an IPv4 socket: the source address of its multicasts when bound to the wildcard. */
  private multicastSource: string | undefined = undefined
  private readonly memberships = new Map<string, Membership>()

  constructor(
    private readonly net: MemoryNet,
    private readonly view: View,
    readonly localAddress: Ip,
    readonly remoteAddress: Ip | undefined,
    private readonly handlers: UdpHandlers,
  ) {
    this.hostKey = `${(view.ipv4 ?? net.defaultIpv4).toLowerCase()}|${canonical(view.ipv6 ?? net.defaultIpv6)}`
  }

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

  /** The sender's address of a multicast or broadcast to `to`. */
  private groupSourceFor(to: Ip, kind: "multicast" | "loopback" | "link"): Ip {
    const port = this.localAddress.port
    if (!isWildcard(this.localAddress.host)) return SocketAddress.ip(this.localAddress.host, port)
    if (kind === "loopback") return SocketAddress.ipv4("127.0.0.1", port)
    if (kind === "multicast" && to._tag === "Ipv4" && this.multicastSource !== undefined)
      return SocketAddress.ipv4(this.multicastSource, port)
    return SocketAddress.ip(this.net.sourceFor(to.host.toLowerCase(), this.view), port)
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
    const destination = unmap(to)
    if (isMulticast(destination.host)) {
      callback(undefined)
      this.multicast(data, destination)
      return
    }
    const kind = broadcastKind(destination)
    if (kind !== undefined) {
      // SO_BROADCAST off: the kernel refuses the route (the socket stays usable)
      if (!this.broadcast) {
        callback({ code: "EACCES", syscall: "send", cause: undefined })
        return
      }
      callback(undefined)
      this.broadcastTo(data, destination, kind)
      return
    }
    callback(undefined)
    this.transmit(data, destination)
  }

  /**
   * One datagram over the link from `fromHost` to `toHost`: partition,
   * maximum size, loss, duplication, reordering and delay, then `deliver`
   * with each copy that got through.
   */
  private link(fromHost: string, toHost: string, data: Uint8Array, deliver: (payload: Uint8Array) => void): void {
    const net = this.net
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
      net.scheduler.at(at, () => deliver(payload))
    }
  }

  private transmit(data: Uint8Array, to: Ip): void {
    const from = this.sourceFor(to)
    this.link(from.host.toLowerCase(), to.host.toLowerCase(), data, (payload) => this.arrive(payload, from, to))
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
    target.deliver(data, from)
  }

  /** Hands an arrived datagram to this socket (a connected socket only takes its peer's). */
  private deliver(data: Uint8Array, from: Ip): void {
    const net = this.net
    const peer = this.remoteAddress === undefined ? undefined : unmap(this.remoteAddress)
    if (peer !== undefined && !(peer.host.toLowerCase() === from.host.toLowerCase() && peer.port === from.port)) {
      // a connected socket only takes datagrams from its peer
      net.stats.datagramsDropped++
      return
    }
    net.stats.datagramsDelivered++
    // a dual-stack IPv6 socket sees IPv4 senders as v4-mapped addresses
    this.handlers.onMessage(
      data,
      from._tag === "Ipv4" && this.localAddress._tag === "Ipv6"
        ? SocketAddress.ipv6(`::ffff:${from.host}`, from.port)
        : from,
    )
  }

  // ---- multicast and broadcast ----

  /** Whether this socket's binding takes datagrams sent to `to` (a group or broadcast address). */
  private boundFor(to: Ip, group: string, ipv6Only: boolean): boolean {
    const mine = this.localAddress
    if (mine.port !== to.port || this.closed) return false
    if (canonical(mine.host) === group) return true
    if (mine._tag === to._tag) return isWildcard(mine.host)
    // a dual-stack "::" socket also takes IPv4
    return to._tag === "Ipv4" && mine.host === "::" && !ipv6Only
  }

  private static admits(membership: Membership | undefined, source: string): boolean {
    return membership !== undefined && (membership.sources === undefined || membership.sources.includes(source))
  }

  /**
   * Whether a datagram from `source` to `group` reaches this socket: its
   * own membership decides when it has one; without one it gets what its
   * host is a member for (Linux's IP_MULTICAST_ALL, on by default).
   */
  private acceptsGroup(group: string, source: string): boolean {
    const own = this.memberships.get(group)
    if (own !== undefined) return MemoryUdpSocket.admits(own, source)
    return udpSockets(this.net).some(
      ({ socket }) => socket.hostKey === this.hostKey && MemoryUdpSocket.admits(socket.memberships.get(group), source),
    )
  }

  /**
   * Sends one copy to each of `members` over the link to its host; each
   * copy is checked again on arrival. No member: counted as one datagram
   * sent and dropped.
   */
  private fanOut(
    data: Uint8Array,
    from: Ip,
    to: Ip,
    members: ReadonlyArray<MemoryUdpSocket>,
    accepts: (member: MemoryUdpSocket) => boolean,
    loopback = false,
  ): void {
    const net = this.net
    if (members.length === 0) {
      net.stats.datagramsSent++
      net.stats.datagramsDropped++
      return
    }
    const fromHost = from.host.toLowerCase()
    const toHost = to.host.toLowerCase()
    for (const member of members) {
      // the member's end of the link: its host's address (127.0.0.1 for a loopback broadcast)
      const memberHost = loopback ? "127.0.0.1" : net.sourceFor(toHost, member.view).toLowerCase()
      this.link(fromHost, memberHost, data, (payload) => {
        if (member.closed || !accepts(member)) {
          net.stats.datagramsDropped++
          return
        }
        member.deliver(payload, from)
      })
    }
  }

  private multicast(data: Uint8Array, to: Ip): void {
    const group = canonical(to.host)
    const from = this.groupSourceFor(to, "multicast")
    const source = canonical(from.host)
    const accepts = (m: MemoryUdpSocket) => m.acceptsGroup(group, source)
    const members = udpSockets(this.net)
      .filter(({ bound, socket }) => socket.boundFor(to, group, bound.ipv6Only))
      // IP_MULTICAST_LOOP for this host's members, the TTL (0: this host only) for the others
      .filter(({ socket }) => (socket.hostKey === this.hostKey ? this.multicastLoop : this.multicastTtl > 0))
      .map(({ socket }) => socket)
      .filter(accepts)
    this.fanOut(data, from, to, members, accepts)
  }

  private broadcastTo(data: Uint8Array, to: Ip, kind: "loopback" | "link"): void {
    const address = canonical(to.host)
    const from = this.groupSourceFor(to, kind)
    const members = udpSockets(this.net)
      .filter(({ bound, socket }) => socket.boundFor(to, address, bound.ipv6Only))
      .filter(({ socket }) => kind === "link" || socket.hostKey === this.hostKey)
      .map(({ socket }) => socket)
    this.fanOut(data, from, to, members, () => true, kind === "loopback")
  }

  private join(group: string, source: string | undefined): string | undefined {
    const m = this.memberships.get(group)
    if (source === undefined) {
      if (m !== undefined) return "EADDRINUSE"
      this.memberships.set(group, { sources: undefined })
      return undefined
    }
    // an any-source membership switches to source-specific (the kernel's "mode switch for an empty filter")
    if (m === undefined || m.sources === undefined) {
      this.memberships.set(group, { sources: [source] })
      return undefined
    }
    if (m.sources.includes(source)) return "EADDRNOTAVAIL"
    m.sources.push(source)
    return undefined
  }

  private leave(group: string, source: string | undefined): string | undefined {
    const m = this.memberships.get(group)
    if (source === undefined) {
      if (m === undefined) return "EADDRNOTAVAIL"
      this.memberships.delete(group)
      return undefined
    }
    if (m === undefined) return "EINVAL"
    if (m.sources === undefined || !m.sources.includes(source)) return "EADDRNOTAVAIL"
    m.sources = m.sources.filter((s) => s !== source)
    if (m.sources.length === 0) this.memberships.delete(group)
    return undefined
  }

  private option(option: UdpOption): string | undefined {
    const family = this.localAddress._tag === "Ipv6" ? 6 : 4
    switch (option._tag) {
      case "Broadcast":
        this.broadcast = option.enabled
        return undefined
      case "Ttl":
        return undefined
      case "MulticastTtl":
        this.multicastTtl = option.ttl
        return undefined
      case "MulticastLoopback":
        this.multicastLoop = option.enabled
        return undefined
      case "MulticastInterface":
        if (!interfaceOk(option.address, family)) return "EINVAL"
        // IPv6 names the interface by its scope only; a memory host has a single interface
        if (family === 4) this.multicastSource = option.address === "0.0.0.0" ? undefined : option.address
        return undefined
      case "JoinGroup":
      case "LeaveGroup": {
        const groupFamily = SocketAddress.numericFamily(option.group)
        if (!isMulticast(option.group) || groupFamily === 0 || (groupFamily === 6 && family === 4)) return "EINVAL"
        if (option.interface !== undefined && !interfaceOk(option.interface, groupFamily)) return "EINVAL"
        if (option.source !== undefined && SocketAddress.numericFamily(option.source) !== groupFamily) return "EINVAL"
        const group = canonical(option.group)
        const source = option.source === undefined ? undefined : canonical(option.source)
        return option._tag === "JoinGroup" ? this.join(group, source) : this.leave(group, source)
      }
    }
  }

  setOption(option: UdpOption): OperationFailed | undefined {
    const code = this.closed ? "EBADF" : this.option(option)
    return code === undefined
      ? undefined
      : new OperationFailed({
          operation: `set ${option._tag}`,
          code,
          syscall: "setsockopt",
          address: this.localAddress,
        })
  }

  /** Set by the driver: unbinds the socket. */
  release: () => void = () => {}

  close(): void {
    if (this.closed) return
    this.closed = true
    // closing leaves every group
    this.memberships.clear()
    this.release()
  }
}

/** The in-memory UDP driver. @internal */
export const udpDriver = (net: MemoryNet, view: View): UdpDriver => ({
  bind: (request: UdpBindRequest) =>
    Effect.uninterruptible(
      Effect.flatMap(Effect.scope, (scope): Effect.Effect<MemoryUdpSocket, ListenFailed | ConnectFailed> => {
        const remote = request.connect
        // connect(2) to a broadcast address needs SO_BROADCAST, which cannot be set before it
        if (remote !== undefined && broadcastKind(unmap(remote)) !== undefined)
          return Effect.fail(
            new ConnectFailed({
              host: remote.host,
              port: remote.port,
              attempts: [{ address: remote, code: "EACCES", syscall: "connect" }],
            }),
          )
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
