import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as MemoryNetwork from "../../MemoryNetwork.ts"
import { ResolveFailed } from "../../NetError.ts"
import type { AddressInfo, LookupOptions, ResolverService } from "../../Resolver.ts"
import * as SocketAddress from "../../SocketAddress.ts"
import { Prng, type Scheduler } from "./scheduler.ts"
import type { MemoryConnection } from "./stream.ts"

/** Faults with every field resolved to a number or flag. @internal */
export interface Effective {
  latency: number
  jitter: number
  bandwidth: number | undefined
  refuse: boolean
  blackhole: boolean
  resetAfterBytes: number | undefined
  loss: number
  duplicate: number
  reorder: number
  maxDatagramSize: number | undefined
}

const millis = (d: Duration.DurationInput): number => Duration.toMillis(Duration.decode(d))

const apply = (target: Effective, faults: MemoryNetwork.Faults): void => {
  if (faults.latency !== undefined) target.latency = millis(faults.latency)
  if (faults.jitter !== undefined) target.jitter = millis(faults.jitter)
  if (faults.bandwidth !== undefined) target.bandwidth = faults.bandwidth
  if (faults.refuse !== undefined) target.refuse = faults.refuse
  if (faults.blackhole !== undefined) target.blackhole = faults.blackhole
  if (faults.resetAfterBytes !== undefined) target.resetAfterBytes = faults.resetAfterBytes
  if (faults.loss !== undefined) target.loss = faults.loss
  if (faults.duplicate !== undefined) target.duplicate = faults.duplicate
  if (faults.reorder !== undefined) target.reorder = faults.reorder
  if (faults.maxDatagramSize !== undefined) target.maxDatagramSize = faults.maxDatagramSize
}

/** A live socket as the network tracks it (for `Control.sockets` and resets). @internal */
export interface Tracked {
  readonly transport: MemoryNetwork.Transport
  readonly localAddress: SocketAddress.SocketAddress
  readonly remoteAddress: SocketAddress.SocketAddress | undefined
  readonly bytesSent: number
  readonly bytesReceived: number
  /** Resets the socket (and its peer) now. */
  reset(): void
}

/** A bound listener or datagram endpoint, keyed by transport and address. @internal */
export interface Bound {
  readonly transport: MemoryNetwork.Transport
  readonly address: SocketAddress.SocketAddress
  readonly reusePort: boolean
  readonly ipv6Only: boolean
}

/** The host part used for link faults and partitions. @internal */
export const hostOf = (address: SocketAddress.SocketAddress): string =>
  SocketAddress.isIp(address) ? address.host.toLowerCase() : "unix"

const isLoopback = (host: string): boolean => host.startsWith("127.") || host === "::1"

/**
 * The shared state of one in-memory network: virtual clock, PRNG, faults,
 * partitions, bindings, statistics and the static name table.
 *
 * @internal
 */
export class MemoryNet {
  readonly prng: Prng
  readonly window: number
  readonly defaultIpv4: string
  readonly defaultIpv6: string
  private readonly hosts = new Map<string, Array<string>>()
  private global: MemoryNetwork.Faults = {}
  private rules: Array<MemoryNetwork.LinkRule> = []
  private partitions: Array<readonly [ReadonlyArray<string>, ReadonlyArray<string>]> = []
  private held: Array<{ readonly from: string; readonly to: string; readonly redeliver: () => void }> = []
  private readonly linkBusy = new Map<string, number>()
  readonly bound = new Map<string, Array<Bound & { readonly target: unknown }>>()
  readonly sockets = new Set<Tracked>()
  /** Every connect attempt, in order (for `Control.connects`). */
  readonly connects: Array<MemoryNetwork.ConnectInfo> = []
  /** Listeners and datagram endpoints, for `Control.listeners`. */
  readonly listening = new Set<{
    readonly transport: MemoryNetwork.Transport
    readonly address: SocketAddress.SocketAddress
  }>()
  private nextPort = 49152
  readonly stats = {
    bytesSent: 0,
    bytesDelivered: 0,
    connectionsOpened: 0,
    connectionsRefused: 0,
    connectionsReset: 0,
    retransmissions: 0,
    datagramsSent: 0,
    datagramsDelivered: 0,
    datagramsDropped: 0,
    datagramsDuplicated: 0,
  }

  constructor(
    readonly scheduler: Scheduler,
    options: MemoryNetwork.Options,
  ) {
    this.prng = new Prng(options.seed ?? 1)
    this.window = options.window ?? 128 * 1024
    this.defaultIpv4 = options.address?.ipv4 ?? "10.0.0.1"
    this.defaultIpv6 = options.address?.ipv6 ?? "fd00::1"
    this.addHost("localhost", ["127.0.0.1", "::1"])
    for (const [name, addresses] of Object.entries(options.hosts ?? {})) {
      this.addHost(name, typeof addresses === "string" ? [addresses] : addresses)
    }
    if (options.faults !== undefined) this.global = options.faults
    if (options.links !== undefined) this.rules = [...options.links]
  }

