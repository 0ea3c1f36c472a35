// The static resolver: names answered from a fixed map (`Resolver.makeStatic`).
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type { AddressInfo, ResolverService, StaticEntries, StaticOptions } from "../../Resolver.ts"
import * as SocketAddress from "../../SocketAddress.ts"
import { failed, make, numericAddress, protocolOf } from "./front.ts"
import { toAscii } from "./idna.ts"

const normalizeName = (name: string): string => {
  const ascii = Either.getOrElse(toAscii(name), () => name).toLowerCase()
  return ascii.endsWith(".") && ascii.length > 1 ? ascii.slice(0, -1) : ascii
}

/** See `Resolver.makeStatic`. */
export const makeStatic = (entries: StaticEntries, options: StaticOptions = {}): ResolverService => {
  const table = new Map<string, ReadonlyArray<string>>()
  for (const [name, value] of Object.entries(entries)) {
    table.set(normalizeName(name), typeof value === "string" ? [value] : value)
  }
  const resolveName = (
    name: string,
    depth: number,
  ): { readonly addresses: ReadonlyArray<string>; readonly canonical: string } | "loop" | undefined => {
    const values = table.get(name)
    if (values === undefined) return undefined
    if (depth > 16) return "loop"
    const addresses: Array<string> = []
    let canonical = name
    for (const value of values) {
      if (SocketAddress.numericFamily(value) !== 0) {
        addresses.push(value.startsWith("[") ? value.slice(1, -1) : value)
        continue
      }
      const target = resolveName(normalizeName(value), depth + 1)
      if (target === "loop") return "loop"
      if (target === undefined) continue
      addresses.push(...target.addresses)
      if (canonical === name) canonical = target.canonical
    }
    return { addresses, canonical }
  }
  return make({
    getaddrinfo: (host, port, lookupOptions) =>
      Effect.suspend(() => {
        const found = resolveName(normalizeName(host), 0)
        if (found === "loop") return Effect.fail(failed(host, "EAI_FAIL"))
        if (found === undefined || found.addresses.length === 0) {
          return options.fallback === undefined
            ? Effect.fail(failed(host, "ENOTFOUND"))
            : options.fallback.getaddrinfo(host, port, lookupOptions)
        }
        return Effect.succeed(
          found.addresses.map(
            (a, i): AddressInfo => ({
              family: a.includes(":") ? 6 : 4,
              type: lookupOptions?.type ?? "stream",
              protocol: protocolOf(lookupOptions?.type ?? "stream"),
              address: numericAddress(a, port),
              ...(i === 0 ? { canonicalName: found.canonical } : {}),
            }),
          ),
        )
      }),
    getnameinfo: (address, flags) =>
      Effect.suspend(() => {
        for (const name of table.keys()) {
          const found = resolveName(name, 0)
          if (typeof found === "object" && found.addresses.includes(address.host)) {
            return Effect.succeed({ host: name, service: String(address.port) })
          }
        }
        return options.fallback === undefined
          ? Effect.fail(failed(address.host, "ENOTFOUND", "getnameinfo"))
          : options.fallback.getnameinfo(address, flags)
      }),
    // the fallback's services database (the system's, say), else the well-known table
    getservbyname: options.fallback?.getservbyname,
  })
}
