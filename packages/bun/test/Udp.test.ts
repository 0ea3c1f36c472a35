import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"
import { BunNetwork } from "@netfx/bun"
import { Udp } from "@netfx/core"
import { canBindUdp6, datagramContract, namespaceSupport, Peers, unshareRunner } from "@netfx/core/testing"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"

const fixture = fileURLToPath(new URL("./fixtures/udp-namespace.ts", import.meta.url))
const namespaceProblem = await namespaceSupport()

datagramContract({
  name: "bun",
  layer: BunNetwork.layer,
  openFds: Peers.openFds,
  rss: Peers.rss,
  ipv6: await canBindUdp6(),
  reusePort: true,
  // Bun.udpSocket cannot set SO_RCVBUF / SO_SNDBUF; the @netfx/native addon sets them on its descriptor
  bufferSizes: true,
  coalescedWakeups: true,
  ...(namespaceProblem === undefined
    ? { namespace: unshareRunner([process.execPath, fixture]) }
    : { namespaceSkipReason: namespaceProblem }),
})

/** Only on Bun, which runs microtasks after each datagram's callback (Node's addon hands over batches). */
describe("bun: a full queue wakes the waiting receiver at once", () => {
  const bytes = (s: string) => new TextEncoder().encode(s)
  const text = (b: Uint8Array) => new TextDecoder().decode(b)

  it.live("a burst larger than the queue, arriving in one turn while a receiver waits, loses nothing", () =>
    Effect.gen(function* () {
      const queueSize = 4
      const total = 40
      const server = yield* Udp.bind({ host: "127.0.0.1", queueSize })
      const client = yield* Udp.connect({ host: "127.0.0.1", port: server.localAddress.port })
      const received: Array<string> = []
      const done = yield* Deferred.make<void>()
      yield* Effect.fork(
        Effect.gen(function* () {
          while (received.length < total) {
            for (const d of yield* server.receiveMany(1024)) received.push(text(d.data))
          }
          yield* Deferred.succeed(done, undefined)
        }),
      )
      // let the receiver park, then hand Bun the whole burst in one go (Bun's
      // send is synchronous, so it sits in the kernel queue before Bun reads any)
      yield* Effect.repeatN(Effect.yieldNow(), 4)
      yield* client.sendMany(Array.from({ length: total }, (_, i) => bytes(String(i))))
      // the receiver either has the burst or the queue dropped part of it
      yield* Effect.race(
        Deferred.await(done),
        Effect.repeat(server.dropped, { until: (n) => n > 0, schedule: Schedule.spaced("1 millis") }),
      )
      assert.strictEqual(yield* server.dropped, 0)
      assert.deepStrictEqual(
        received,
        Array.from({ length: total }, (_, i) => String(i)),
      )
    }).pipe(Effect.scoped, Effect.provide(BunNetwork.layer)),
  )
})
