// The front every lookup goes through (`Resolver.make`): numeric hosts,
// IDNA, family / socket type / flag semantics and error mapping around a
// resolver implementation, which then only sees ASCII, non-numeric names.
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { ResolveFailed } from "../../NetError.ts"
import type { AddressInfo, LookupOptions, NameInfo, ResolverService, SocketType } from "../../Resolver.ts"
import * as SocketAddress from "../../SocketAddress.ts"
import {
  AI_ALL,
  AI_CANONNAME,
  AI_NUMERICHOST,
  AI_V4MAPPED,
  NI_NAMEREQD,
  NI_NOFQDN,
  NI_NUMERICHOST,
  NI_NUMERICSERV,
} from "./flags.ts"
import { toAscii } from "./idna.ts"

const fronts = new WeakSet<ResolverService>()

export const protocolOf = (type: SocketType): number => (type === "stream" ? 6 : 17)

export const failed = (host: string, code: string, syscall = "getaddrinfo") =>
  new ResolveFailed({ host, code, syscall })

/** A numeric host as an address (IPv6 keeps its `%zone`; a numeric zone is also the scope id). */
export const numericAddress = (host: string, port: number): SocketAddress.Ipv4 | SocketAddress.Ipv6 => {
  if (!host.includes(":")) return SocketAddress.ipv4(host, port)
  const zone = host.includes("%") ? host.slice(host.indexOf("%") + 1) : ""
  return SocketAddress.ipv6(host, port, { scopeId: /^\d+$/.test(zone) ? Number(zone) : 0 })
}

const v4Mapped = (address: SocketAddress.Ipv4): SocketAddress.Ipv6 =>
  SocketAddress.ipv6(`::ffff:${address.host}`, address.port)

/** Family filtering, AI_V4MAPPED/AI_ALL, the socket type expansion and the canonical name. */
export const shape = (
  host: string,
  port: number,
  found: ReadonlyArray<SocketAddress.Ipv4 | SocketAddress.Ipv6>,
  options: LookupOptions | undefined,
  canonicalName: string | undefined,
): Effect.Effect<ReadonlyArray<AddressInfo>, ResolveFailed> => {
  const family = options?.family ?? 0
  const flags = options?.flags ?? 0
  let addresses = found.map((a) => SocketAddress.withPort(a, port))
  if (family === 6 && (flags & AI_V4MAPPED) !== 0) {
    const v6 = addresses.filter((a) => a._tag === "Ipv6")
    const mapped = addresses.filter((a) => a._tag === "Ipv4").map(v4Mapped)
    addresses = (flags & AI_ALL) !== 0 ? [...v6, ...mapped] : v6.length > 0 ? v6 : mapped
  } else if (family !== 0) {
    addresses = addresses.filter((a) => (a._tag === "Ipv6" ? 6 : 4) === family)
  }
  const seen = new Set<string>()
  addresses = addresses.filter((a) => {
    const key = SocketAddress.format(a)
    if (seen.has(key)) return false
    seen.add(key)
    return true
  })
  if (addresses.length === 0) {
    return Effect.fail(failed(host, found.length === 0 || family === 0 ? "ENOTFOUND" : "EAI_ADDRFAMILY"))
  }
  const types: ReadonlyArray<SocketType> = options?.type === undefined ? ["stream", "dgram"] : [options.type]
  const infos: Array<AddressInfo> = []
  for (const address of addresses) {
    for (const type of types) {
      infos.push({
        family: address._tag === "Ipv6" ? 6 : 4,
        type,
        protocol: options?.protocol ?? protocolOf(type),
        address,
        ...(infos.length === 0 && (flags & AI_CANONNAME) !== 0 ? { canonicalName: canonicalName ?? host } : {}),
      })
    }
  }
  return Effect.succeed(infos)
}

const frontGetaddrinfo = (
  impl: ResolverService,
  host: string,
  port: number,
  options: LookupOptions | undefined,
): Effect.Effect<ReadonlyArray<AddressInfo>, ResolveFailed> =>
  Effect.suspend(() => {
    if (!Number.isInteger(port) || port < 0 || port > 65535) return Effect.fail(failed(host, "EAI_SERVICE"))
    const bare = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host
    if (bare === "") return Effect.fail(failed(host, "EAI_NONAME"))
    if (SocketAddress.numericFamily(bare) !== 0) return shape(bare, port, [numericAddress(bare, port)], options, bare)
    if (((options?.flags ?? 0) & AI_NUMERICHOST) !== 0) return Effect.fail(failed(host, "EAI_NONAME"))
    const converted = toAscii(bare)
    if (Either.isLeft(converted)) {
      const e = converted.left
      return Effect.fail(new ResolveFailed({ host, code: e.code, syscall: e.syscall, cause: e.cause }))
    }
    const ascii = converted.right
    if (SocketAddress.numericFamily(ascii) !== 0)
      return shape(ascii, port, [numericAddress(ascii, port)], options, ascii)
    return impl.getaddrinfo(ascii, port, options).pipe(
      Effect.mapError((e) =>
        e.host === host ? e : new ResolveFailed({ host, code: e.code, syscall: e.syscall, cause: e.cause ?? e }),
      ),
      Effect.flatMap((infos) =>
        shape(
          host,
          port,
          infos.map((i) => i.address),
          options,
          infos.find((i) => i.canonicalName !== undefined)?.canonicalName ?? ascii,
        ),
      ),
    )
  })

const frontGetnameinfo = (
  impl: ResolverService,
  address: SocketAddress.Ipv4 | SocketAddress.Ipv6,
  flags: number,
): Effect.Effect<NameInfo, ResolveFailed> => {
  const numericHost = address.host
  const numericService = String(address.port)
  const wantsNumericHost = (flags & NI_NUMERICHOST) !== 0
  const wantsNumericService = (flags & NI_NUMERICSERV) !== 0
  if (wantsNumericHost && wantsNumericService) return Effect.succeed({ host: numericHost, service: numericService })
  return impl.getnameinfo(address, flags).pipe(
    Effect.catchAll((error) =>
      // Without NI_NAMEREQD, an address with no name reads as its numeric form (POSIX).
      (flags & NI_NAMEREQD) === 0 && (error.code === "ENOTFOUND" || error.code === "EAI_NONAME")
        ? Effect.succeed({ host: numericHost, service: numericService })
        : Effect.fail(error),
    ),
    Effect.map((info) => ({
      host: wantsNumericHost
        ? numericHost
        : (flags & NI_NOFQDN) !== 0
          ? (info.host.split(".")[0] ?? info.host)
          : info.host,
      service: wantsNumericService ? numericService : info.service,
    })),
  )
}

/** See `Resolver.make`. */
export const make = (impl: ResolverService): ResolverService => {
  if (fronts.has(impl)) return impl
  const service: ResolverService = {
    getaddrinfo: (host, port, options) => frontGetaddrinfo(impl, host, port, options),
    getnameinfo: (address, flags) => frontGetnameinfo(impl, address, flags ?? 0),
    getservbyname: impl.getservbyname,
  }
  fronts.add(service)
  return service
}
