import { assert, describe, it } from "@effect/vitest"
import { type Network, Tcp } from "@netfx/core"
import { bytes, Certs, eventually, Peers, portOf, tlsContract } from "@netfx/core/testing"
import { NodeNetwork } from "@netfx/node"
import * as Effect from "effect/Effect"
import * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"
import { afterAll } from "vitest"

tlsContract({
  name: "node",
  layer: NodeNetwork.layer,
  openFds: Peers.openFds,
  rss: Peers.rss,
})

describe("Node TLS client close", () => {
  const certs = Certs.generate()
  afterAll(() => Certs.remove(certs))
  const run = <A, E>(effect: Effect.Effect<A, E, Scope.Scope | Network.Network>) =>
    effect.pipe(Effect.scoped, Effect.provide(NodeNetwork.layer))

  // The direct connect (a numeric host, no timeout) and the Scope's (with a timeout) close alike.
  for (const timeout of [undefined, "5 seconds"] as const) {
    it.live(
      `the Scope's close sends close_notify and releases the socket without waiting for the peer (timeout: ${timeout})`,
      () =>
        run(
          Effect.gen(function* () {
            const listener = yield* Tcp.listen({
              host: "127.0.0.1",
              port: 0,
              tls: { cert: certs.server.cert, key: certs.server.key },
            })
            const ends = yield* Queue.unbounded<string>()
            // the server reads each connection to its end, then keeps its side open
            yield* Effect.forkScoped(
              listener.serve((c) =>
                Effect.zipRight(
                  Effect.flatMap(Effect.flip(c.receive().pipe(Effect.forever)), (e) => Queue.offer(ends, e._tag)),
                  Effect.never,
                ),
              ),
            )
            const connect = Tcp.connect({
              host: "127.0.0.1",
              port: portOf(listener.address),
              tls: { ca: certs.ca.cert },
              ...(timeout === undefined ? {} : { timeout }),
            })
            // warms up lazily created descriptors; its server side stays open
            yield* Effect.scoped(connect)
            assert.strictEqual(yield* Queue.take(ends), "EndOfStream")
            const baseline = Peers.openFds()
            yield* Effect.scoped(Effect.flatMap(connect, (conn) => conn.send(bytes("bye"))))
            // the server saw close_notify: a clean end
            assert.strictEqual(yield* Queue.take(ends), "EndOfStream")
            // the client's descriptor is gone although the server never closed its side
            // (the server's end of this connection is the one descriptor more)
            yield* eventually(
              () => Peers.openFds() <= baseline + 1,
              `descriptors back near ${baseline} (now ${Peers.openFds()})`,
              "5 seconds",
            )
          }),
        ),
    )
  }
})
