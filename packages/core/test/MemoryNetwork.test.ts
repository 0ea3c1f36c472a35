import { assert, describe, it } from "@effect/vitest"
import { type Listener, MemoryNetwork, Tcp } from "@netfx/core"
import { streamContract, tcpContract, unixTransport } from "@netfx/core/testing"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as TestClock from "effect/TestClock"

const memory = {
  name: "memory",
  layer: MemoryNetwork.layer({ links: [{ to: "192.0.2.1", faults: { blackhole: true } }] }),
}

tcpContract({
  ...memory,
  unresolvableHost: "nonexistent.invalid",
  blackhole: Effect.succeed({ host: "192.0.2.1", port: 9 }),
})
// the Unix paths live in the memory network's own namespace (no file is created)
streamContract(memory, unixTransport("path"))
streamContract(memory, unixTransport("abstract"))

const encoder = new TextEncoder()
const decoder = new TextDecoder()

/** A line-based request/response service: answers `PING n` with `PONG n`. */
const pongService = (listener: Listener.Listener) =>
  listener.serve((conn) =>
    Effect.gen(function* () {
      while (true) {
        const request = decoder.decode(yield* conn.receive())
        yield* conn.send(encoder.encode(request.replace("PING", "PONG")))
      }
    }).pipe(Effect.catchTag("EndOfStream", () => Effect.void)),
  )

/** Runs `rounds` request/response rounds and returns each round trip's virtual duration. */
const session = (rounds: number) =>
  Effect.gen(function* () {
    const control = yield* MemoryNetwork.Control
    yield* control.addHost("pong.test", "10.0.0.80")
    const listener = yield* Tcp.listen({ host: "pong.test", port: 7 })
    yield* Effect.forkScoped(pongService(listener))
    yield* control.setFaults({ latency: "50 millis", loss: 0.1 })
    const start = yield* Clock.currentTimeMillis
    const conn = yield* Tcp.connect({ host: "pong.test", port: 7 })
    const connected = (yield* Clock.currentTimeMillis) - start
    const rtts: Array<number> = []
    for (let i = 0; i < rounds; i++) {
      const t0 = yield* Clock.currentTimeMillis
      yield* conn.send(encoder.encode(`PING ${i}`))
      const reply = decoder.decode(yield* conn.receive())
      assert.strictEqual(reply, `PONG ${i}`)
      rtts.push((yield* Clock.currentTimeMillis) - t0)
    }
    return { connected, rtts, stats: yield* control.stats }
  }).pipe(Effect.scoped, Effect.provide(MemoryNetwork.layer({ seed: 42 })))

describe("MemoryNetwork under TestClock", () => {
  it.effect("a request/response service under 10% loss and 50 ms latency is exactly repeatable", () =>
    Effect.gen(function* () {
      const runOnce = Effect.gen(function* () {
        const fiber = yield* Effect.fork(session(20))
        yield* TestClock.adjust("1 hour")
        return yield* Fiber.join(fiber)
      })
      const first = yield* runOnce
      const second = yield* runOnce
      // the connect is one round trip; no SYN is lost (loss applies to data segments)
      assert.strictEqual(first.connected, 100)
      // every round trip is 100 ms plus whole retransmission timeouts (200 ms, doubling)
      for (const rtt of first.rtts) assert.strictEqual((rtt - 100) % 200, 0, `rtt ${rtt}`)
      assert.isAbove(first.stats.retransmissions, 0)
      assert.deepStrictEqual(
        first.rtts,
        [100, 100, 100, 100, 100, 100, 100, 100, 100, 300, 500, 300, 300, 100, 100, 700, 100, 100, 100, 100],
      )
      assert.strictEqual(first.stats.retransmissions, 7)
      assert.deepStrictEqual(second, first)
    }),
  )
})
