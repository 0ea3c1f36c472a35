import { afterAll, assert, describe, it } from "@effect/vitest"
import { BunNetwork } from "@netfx/bun"
import { type Network, SocketAddress, Tcp, Tls } from "@netfx/core"
import {
  bytes,
  Certs,
  echo,
  eventually,
  Peers,
  readAll,
  readN,
  streamContract,
  text,
  tlsContract,
} from "@netfx/core/testing"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"

// The TLS contract on Bun's native TLS (packages/bun/src/internal/tls/). One limit,
// measured on Bun 1.4.5: Bun reports a peer's close_notify and a bare TCP FIN with the same
// `end` event, so a missing close_notify reads as EndOfStream even with standardCompatible
// (the contract then checks that documented behaviour instead). SNI and a read-ahead
// ClientHello under STARTTLS work through the loopback relay.
tlsContract({
  name: "bun",
  layer: BunNetwork.layer,
  openFds: Peers.openFds,
  rss: Peers.rss,
  tlsLimits: { raggedEof: false },
})

// Bun-specific: the relay (Bun's TLS on one end of a Unix socket pair, copied to the real
// connection) that SNI listeners, read-ahead STARTTLS and non-Bun connections go through.
const certs = Certs.generate()
afterAll(() => Certs.remove(certs))

// The whole byte-stream contract with every server connection going through the relay
// (a listener with sniContexts reads the ClientHello first, so it always relays).
streamContract(
  { name: "bun (TLS relay)", layer: BunNetwork.layer, openFds: Peers.openFds, rss: Peers.rss },
  {
    name: "TLS through the relay, 127.0.0.1",
    listen: Tcp.listen({
      host: "127.0.0.1",
      port: 0,
      tls: {
        cert: certs.server.cert,
        key: certs.server.key,
        sniContexts: { "*.invalid": { cert: certs.other.cert, key: certs.other.key } },
      },
    }),
    connect: (listener) =>
      Tcp.connect({
        host: "127.0.0.1",
        port: SocketAddress.isIp(listener.address) ? listener.address.port : 0,
        tls: { ca: certs.ca.cert, serverName: "localhost" },
      }),
    resetCodes: ["ECONNRESET", "EPIPE", "ERR_SSL_UNEXPECTED_EOF_WHILE_READING"],
    tls: true,
  },
)

describe("TLS relay on bun", () => {
  const run = <A, E>(effect: Effect.Effect<A, E, Scope.Scope | Network.Network>) =>
    effect.pipe(Effect.scoped, Effect.provide(BunNetwork.layer))
  const portOf = (address: SocketAddress.SocketAddress) => (SocketAddress.isIp(address) ? address.port : 0)

  it.live("an SNI listener leaves no descriptor open over 200 relayed connections", () =>
    run(
      Effect.gen(function* () {
        const listener = yield* Tcp.listen({
          host: "127.0.0.1",
          port: 0,
          tls: {
            cert: certs.server.cert,
            key: certs.server.key,
            sniContexts: { "*.invalid": { cert: certs.other.cert, key: certs.other.key } },
          },
        })
        yield* Effect.forkScoped(listener.serve(echo))
        const once = (serverName: string) =>
          Effect.scoped(
            Effect.gen(function* () {
              const conn = yield* Tcp.connect({
                host: "127.0.0.1",
                port: portOf(listener.address),
                tls: { ca: certs.ca.cert, serverName },
              })
              yield* conn.send(bytes("ping"))
              assert.strictEqual(text(yield* readN(conn, 4)), "ping")
              yield* conn.sendEof
              assert.strictEqual((yield* Effect.flip(conn.receive()))._tag, "EndOfStream")
              return Option.getOrThrow(Option.flatMap(Tls.info(conn), (i) => i.peerCertificate)).subject.CN
            }),
          )
        assert.strictEqual(yield* once("other.invalid"), "other.invalid")
        assert.strictEqual(yield* once("localhost"), "localhost")
        const before = Peers.openFds()
        for (let i = 0; i < 200; i++) yield* once(i % 2 === 0 ? "other.invalid" : "localhost")
        yield* eventually(() => Peers.openFds() <= before + 2, `descriptors back to ${before}`)
      }),
    ),
  )

  it.live("TLS inside TLS: Tls.wrap over a TLS stream goes through the relay", () =>
    run(
      Effect.gen(function* () {
        const listener = yield* Tcp.listen({
          host: "127.0.0.1",
          port: 0,
          tls: { cert: certs.server.cert, key: certs.server.key },
        })
        yield* Effect.forkScoped(
          listener.serve((outer) =>
            Effect.gen(function* () {
              const inner = yield* Tls.wrap(outer, { side: "server", cert: certs.other.cert, key: certs.other.key })
              yield* echo(inner)
            }).pipe(Effect.orDie),
          ),
        )
        const outer = yield* Tcp.connect({
          host: "127.0.0.1",
          port: portOf(listener.address),
          tls: { ca: certs.ca.cert, serverName: "localhost" },
        })
        const inner = yield* Tls.wrap(outer, { side: "client", host: "other.invalid", ca: certs.ca.cert })
        const info = Option.getOrThrow(Tls.info(inner))
        assert.strictEqual(Option.getOrThrow(info.peerCertificate).subject.CN, "other.invalid")
        assert.isTrue(info.authorized)
        yield* inner.send(bytes("nested"))
        yield* inner.sendEof
        assert.strictEqual(text(yield* readAll(inner)), "nested")
      }),
    ),
  )
})
