/**
 * Trio's name lookup, in netfx: `getaddrinfo` with IDNA 2008, `getnameinfo`
 * for the service name of a port (instead of `getservbyport`),
 * `getaddrinfo(None, service)` for the port of a service name (instead of
 * `getservbyname`),
 * `AI_CANONNAME` (instead of `getfqdn`), and a custom hostname resolver —
 * here a Layer — that every transport then uses.
 *
 *   tsx examples/src/resolve.ts --host localhost --port 22
 */
import { BunNetwork } from "@netfx/bun"
import { type Network, Resolver, SocketAddress, Tcp } from "@netfx/core"
import { NodeNetwork } from "@netfx/node"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { arg, decode, encode, isBun, isMain, runMain } from "./runtime.ts"

/** The system resolver of the runtime we are on. */
export const ResolverLive: Layer.Layer<Resolver.Resolver> = isBun ? BunNetwork.layerResolver : NodeNetwork.layerResolver

/** A network of the runtime we are on whose every transport resolves through `resolver`. */
export const networkWith = (
  resolver: Layer.Layer<Resolver.Resolver>,
): Layer.Layer<Network.Network | Resolver.Resolver> =>
  (isBun ? BunNetwork.layerWithResolver : NodeNetwork.layerWithResolver).pipe(Layer.provideMerge(resolver))

/** `getaddrinfo(host, port, type=SOCK_STREAM, flags=AI_CANONNAME)`: one line per result. */
export const lookup = (host: string, port: number) =>
  Effect.map(Resolver.getaddrinfo(host, port, { type: "stream", flags: Resolver.AI_CANONNAME }), (infos) =>
    infos.map(
      (i) =>
        `IPv${i.family} ${i.type}/${i.protocol} ${SocketAddress.format(i.address)}${i.canonicalName === undefined ? "" : ` (canonical name ${i.canonicalName})`}`,
    ),
  )

/** Trio's `_, service = await getnameinfo(("127.0.0.1", port), NI_NUMERICHOST)`. */
export const serviceName = (port: number) =>
  Effect.map(
    Resolver.getnameinfo(SocketAddress.ipv4("127.0.0.1", port), Resolver.NI_NUMERICHOST),
    (info) => info.service,
  )

/** Trio's `await getaddrinfo(None, service_name)` (instead of `getservbyname`): the service's port. */
export const servicePort = (service: string) =>
  Effect.map(Resolver.getaddrinfo(null, service, { type: "stream" }), (infos) => infos[0]?.address.port)

/**
 * A custom resolver: every transport asks it, with non-ASCII names already
 * in their IDNA 2008 form. Connects to `straße.de` — which the map sends to
 * a local echo server — and returns what the resolver was asked and what came back.
 */
export const customResolver = Effect.gen(function* () {
  const asked: Array<string> = []
  const pinned = Resolver.makeStatic({ "xn--strae-oqa.de": ["::1", "127.0.0.1"] })
  const recording = Resolver.layer({
    getaddrinfo: (host, port, options) => {
      asked.push(host)
      return pinned.getaddrinfo(host, port, options)
    },
    getnameinfo: pinned.getnameinfo,
  })
  const reply = yield* Effect.gen(function* () {
    const listener = yield* Tcp.listen({ host: "127.0.0.1", port: 0 })
    const port = SocketAddress.isIp(listener.address) ? listener.address.port : 0
    yield* Effect.forkScoped(listener.serve((conn) => Effect.flatMap(conn.receive(), (bytes) => conn.send(bytes))))
    // ::1 is tried first (happy eyeballs), refused, and 127.0.0.1 connects at once
    const conn = yield* Tcp.connect({ host: "straße.de", port })
    yield* conn.send(encode("Grüße"))
    return `${decode(yield* conn.receive())} from ${SocketAddress.format(conn.remoteAddress)}`
  }).pipe(Effect.scoped, Effect.provide(networkWith(recording)))
  return { asked, reply }
})

if (isMain(import.meta.url)) {
  const host = arg("host", "localhost")
  const port = Number(arg("port", "22"))
  runMain(
    Effect.gen(function* () {
      for (const line of yield* lookup(host, port)) console.log(line)
      const service = yield* serviceName(port)
      console.log(`service of port ${port}: ${service}`)
      console.log(`port of service ${service}: ${yield* servicePort(service)}`)
      const custom = yield* customResolver
      console.log(`custom resolver was asked for ${custom.asked.join(", ")}; echo: ${custom.reply}`)
    }).pipe(Effect.provide(ResolverLive)),
  )
}
