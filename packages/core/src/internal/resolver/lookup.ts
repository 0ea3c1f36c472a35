// `Resolver.lookup`: getaddrinfo with a service name or number for the
// port and `null` for "no host", through the front.
import * as Effect from "effect/Effect"
import { ResolveFailed } from "../../NetError.ts"
import type { AddressInfo, LookupOptions, ResolverService, SocketType } from "../../Resolver.ts"
import * as SocketAddress from "../../SocketAddress.ts"
import { AI_NUMERICSERV, AI_PASSIVE } from "./flags.ts"
import { failed, make, shape } from "./front.ts"
import { wellKnownService } from "./services.ts"

interface ServicePort {
  readonly type: SocketType
  readonly port: number
}

/**
 * A service (`"443"`, `"https"`) as the port(s) to look up: a number for
 * a numeric service, else the port for each asked socket type that has
 * the service (`EAI_SERVICE` when none has it; `EAI_NONAME` for a name
 * under `AI_NUMERICSERV`).
 */
const servicePorts = (
  resolver: ResolverService,
  host: string,
  service: string,
  options: LookupOptions | undefined,
): Effect.Effect<number | ReadonlyArray<ServicePort>, ResolveFailed> =>
  Effect.suspend((): Effect.Effect<number | ReadonlyArray<ServicePort>, ResolveFailed> => {
    const name = service.trim()
    if (/^\d+$/.test(name)) return Effect.succeed(Number(name))
    if (name === "" || ((options?.flags ?? 0) & AI_NUMERICSERV) !== 0) return Effect.fail(failed(host, "EAI_NONAME"))
    const types: ReadonlyArray<SocketType> = options?.type === undefined ? ["stream", "dgram"] : [options.type]
    const byName = resolver.getservbyname ?? ((n, p) => Effect.succeed(wellKnownService(n, p)))
    return Effect.map(
      Effect.forEach(types, (type) =>
        Effect.map(byName(name, type === "stream" ? "tcp" : "udp"), (port) =>
          port === undefined ? undefined : { type, port },
        ),
      ),
      (found) => found.filter((f): f is ServicePort => f !== undefined),
    ).pipe(
      Effect.filterOrFail(
        (found) => found.length > 0,
        () => new ResolveFailed({ host, code: "EAI_SERVICE", syscall: "getaddrinfo" }),
      ),
    )
  })

/** See `Resolver.lookup`. */
export const lookup = (
  service: ResolverService,
  host: string | null,
  port: number | string,
  options?: LookupOptions,
): Effect.Effect<ReadonlyArray<AddressInfo>, ResolveFailed> => {
  const front = make(service)
  const label = host ?? ""
  const one = (p: number, o: LookupOptions | undefined) =>
    host === null ? localHost(p, o) : front.getaddrinfo(host, p, o)
  if (typeof port === "number") return one(port, options)
  return Effect.flatMap(servicePorts(front, label, port, options), (ports) => {
    if (typeof ports === "number") return one(ports, options)
    const [first, second] = ports as readonly [ServicePort, ServicePort | undefined]
    // one port for every type asked (the usual case): one lookup
    if (second === undefined || second.port === first.port)
      return one(first.port, second === undefined ? { ...options, type: first.type } : options)
    // the service has another port per type: one lookup per type, merged address by address
    return Effect.map(
      Effect.all([
        one(first.port, { ...options, type: first.type }),
        one(second.port, { ...options, type: second.type }),
      ]),
      ([a, b]) => a.flatMap((info, i) => (b[i] === undefined ? [info] : [info, b[i] as AddressInfo])),
    )
  })
}

/** No host (`getaddrinfo(NULL, ...)`): the loopback addresses, or the wildcards with `AI_PASSIVE`, in glibc's order. */
const localHost = (port: number, options: LookupOptions | undefined) =>
  Effect.suspend(() => {
    if (!Number.isInteger(port) || port < 0 || port > 65535) return Effect.fail(failed("", "EAI_SERVICE"))
    const passive = ((options?.flags ?? 0) & AI_PASSIVE) !== 0
    const addresses = passive
      ? [SocketAddress.ipv4("0.0.0.0", port), SocketAddress.ipv6("::", port)]
      : [SocketAddress.ipv6("::1", port), SocketAddress.ipv4("127.0.0.1", port)]
    return shape("", port, addresses, options, undefined)
  })
