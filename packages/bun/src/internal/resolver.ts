import * as dns from "node:dns"
import type { Resolver } from "@netfx/core"
import { NetError, SocketAddress } from "@netfx/core"
import * as Effect from "effect/Effect"

/*
 * Bun implements `node:dns` natively: `lookup` runs the system's getaddrinfo
 * (honouring /etc/hosts and nsswitch) with Node's error codes (ENOTFOUND,
 * EAI_AGAIN ...). `Bun.dns.lookup` uses its own backend choice and reports
 * different codes, so the system resolver goes through `node:dns`.
 */

const resolveFailed = (host: string, error: unknown) => {
  const { code, syscall } = NetError.errnoOf(error)
  return new NetError.ResolveFailed({ host, code, syscall, cause: error })
}

/** @internal The system resolver: getaddrinfo/getnameinfo through Bun's `node:dns`. */
export const system: Resolver.ResolverService = {
  getaddrinfo: (host, port, options) =>
    Effect.async<ReadonlyArray<Resolver.AddressInfo>, NetError.ResolveFailed>((resume) => {
      let active = true
      dns.lookup(
        host,
        { all: true, family: options?.family ?? 0, hints: options?.flags ?? 0, verbatim: true },
        (error, addresses) => {
          if (!active) return
          if (error) return resume(Effect.fail(resolveFailed(host, error)))
          resume(
            Effect.succeed(
              addresses.map((a) => ({
                family: a.family === 6 ? (6 as const) : (4 as const),
                address: a.family === 6 ? SocketAddress.ipv6(a.address, port) : SocketAddress.ipv4(a.address, port),
                type: options?.type,
              })),
            ),
          )
        },
      )
      return Effect.sync(() => {
        active = false
      })
    }),
  getnameinfo: (address) =>
    Effect.async<{ readonly host: string; readonly service: string }, NetError.ResolveFailed>((resume) => {
      let active = true
      dns.lookupService(address.host, address.port, (error, hostname, service) => {
        if (!active) return
        if (error) return resume(Effect.fail(resolveFailed(address.host, error)))
        resume(Effect.succeed({ host: hostname, service }))
      })
      return Effect.sync(() => {
        active = false
      })
    }),
}
