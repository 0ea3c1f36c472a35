import { assert, describe, it } from "@effect/vitest"
import { BunNetwork } from "@netfx/bun"
import { Tcp, Tls } from "@netfx/core"
import * as Effect from "effect/Effect"

// BunNetwork declares TLS unsupported (see packages/bun/src/internal/tls.ts for the measured
// reasons). These tests pin that every TLS entry point says so, precisely, before touching a
// socket; the TLS contract (tlsContract) runs on Node in packages/node/test/Tls.test.ts.
describe("TLS on bun", () => {
  const expectUnsupported = <A, E>(effect: Effect.Effect<A, E, never>) =>
    Effect.gen(function* () {
      const error = (yield* Effect.flip(effect)) as {
        _tag?: string
        feature?: string
        runtime?: string
        reason?: string
      }
      assert.strictEqual(error._tag, "Unsupported")
      assert.strictEqual(error.feature, "TLS")
      assert.match(error.runtime ?? "", /^bun /)
      assert.include(error.reason ?? "", "close_notify")
    })

  it.live("Tcp.connect({ tls }) fails with a precise Unsupported", () =>
    expectUnsupported(
      Tcp.connect({ host: "127.0.0.1", port: 9, tls: true }).pipe(Effect.scoped, Effect.provide(BunNetwork.layer)),
    ),
  )

  it.live("Tcp.listen({ tls }) fails with a precise Unsupported", () =>
    expectUnsupported(
      Tcp.listen({ host: "127.0.0.1", port: 0, tls: { cert: "x", key: "y" } }).pipe(
        Effect.scoped,
        Effect.provide(BunNetwork.layer),
      ),
    ),
  )

  it.live("Tls.wrap fails with a precise Unsupported and leaves the plain stream usable", () =>
    Effect.gen(function* () {
      const listener = yield* Tcp.listen({ host: "127.0.0.1", port: 0 })
      const port = listener.address._tag === "Ipv4" ? listener.address.port : 0
      const plain = yield* Tcp.connect({ host: "127.0.0.1", port })
      yield* expectUnsupported(
        Effect.scoped(Tls.wrap(plain, { side: "client" })).pipe(Effect.provide(BunNetwork.layer)),
      )
      const server = yield* listener.accept
      yield* plain.send(new Uint8Array([1, 2, 3]))
      assert.deepStrictEqual([...(yield* server.receive())], [1, 2, 3])
    }).pipe(Effect.scoped, Effect.provide(BunNetwork.layer)),
  )
})
