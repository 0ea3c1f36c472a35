import * as dgram from "node:dgram"
import * as v8 from "node:v8"
import * as vm from "node:vm"
import { assert, describe, it } from "@effect/vitest"
import { Udp } from "@netfx/core"
import { NodeNetwork } from "@netfx/node"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"

// Under a datagram flood the receiver parks and is woken once per burst. What
// a wake-up allocates must die young: objects that survive V8's scavenges
// make each scavenge copy them (a pause), and a pause longer than the socket
// buffer's ~1 ms of datagrams is kernel drops (bench/README.md, UDP). Each
// wait used to build an `Effect.async` with a canceler and a closure pair,
// and every wait's objects since the last scavenge survived it (~1 KB per
// wake-up: 2.3 MB after this test's 1,500, against 40-190 KB now). This
// counts what a run of wake-ups leaves for a scavenge to keep.

v8.setFlagsFromString("--expose-gc")
const gc = vm.runInNewContext("gc") as (options?: { readonly type?: "minor" | "major" }) => void

const used = (space: string): number =>
  v8.getHeapSpaceStatistics().find((s) => s.space_name === space)?.space_used_size ?? 0

const BURST = 64
const BURSTS = 1500

describe("UDP receive under a flood (Node heap)", () => {
  it.live("the objects of a run of wake-ups do not survive a scavenge", () =>
    Effect.gen(function* () {
      const socket = yield* Udp.bind({ host: "127.0.0.1" })
      let received = 0
      const consumer = yield* Effect.fork(
        Effect.gen(function* () {
          while (true) received += (yield* socket.receiveMany(1024)).length
        }),
      )
      const sender = dgram.createSocket("udp4")
      yield* Effect.addFinalizer(() => Effect.sync(() => sender.close()))
      const port = socket.localAddress.port
      const data = Buffer.alloc(64, 7)
      // bursts of BURST datagrams, each once the receiver has the previous one
      const bursts = (n: number) =>
        Effect.promise(async () => {
          for (let i = 0; i < n; i++) {
            const target = received + BURST
            await new Promise<void>((resolve, reject) => {
              let left = BURST
              for (let j = 0; j < BURST; j++)
                sender.send(data, port, "127.0.0.1", (e) => (e ? reject(e) : --left === 0 && resolve()))
            })
            const deadline = Date.now() + 2000
            while (received < target && Date.now() < deadline) await new Promise((r) => setImmediate(r))
            assert.isAtLeast(received, target, "the receiver took every burst")
          }
        })
      yield* Effect.promise(() => new Promise<void>((resolve) => sender.bind(0, "127.0.0.1", () => resolve())))
      yield* bursts(200) // warm-up: code optimized, sizes settled
      gc()
      gc({ type: "minor" })
      const old0 = used("old_space")
      yield* bursts(BURSTS)
      gc({ type: "minor" })
      // what the run left reachable: in the young generation, or promoted to the old one
      const kept = used("new_space") + Math.max(0, used("old_space") - old0)
      yield* Fiber.interrupt(consumer)
      assert.isBelow(kept, 768 * 1024, `${kept} bytes kept after ${BURSTS} wake-ups`)
    }).pipe(Effect.scoped, Effect.provide(NodeNetwork.layer)),
  )
})
