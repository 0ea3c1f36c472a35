// Debug logging of every lookup around a resolver (`Resolver.logged`).
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type { ResolverService } from "../../Resolver.ts"
import * as SocketAddress from "../../SocketAddress.ts"
import { make } from "./front.ts"

/** See `Resolver.logged`. */
export const logged = (service: ResolverService): ResolverService => {
  const inner = make(service)
  return make({
    getaddrinfo: (host, port, options) =>
      inner.getaddrinfo(host, port, options).pipe(
        Effect.timed,
        Effect.tap(([took, infos]) =>
          Effect.logDebug(
            `getaddrinfo ${host} -> ${infos.map((i) => SocketAddress.format(i.address)).join(", ")} (${Duration.format(took)})`,
          ),
        ),
        Effect.map(([, infos]) => infos),
        Effect.tapError((e) => Effect.logDebug(`getaddrinfo ${host} failed: ${e.code}`)),
        Effect.annotateLogs({ "netfx.resolver": "getaddrinfo", host, port }),
      ),
    getnameinfo: (address, flags) =>
      inner.getnameinfo(address, flags).pipe(
        Effect.tap((info) =>
          Effect.logDebug(`getnameinfo ${SocketAddress.format(address)} -> ${info.host} ${info.service}`),
        ),
        Effect.tapError((e) => Effect.logDebug(`getnameinfo ${SocketAddress.format(address)} failed: ${e.code}`)),
        Effect.annotateLogs({ "netfx.resolver": "getnameinfo" }),
      ),
    getservbyname: inner.getservbyname,
  })
}
