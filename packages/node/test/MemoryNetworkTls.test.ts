/**
 * TLS over the memory network: NodeNetwork's TLS driver (node:tls over any
 * RawConnection) plugged into `MemoryNetwork.layer({ tls })` passes the
 * byte-stream contract with TLS on top of in-memory connections, and keeps
 * virtual time exact under TestClock.
 */

import { afterAll, assert, it } from "@effect/vitest"
import { MemoryNetwork, Tcp } from "@netfx/core"
import { Certs, streamContract, tlsTransport } from "@netfx/core/testing"
import { NodeNetwork } from "@netfx/node"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as TestClock from "effect/TestClock"

const certs = Certs.generate()
afterAll(() => Certs.remove(certs))

const layer = MemoryNetwork.layer({ tls: NodeNetwork.make().tls })

streamContract({ name: "memory + node TLS", layer }, tlsTransport(certs))

it.effect(
  "TLS over memory under TestClock: a connect, a TLS 1.3 handshake and a round trip take exactly 300 ms at 50 ms latency",
  () =>
    Effect.gen(function* () {
      const fiber = yield* Effect.fork(
        Effect.gen(function* () {
          const control = yield* MemoryNetwork.Control
          yield* control.setFaults({ latency: "50 millis" })
          const listener = yield* Tcp.listen({
            host: "127.0.0.1",
            port: 443,
            tls: { cert: certs.server.cert, key: certs.server.key },
          })
          yield* Effect.forkScoped(listener.serve((c) => Effect.flatMap(c.receive(), (b) => c.send(b))))
          const start = yield* Clock.currentTimeMillis
          const conn = yield* Tcp.connect({
            host: "127.0.0.1",
            port: 443,
            tls: { ca: certs.ca.cert, serverName: "localhost" },
          })
          yield* conn.send(new TextEncoder().encode("hi"))
          const reply = new TextDecoder().decode(yield* conn.receive())
          return { reply, millis: (yield* Clock.currentTimeMillis) - start }
        }).pipe(Effect.scoped, Effect.provide(layer)),
      )
      yield* TestClock.adjust("1 minute")
      // connect 100 ms, handshake one round trip (TLS 1.3) 100 ms, request and reply 100 ms
      assert.deepStrictEqual(yield* Fiber.join(fiber), { reply: "hi", millis: 300 })
    }),
)