  now(): number {
    return this.scheduler.now()
  }

  // ---- names ----

  addHost(name: string, addresses: ReadonlyArray<string>): void {
    this.hosts.set(
      name.toLowerCase(),
      addresses.map((a) => a.toLowerCase()),
    )
  }

  removeHost(name: string): void {
    this.hosts.delete(name.toLowerCase())
  }

  /** Expands a name of the static table to its addresses; anything else stands for itself. */
  expand(host: string): ReadonlyArray<string> {
    const h = host.toLowerCase()
    return this.hosts.get(h) ?? [h.startsWith("[") && h.endsWith("]") ? h.slice(1, -1) : h]
  }

  private matches(pattern: string | ReadonlyArray<string> | undefined, host: string): boolean {
    if (pattern === undefined) return true
    const list = typeof pattern === "string" ? [pattern] : pattern
    return list.some((p) => this.expand(p).includes(host))
  }

  /** The local address a connection from this network view to `remote` originates from. */
  sourceFor(remote: string, view: { readonly ipv4?: string | undefined; readonly ipv6?: string | undefined }): string {
    if (isLoopback(remote)) return remote
    return remote.includes(":") ? (view.ipv6 ?? this.defaultIpv6) : (view.ipv4 ?? this.defaultIpv4)
  }

  readonly resolver: ResolverService = {
    getaddrinfo: (host: string, port: number, options?: LookupOptions) =>
      Effect.suspend(() => {
        const bare = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host
        const numeric = SocketAddress.numericFamily(bare)
        const list = numeric !== 0 ? [bare] : (this.hosts.get(bare.toLowerCase()) ?? [])
        const family = options?.family ?? 0
        const types: ReadonlyArray<"stream" | "dgram"> =
          options?.type === undefined ? ["stream", "dgram"] : [options.type]
        const infos: Array<AddressInfo> = []
        for (const a of list) {
          const f = SocketAddress.numericFamily(a)
          if (f === 0 || (family !== 0 && f !== family)) continue
          for (const type of types) {
            infos.push({
              family: f,
              address: SocketAddress.ip(a, port),
              type,
              protocol: options?.protocol ?? (type === "stream" ? 6 : 17),
            })
          }
        }
        if (infos.length === 0) {
          return Effect.fail(new ResolveFailed({ host, code: "ENOTFOUND", syscall: "getaddrinfo" }))
        }
        return Effect.succeed(infos)
      }),
    getnameinfo: (address: SocketAddress.Ipv4 | SocketAddress.Ipv6) =>
      Effect.sync(() => {
        const ip = address.host.toLowerCase()
        for (const [name, list] of this.hosts)
          if (list.includes(ip)) return { host: name, service: String(address.port) }
        return { host: address.host, service: String(address.port) }
      }),
  }

  // ---- faults ----

  setGlobal(faults: MemoryNetwork.Faults): void {
    this.global = faults
  }

  setLink(rule: MemoryNetwork.LinkRule): void {
    this.rules.push(rule)
  }

  clearFaults(): void {
    this.global = {}
    this.rules = []
  }

  /** The faults in force from `from` to `to` (host parts). */
  faults(from: string, to: string): Effective {
    const e: Effective = {
      latency: 0,
      jitter: 0,
      bandwidth: undefined,
      refuse: false,
      blackhole: false,
      resetAfterBytes: undefined,
      loss: 0,
      duplicate: 0,
      reorder: 0,
      maxDatagramSize: undefined,
    }
    apply(e, this.global)
    for (const rule of this.rules) {
      const forward = this.matches(rule.from, from) && this.matches(rule.to, to)
      const backward = rule.oneWay !== true && this.matches(rule.from, to) && this.matches(rule.to, from)
      if (forward || backward) apply(e, rule.faults)
    }
    return e
  }

  /** One-way delay of a packet of `size` bytes sent now, with bandwidth and jitter. */
  departure(from: string, to: string, f: Effective, size: number): number {
    const now = this.now()
    let depart = now
    if (f.bandwidth !== undefined && f.bandwidth > 0) {
      const key = `${from}>${to}`
      const start = Math.max(now, this.linkBusy.get(key) ?? now)
      depart = start + (size * 1000) / f.bandwidth
      this.linkBusy.set(key, depart)
    }
    // whole milliseconds, so virtual timings are exact integers
    return Math.ceil(depart + f.latency + (f.jitter > 0 ? this.prng.next() * f.jitter : 0))
  }

  partition(a: ReadonlyArray<string>, b: ReadonlyArray<string>): void {
    this.partitions.push([a, b])
  }

  partitioned(from: string, to: string): boolean {
    return this.partitions.some(
      ([a, b]) => (this.matches(a, from) && this.matches(b, to)) || (this.matches(a, to) && this.matches(b, from)),
    )
  }

  /** Keeps a stream delivery that met a partition until `heal`. */
  hold(from: string, to: string, redeliver: () => void): void {
    this.held.push({ from, to, redeliver })
  }

