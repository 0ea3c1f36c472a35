/**
 * Testing your own service with `MemoryNetwork`: no real sockets, no real
 * time, the same result on every run.
 *
 * The service below is an ordinary netfx TCP service (a line-based
 * key-value store) with an ordinary client. Nothing in it knows about the
 * memory network: the tests swap the `Network` Layer, inject faults with
 * `MemoryNetwork.Control`, and let `TestClock` run virtual time, so a 50 ms
 * latency takes exactly 50 ms of virtual time and no real time at all.
 *
 * Scenarios shown (each returns what a test asserts; see
 * examples/test/memory-network.test.ts and `pnpm demo`):
 * - latency: every request costs exactly one connect and one round trip;
 * - loss: 10% of segments lost, answers still right, delays exact and repeatable;
 * - partition: the client's request times out, and works again after `heal`.
 *
 *   tsx examples/src/memory-network-testing.ts
 */
import { BufferedStream, MemoryNetwork, Network, Tcp } from "@netfx/core"
import * as Clock from "effect/Clock"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import * as TestContext from "effect/TestContext"
import { decode, encode, isMain } from "./runtime.ts"

// ---------------------------------------------------------------------------
// The service under test: your code, unchanged for the tests.
// ---------------------------------------------------------------------------

/** A line-based key-value store: `SET k v` answers `OK`, `GET k` the value or `MISSING`. */
export const kvServer = (options: { readonly host: string; readonly port: number }) =>
  Effect.gen(function* () {
    const listener = yield* Tcp.listen(options)
    const store = new Map<string, string>()
    return yield* listener.serve((conn) => {
      const input = BufferedStream.make(conn)
      return Stream.runForEach(input.lines(), (line) => {
        const [command, key = "", ...rest] = decode(line).split(" ")
        if (command === "SET") store.set(key, rest.join(" "))
        const reply = command === "SET" ? "OK" : command === "GET" ? (store.get(key) ?? "MISSING") : "ERROR"
        return conn.send(encode(`${reply}\n`))
      })
    })
  })

/** One request on a fresh connection; fails with `TimeoutException` after `timeout`. */
export const kvRequest = (
  options: { readonly host: string; readonly port: number; readonly timeout?: Duration.DurationInput },
  request: string,
) =>
  Effect.gen(function* () {
    const conn = yield* Tcp.connect({ host: options.host, port: options.port })
    yield* conn.send(encode(`${request}\n`))
    return decode(yield* BufferedStream.make(conn).receiveLine())
  }).pipe(Effect.scoped, Effect.timeout(options.timeout ?? "1 second"))

// ---------------------------------------------------------------------------
// The test harness: a memory network with a server host and a client host.
// ---------------------------------------------------------------------------

const SERVER = { host: "kv.test", port: 7000 } as const
/** The client runs on its own virtual host, so link rules and partitions can tell it apart. */
const CLIENT_HOST = "10.0.0.2"

/**
 * Runs `scenario` with the key-value server on a fresh memory network
 * (server `kv.test` = 10.0.0.80) from client host 10.0.0.2, and lets
 * virtual time run until it is done. Needs `TestServices` (an
 * `it.effect` test, or `TestContext.TestContext`).
 */
export const runScenario = <A, E>(
  scenario: (control: MemoryNetwork.ControlService) => Effect.Effect<A, E, Network.Network>,
  options: MemoryNetwork.Options = {},
) =>
  Effect.gen(function* () {
    const fiber = yield* Effect.fork(
      Effect.gen(function* () {
        const control = yield* MemoryNetwork.Control
        yield* Effect.forkScoped(kvServer(SERVER))
        // the client's view of the network: its connections come from 10.0.0.2
        return yield* Effect.provideService(scenario(control), Network.Network, control.host(CLIENT_HOST))
      }).pipe(
        Effect.scoped,
        Effect.provide(MemoryNetwork.layer({ ...options, hosts: { "kv.test": "10.0.0.80", ...options.hosts } })),
      ),
    )
    yield* TestClock.adjust("1 hour")
    return yield* Fiber.join(fiber)
  })

/** Virtual milliseconds `effect` takes, with its result. */
const timed = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function* () {
    const start = yield* Clock.currentTimeMillis
    const value = yield* effect
    return { value, millis: (yield* Clock.currentTimeMillis) - start }
  })

/** 50 ms one-way latency: a request is a connect (100 ms) plus a round trip (100 ms). */
export const latencyScenario = runScenario((control) =>
  Effect.gen(function* () {
    yield* control.setFaults({ latency: "50 millis" })
    const set = yield* timed(kvRequest(SERVER, "SET greeting hello"))
    const get = yield* timed(kvRequest(SERVER, "GET greeting"))
    return { set, get }
  }),
)

/** 10% segment loss and 50 ms latency: every answer is right, every delay whole retransmission timeouts. */
export const lossScenario = runScenario(
  (control) =>
    Effect.gen(function* () {
      yield* control.setFaults({ latency: "50 millis", loss: 0.1 })
      const millis: Array<number> = []
      for (let i = 0; i < 10; i++) {
        const r = yield* timed(kvRequest({ ...SERVER, timeout: "10 seconds" }, `SET k${i} v${i}`))
        millis.push(r.millis)
      }
      const answers: Array<string> = []
      for (let i = 0; i < 10; i++) answers.push(yield* kvRequest({ ...SERVER, timeout: "10 seconds" }, `GET k${i}`))
      return { millis, answers, retransmissions: (yield* control.stats).retransmissions }
    }),
  { seed: 2024 },
)

/** A partition between client and server: the request times out; after `heal` it works again. */
export const partitionScenario = runScenario((control) =>
  Effect.gen(function* () {
    yield* control.setFaults({ latency: "10 millis" })
    yield* kvRequest(SERVER, "SET mood calm")
    yield* control.partition(CLIENT_HOST, "kv.test")
    const during = yield* timed(Effect.either(kvRequest(SERVER, "GET mood")))
    yield* control.heal
    const after = yield* kvRequest(SERVER, "GET mood")
    return {
      during: { outcome: during.value._tag === "Left" ? during.value.left._tag : "answered", millis: during.millis },
      after,
    }
  }),
)

if (isMain(import.meta.url)) {
  Effect.runPromise(
    Effect.all({ latency: latencyScenario, loss: lossScenario, partition: partitionScenario }).pipe(
      Effect.provide(TestContext.TestContext),
    ),
  ).then(
    (results) => console.log(JSON.stringify(results, null, 2)),
    (e) => {
      console.error(e)
      process.exitCode = 1
    },
  )
}
