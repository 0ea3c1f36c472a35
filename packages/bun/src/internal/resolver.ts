import * as dns from "node:dns"
import { NetError, Resolver, SocketAddress } from "@netfx/core"
import * as Effect from "effect/Effect"

/*
 * Bun implements `node:dns` natively: `lookup` runs the system's getaddrinfo
 * (honouring /etc/hosts and nsswitch) with Node's error codes (ENOTFOUND,
 * EAI_AGAIN ...). `Bun.dns.lookup` uses its own backend choice and reports
 * different codes, so the system resolver goes through `node:dns`.
 *
 * The core front (`Resolver.make`) handles numeric hosts, IDNA 2008 and the
 * flags `dns.lookup` cannot pass; this only performs the platform call.
 * `ai_canonname` is not exposed, so `AI_CANONNAME` reports the name asked
 * for (after IDNA), not a CNAME target.
 */

const HINTS = dns.ADDRCONFIG | dns.V4MAPPED | dns.ALL

const resolveFailed = (host: string, error: unknown) => {
  const { code, syscall } = NetError.errnoOf(error)
  return new NetError.ResolveFailed({ host, code, syscall, cause: error })
}

const impl: Resolver.ResolverService = {
  getaddrinfo: (host, port, options) =>
    Effect.async<ReadonlyArray<Resolver.AddressInfo>, NetError.ResolveFailed>((resume) => {
      let active = true
      const type = options?.type ?? "stream"
      try {
        dns.lookup(
          host,
          { all: true, family: options?.family ?? 0, hints: (options?.flags ?? 0) & HINTS, verbatim: true },
          (error, addresses) => {
            if (!active) return
            if (error) return resume(Effect.fail(resolveFailed(host, error)))
            resume(
              Effect.succeed(
                addresses.map((a) => ({
                  family: a.family === 6 ? (6 as const) : (4 as const),
                  type,
                  protocol: type === "stream" ? 6 : 17,
                  address: a.family === 6 ? SocketAddress.ip(a.address, port) : SocketAddress.ipv4(a.address, port),
                })),
              ),
            )
          },
        )
      } catch (error) {
        // argument validation (a name Node rejects before the lookup)
        resume(Effect.fail(resolveFailed(host, error)))
      }
      return Effect.sync(() => {
        active = false
      })
    }),
  getnameinfo: (address) =>
    Effect.async<Resolver.NameInfo, NetError.ResolveFailed>((resume) => {
      let active = true
      try {
        dns.lookupService(address.host, address.port, (error, hostname, service) => {
          if (!active) return
          if (error) return resume(Effect.fail(resolveFailed(address.host, error)))
          resume(Effect.succeed({ host: hostname, service }))
        })
      } catch (error) {
        resume(Effect.fail(resolveFailed(address.host, error)))
      }
      return Effect.sync(() => {
        active = false
      })
    }),
}

/** @internal The system resolver (Bun's `node:dns`) behind the core front. */
export const system: Resolver.ResolverService = Resolver.make(impl)
