// A cache of successful getaddrinfo answers around a resolver (`Resolver.cached`).
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type { AddressInfo, CacheOptions, ResolverService } from "../../Resolver.ts"
import * as SocketAddress from "../../SocketAddress.ts"
import { make } from "./front.ts"

/** See `Resolver.cached`. */
export const cached = (service: ResolverService, options: CacheOptions): ResolverService => {
  const ttl = Duration.toMillis(Duration.decode(options.ttl))
  // NaN would compare false with every size and leave the cache unbounded: it counts as absent
  const asked = options.maxEntries
  const maxEntries = asked === undefined || Number.isNaN(asked) ? 1024 : Math.max(1, Math.floor(asked))
  const entries = new Map<string, { readonly expires: number; readonly infos: ReadonlyArray<AddressInfo> }>()
  const inner = make(service)
  return make({
    getaddrinfo: (host, port, lookupOptions) =>
      Effect.gen(function* () {
        const key = JSON.stringify([
          host.toLowerCase(),
          lookupOptions?.family ?? 0,
          lookupOptions?.type ?? "",
          lookupOptions?.protocol ?? -1,
          lookupOptions?.flags ?? 0,
        ])
        const now = yield* Clock.currentTimeMillis
        const hit = entries.get(key)
        if (hit !== undefined && hit.expires > now) {
          return hit.infos.map((i) => ({ ...i, address: SocketAddress.withPort(i.address, port) }))
        }
        entries.delete(key)
        const infos = yield* inner.getaddrinfo(host, port, lookupOptions)
        if (ttl > 0) {
          while (entries.size >= maxEntries) {
            const oldest = entries.keys().next()
            if (oldest.done) break
            entries.delete(oldest.value)
          }
          entries.set(key, { expires: now + ttl, infos })
        }
        return infos
      }),
    getnameinfo: (address, flags) => inner.getnameinfo(address, flags),
    getservbyname: inner.getservbyname,
  })
}