  heal(): void {
    this.partitions = []
    const held = this.held
    this.held = []
    for (const h of held) h.redeliver()
    const waiters = [...this.healWaiters]
    this.healWaiters.clear()
    for (const w of waiters) w()
  }

  private readonly healWaiters = new Set<() => void>()

  /** Completes at the next `heal` (interruptible). */
  readonly healed: Effect.Effect<void> = Effect.async<void>((resume) => {
    const w = () => resume(Effect.void)
    this.healWaiters.add(w)
    return Effect.sync(() => {
      this.healWaiters.delete(w)
    })
  })

  // ---- ports ----

  private key(transport: string, address: SocketAddress.SocketAddress): string {
    return SocketAddress.isIp(address)
      ? `${transport}|${address.port}`
      : `${transport}|${SocketAddress.format(address)}`
  }

  /** The bindings that would conflict with binding `b`. */
  private conflicts(b: Bound): Array<Bound> {
    const list = this.bound.get(this.key(b.transport, b.address)) ?? []
    const a = b.address
    if (!SocketAddress.isIp(a)) return list
    const wild = (x: SocketAddress.Ipv4 | SocketAddress.Ipv6) => x.host === "0.0.0.0" || x.host === "::"
    return list.filter((o) => {
      const oa = o.address as SocketAddress.Ipv4 | SocketAddress.Ipv6
      if (b.reusePort && o.reusePort) return false
      if (oa._tag === a._tag) return oa.host === a.host || wild(oa) || wild(a)
      // a dual-stack "::" also takes the IPv4 port
      const v6 = oa._tag === "Ipv6" ? o : b
      return (v6.address as SocketAddress.Ipv6).host === "::" && !v6.ipv6Only
    })
  }

  /** Binds, allocating a port for port 0; returns the bound address or an errno. */
  bind<T>(
    b: Bound,
    make: (address: SocketAddress.SocketAddress) => T,
  ): { readonly target: T } | { readonly code: "EADDRINUSE" | "EADDRNOTAVAIL" } {
    let address = b.address
    if (SocketAddress.isIp(address) && address.port === 0) {
      let found: SocketAddress.SocketAddress | undefined
      for (let i = 0; i < 16384; i++) {
        const port = this.nextPort
        this.nextPort = this.nextPort >= 65535 ? 49152 : this.nextPort + 1
        const candidate = SocketAddress.ip(address.host, port)
        if (this.conflicts({ ...b, address: candidate }).length === 0) {
          found = candidate
          break
        }
      }
      if (found === undefined) return { code: "EADDRNOTAVAIL" }
      address = found
    } else if (this.conflicts(b).length > 0) {
      return { code: "EADDRINUSE" }
    }
    const k = this.key(b.transport, address)
    const list = this.bound.get(k) ?? []
    const target = make(address)
    list.push({ ...b, address, target })
    this.bound.set(k, list)
    return { target }
  }

  unbind(transport: string, address: SocketAddress.SocketAddress, target: unknown): void {
    const k = this.key(transport, address)
    const list = (this.bound.get(k) ?? []).filter((b) => b.target !== target)
    if (list.length === 0) this.bound.delete(k)
    else this.bound.set(k, list)
  }

  private roundRobin = 0

  /** The binding that receives traffic for `address` (exact address first, then wildcards). */
  lookup<T>(transport: string, address: SocketAddress.SocketAddress): T | undefined {
    const list = this.bound.get(this.key(transport, address))
    if (list === undefined || list.length === 0) return undefined
    let candidates = list
    if (SocketAddress.isIp(address)) {
      const host = address.host.toLowerCase()
      const exact = list.filter((b) => (b.address as SocketAddress.Ipv4).host.toLowerCase() === host)
      const same = list.filter(
        (b) => b.address._tag === address._tag && ["0.0.0.0", "::"].includes((b.address as SocketAddress.Ipv4).host),
      )
      const dual = list.filter(
        (b) => address._tag === "Ipv4" && (b.address as SocketAddress.Ipv6).host === "::" && !b.ipv6Only,
      )
      candidates = exact.length > 0 ? exact : same.length > 0 ? same : dual
    }
    if (candidates.length === 0) return undefined
    const pick = candidates[this.roundRobin++ % candidates.length] as { readonly target: unknown }
    return pick.target as T
  }

  /** An ephemeral local port for an outgoing socket on `host`. */
  ephemeral(transport: string, host: string): number | undefined {
    for (let i = 0; i < 16384; i++) {
      const port = this.nextPort
      this.nextPort = this.nextPort >= 65535 ? 49152 : this.nextPort + 1
      if (!this.bound.has(`${transport}|${port}`) && !this.used.has(`${transport}|${host}|${port}`)) return port
    }
    return undefined
  }

  /** Local ports held by connected sockets (not listening). */
  readonly used = new Set<string>()

  /**
   * Set by the virtual kernel: gives a stream connection a descriptor (so
   * it can be passed with `FdPassing`) and closes one. @internal
   */
  streamDescriptors:
    | { readonly open: (connection: MemoryConnection) => number; readonly close: (fd: number) => void }
    | undefined = undefined
}
