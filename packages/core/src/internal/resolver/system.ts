// The system resolver over a `node:dns`-compatible module, shared by the
// Node and Bun adapters (`Driver.makeSystemResolver` documents it).
import * as Effect from "effect/Effect"
import type { DnsModule } from "../../Driver.ts"
import { ResolveFailed } from "../../NetError.ts"
import type { AddressInfo, NameInfo, ResolverService } from "../../Resolver.ts"
import * as SocketAddress from "../../SocketAddress.ts"
import { make, numericAddress, protocolOf } from "./front.ts"
import { parseServices, wellKnownService } from "./services.ts"

const platformFailed = (host: string, error: unknown, syscall: string) => {
  const e = typeof error === "object" && error !== null ? (error as { code?: unknown; syscall?: unknown }) : {}
  return new ResolveFailed({
    host,
    code: typeof e.code === "string" ? e.code : "EAI_FAIL",
    syscall: typeof e.syscall === "string" ? e.syscall : syscall,
    cause: error,
  })
}

/** See `Driver.makeSystemResolver`. */
export const makeSystem = (dns: DnsModule, readServices?: () => Promise<string | undefined>): ResolverService => {
  const hints = dns.ADDRCONFIG | dns.V4MAPPED | dns.ALL
  // /etc/services, read once on the first service name; missing: the well-known table
  let services: Promise<ReadonlyMap<string, number> | undefined> | undefined
  const loadServices = () => {
    if (services === undefined)
      services =
        readServices === undefined
          ? Promise.resolve(undefined)
          : readServices().then(
              (text) => (text === undefined ? undefined : parseServices(text)),
              () => undefined,
            )
    return services
  }
  return make({
    getservbyname: (name, protocol) =>
      Effect.map(Effect.promise(loadServices), (table) =>
        table === undefined ? wellKnownService(name, protocol) : table.get(`${name}/${protocol}`),
      ),
    getaddrinfo: (host, port, options) =>
      Effect.async<ReadonlyArray<AddressInfo>, ResolveFailed>((resume) => {
        let active = true
        const type = options?.type ?? "stream"
        try {
          dns.lookup(
            host,
            { all: true, family: options?.family ?? 0, hints: (options?.flags ?? 0) & hints, verbatim: true },
            (error, addresses) => {
              if (!active) return
              if (error) return resume(Effect.fail(platformFailed(host, error, "getaddrinfo")))
              resume(
                Effect.succeed(
                  addresses.map((a) => ({
                    family: a.family === 6 ? (6 as const) : (4 as const),
                    type,
                    protocol: protocolOf(type),
                    address: a.family === 6 ? numericAddress(a.address, port) : SocketAddress.ipv4(a.address, port),
                  })),
                ),
              )
            },
          )
        } catch (error) {
          // argument validation: a name the platform rejects before looking it up
          resume(Effect.fail(platformFailed(host, error, "getaddrinfo")))
        }
        return Effect.sync(() => {
          active = false
        })
      }),
    getnameinfo: (address) =>
      Effect.async<NameInfo, ResolveFailed>((resume) => {
        let active = true
        try {
          dns.lookupService(address.host, address.port, (error, hostname, service) => {
            if (!active) return
            if (error) return resume(Effect.fail(platformFailed(address.host, error, "getnameinfo")))
            resume(Effect.succeed({ host: hostname, service }))
          })
        } catch (error) {
          resume(Effect.fail(platformFailed(address.host, error, "getnameinfo")))
        }
        return Effect.sync(() => {
          active = false
        })
      }),
  })
}
