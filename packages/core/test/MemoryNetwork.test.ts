import { assert, describe, it } from "@effect/vitest"
import {
  type Listener,
  MemoryNetwork,
  Network,
  Resolver,
  SocketAddress,
  SocketStream,
  Tcp,
  Udp,
  Unix,
} from "@netfx/core"
import type * as Driver from "@netfx/core/Driver"
import { datagramContract, readN, streamContract, tcpContract, unixTransport } from "@netfx/core/testing"
import { scenarioOutcome } from "@netfx/core/testing/DatagramScenarios"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Equal from "effect/Equal"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import * as Tracer from "effect/Tracer"
import { trackedMemory, virtual } from "./support/memory.ts"

const tracked = trackedMemory({ links: [{ to: "192.0.2.1", faults: { blackhole: true } }] })
// openFds counts the network's live sockets, listeners and descriptors: the leak tests run here too
const memory = { name: "memory", layer: tracked.layer, openFds: tracked.openFds }

tcpContract({
  ...memory,
  unresolvableHost: "nonexistent.invalid",
  blackhole: Effect.succeed({ host: "192.0.2.1", port: 9 }),
})
// the Unix paths live in the memory network's own namespace (no file is created)
streamContract(memory, unixTransport("path"))
streamContract(memory, unixTransport("abstract"))
// no Python interop or kernel-queue flood here: the memory network's sockets are not the kernel's
// the multicast and broadcast scenarios need no namespace here: each runs in-process on a fresh memory network
datagramContract({
  ...memory,
  ipv6: true,
  reusePort: true,
  bufferSizes: true,
  kernel: false,
  namespace: (scenario) => scenarioOutcome(scenario, MemoryNetwork.layer()),
})

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

const now = Clock.currentTimeMillis

const echoOn = (host: string, port: number) =>
  Effect.gen(function* () {
    const listener = yield* Tcp.listen({ host, port })
    yield* Effect.forkScoped(listener.serve((c) => SocketStream.pipe(c, c)))
    return listener
  })

describe("MemoryNetwork faults", () => {
  /** A listener on 127.0.0.1 behind a 50 ms one-way latency: a connect takes 100 ms. */
  const slowListener = Effect.gen(function* () {
    const control = yield* MemoryNetwork.Control
    const listener = yield* Tcp.listen({ host: "127.0.0.1", port: 0 })
    yield* control.setFaults({ latency: "50 millis" })
    return { control, listener, port: (listener.address as SocketAddress.Ipv4).port }
  })

  it.effect("latency is exact: a connect is one round trip, an echo another", () =>
    virtual(
      Effect.gen(function* () {
        const control = yield* MemoryNetwork.Control
        yield* echoOn("10.0.0.80", 7)
        yield* control.setFaults({ latency: "50 millis" })
        const t0 = yield* now
        const conn = yield* Tcp.connect({ host: "10.0.0.80", port: 7 })
        assert.strictEqual((yield* now) - t0, 100)
        yield* conn.send(encoder.encode("x"))
        yield* conn.receive()
        assert.strictEqual((yield* now) - t0, 200)
      }),
    ),
  )

  it.effect("a connect interrupted while its SYN-ACK is in flight closes its end: the server's end reads EOF", () =>
    virtual(
      Effect.gen(function* () {
        const { control, listener, port } = yield* slowListener
        const connects = [
          Effect.scoped(Tcp.connect({ host: "127.0.0.1", port })),
          Tcp.withConnection({ host: "127.0.0.1", port }, () => Effect.dieMessage("use must not run")),
        ]
        for (const connect of connects) {
          const fiber = yield* Effect.fork(connect)
          // the SYN arrived at 50 ms (both ends exist), the SYN-ACK arrives at 100 ms
          yield* Effect.sleep("75 millis")
          assert.isNull(fiber.unsafePoll(), "still connecting")
          yield* Fiber.interrupt(fiber)
          const server = yield* listener.accept
          assert.strictEqual((yield* Effect.flip(server.receive()))._tag, "EndOfStream")
          yield* server.close
        }
        assert.strictEqual((yield* control.sockets).length, 0)
      }),
    ),
  )

  it.effect("inside Effect.uninterruptible a connect is not interrupted while it waits (connect, withConnection)", () =>
    virtual(
      Effect.gen(function* () {
        const { listener, port } = yield* slowListener
        const connects = {
          connect: (used: Deferred.Deferred<void>) =>
            Effect.scoped(
              Effect.flatMap(Tcp.connect({ host: "127.0.0.1", port }), () => Deferred.succeed(used, undefined)),
            ),
          withConnection: (used: Deferred.Deferred<void>) =>
            Tcp.withConnection({ host: "127.0.0.1", port }, () => Deferred.succeed(used, undefined)),
        }
        for (const [name, connect] of Object.entries(connects)) {
          const used = yield* Deferred.make<void>()
          const fiber = yield* Effect.fork(Effect.uninterruptible(connect(used)))
          // the connect waits for its SYN-ACK until 100 ms
          yield* Effect.sleep("25 millis")
          yield* Fiber.interrupt(fiber)
          assert.isTrue(yield* Deferred.isDone(used), `${name}: connected and used despite the interruption`)
          const server = yield* listener.accept
          assert.strictEqual((yield* Effect.flip(server.receive()))._tag, "EndOfStream", name)
          yield* server.close
        }
      }),
    ),
  )

  it.effect("jitter is drawn from the seeded PRNG: same seed, same timings; streams stay ordered", () =>
    Effect.gen(function* () {
      const once = virtual(
        Effect.gen(function* () {
          const t0 = yield* now
          const control = yield* MemoryNetwork.Control
          const listener = yield* Tcp.listen({ host: "10.0.0.80", port: 7 })
          yield* control.setFaults({ latency: "10 millis", jitter: "30 millis" })
          const conn = yield* Tcp.connect({ host: "10.0.0.80", port: 7 })
          const server = yield* listener.accept
          for (let i = 0; i < 50; i++) yield* conn.send(Uint8Array.of(i))
          const got = yield* readN(server, 50)
          assert.deepStrictEqual(
            [...got],
            Array.from({ length: 50 }, (_, i) => i),
          )
          return (yield* now) - t0
        }),
        { seed: 7 },
      )
      const a = yield* once
      const b = yield* once
      assert.strictEqual(a, b)
      assert.isAbove(a, 20)
    }),
  )

  it.effect("bandwidth: 50,000 bytes at 10,000 bytes/s take 5 s", () =>
    virtual(
      Effect.gen(function* () {
        const control = yield* MemoryNetwork.Control
        const listener = yield* Tcp.listen({ host: "10.0.0.80", port: 7 })
        const conn = yield* Tcp.connect({ host: "10.0.0.80", port: 7 })
        const server = yield* listener.accept
        yield* control.setFaults({ bandwidth: 10_000 })
        const t0 = yield* now
        yield* conn.send(new Uint8Array(50_000))
        yield* readN(server, 50_000)
        assert.strictEqual((yield* now) - t0, 5000)
      }),
    ),
  )

  it.effect("refused by fault, and a black hole that hangs until a timeout", () =>
    virtual(
      Effect.gen(function* () {
        const control = yield* MemoryNetwork.Control
        yield* echoOn("10.0.0.80", 7)
        yield* control.addLink({ to: "10.0.0.80", faults: { refuse: true } })
        const refused = yield* Effect.flip(Tcp.connect({ host: "10.0.0.80", port: 7 }))
        assert.strictEqual(refused._tag, "ConnectFailed")
        if (refused._tag === "ConnectFailed") assert.strictEqual(refused.attempts[0]?.code, "ECONNREFUSED")
        yield* control.addLink({ to: "10.0.0.80", faults: { refuse: false, blackhole: true } })
        const t0 = yield* now
        const timedOut = yield* Effect.flip(
          Effect.scoped(Tcp.connect({ host: "10.0.0.80", port: 7 })).pipe(Effect.timeout("3 seconds")),
        )
        assert.strictEqual(timedOut._tag, "TimeoutException")
        assert.strictEqual((yield* now) - t0, 3000)
        yield* control.clearFaults
        yield* Effect.scoped(Tcp.connect({ host: "10.0.0.80", port: 7 }))
        assert.strictEqual((yield* control.stats).connectionsRefused, 1)
      }),
    ),
  )

  it.effect("a partition stalls traffic and connects; healing resumes both", () =>
    Effect.gen(function* () {
      const control = yield* MemoryNetwork.Control
      yield* control.setFaults({ latency: "5 millis" })
      const server = yield* Tcp.listen({ host: "10.0.0.1", port: 80 })
      const client = Effect.provideService(Network.Network, control.host("10.0.0.2"))
      const connFiber = yield* Effect.fork(client(Tcp.connect({ host: "10.0.0.1", port: 80 })))
      yield* TestClock.adjust("10 millis")
      const conn = yield* Fiber.join(connFiber)
      const accepted = yield* server.accept
      assert.strictEqual(SocketAddress.format(accepted.remoteAddress).startsWith("10.0.0.2:"), true)

      yield* control.partition("10.0.0.2", "10.0.0.1")
      yield* conn.send(encoder.encode("during"))
      const reading = yield* Effect.fork(accepted.receive())
      const connecting = yield* Effect.fork(Effect.scoped(client(Tcp.connect({ host: "10.0.0.1", port: 80 }))))
      yield* TestClock.adjust("1 minute")
      assert.isNull(reading.unsafePoll(), "bytes must not cross a partition")
      assert.isNull(connecting.unsafePoll(), "a connect across a partition waits")
      // other hosts still reach the server
      const other = yield* Effect.fork(Effect.scoped(Tcp.connect({ host: "10.0.0.1", port: 80 })))
      yield* TestClock.adjust("10 millis")
      yield* Fiber.join(other)

      yield* control.heal
      yield* TestClock.adjust("5 millis")
      assert.strictEqual(decoder.decode(yield* Fiber.join(reading)), "during")
      // the waiting connect goes through: one round trip after the heal
      yield* TestClock.adjust("5 millis")
      yield* Fiber.join(connecting)
    }).pipe(Effect.scoped, Effect.provide(MemoryNetwork.layer())),
  )

  it.effect("resetAfterBytes resets the connection once it carried that many bytes", () =>
    virtual(
      Effect.gen(function* () {
        const control = yield* MemoryNetwork.Control
        const listener = yield* Tcp.listen({ host: "10.0.0.80", port: 7 })
        yield* control.addLink({ to: "10.0.0.80", faults: { resetAfterBytes: 10 } })
        const conn = yield* Tcp.connect({ host: "10.0.0.80", port: 7 })
        const server = yield* listener.accept
        yield* conn.send(encoder.encode("1234"))
        assert.strictEqual(decoder.decode(yield* readN(server, 4)), "1234")
        yield* conn.send(encoder.encode("5678901234567890"))
        const serverError = yield* server.receive().pipe(Effect.forever, Effect.flip)
        const clientError = yield* Effect.flip(conn.receive())
        for (const e of [serverError, clientError]) {
          assert.strictEqual(e._tag, "BrokenResource")
          if (e._tag === "BrokenResource") assert.strictEqual(e.code, "ECONNRESET")
        }
        assert.strictEqual((yield* control.stats).connectionsReset, 1)
      }),
    ),
  )

  it.effect("Control.reset resets live connections at a chosen moment", () =>
    virtual(
      Effect.gen(function* () {
        const control = yield* MemoryNetwork.Control
        const listener = yield* Tcp.listen({ host: "10.0.0.80", port: 7 })
        const conn = yield* Tcp.connect({ host: "10.0.0.80", port: 7 })
        const server = yield* listener.accept
        const pending = yield* Effect.fork(Effect.flip(server.receive()))
        yield* Effect.sleep("1 second")
        assert.strictEqual(yield* control.reset("10.0.0.99"), 0)
        assert.strictEqual(yield* control.reset("10.0.0.80"), 1)
        const e = yield* Fiber.join(pending)
        assert.strictEqual(e._tag === "BrokenResource" ? e.code : e._tag, "ECONNRESET")
        const c = yield* Effect.flip(conn.send(encoder.encode("x")))
        assert.strictEqual(c._tag === "BrokenResource" ? c.code : c._tag, "ECONNRESET")
      }),
    ),
  )
})

describe("MemoryNetwork observability, ports and names", () => {
  it.effect("live sockets, listeners and byte counters", () =>
    virtual(
      Effect.gen(function* () {
        const control = yield* MemoryNetwork.Control
        const listener = yield* echoOn("10.0.0.80", 7)
        assert.deepStrictEqual(yield* control.listeners, [
          { transport: "tcp", address: SocketAddress.ipv4("10.0.0.80", 7) },
        ])
        yield* Effect.scoped(
          Effect.gen(function* () {
            const conn = yield* Tcp.connect({ host: "10.0.0.80", port: 7 })
            yield* conn.send(encoder.encode("hello"))
            yield* readN(conn, 5)
            const sockets = yield* control.sockets
            assert.strictEqual(sockets.length, 2)
            const client = sockets.find((s) => Equal.equals(s.remoteAddress, listener.address))
            assert.deepStrictEqual(
              client && { sent: client.bytesSent, received: client.bytesReceived, local: client.localAddress },
              { sent: 5, received: 5, local: SocketAddress.ipv4("10.0.0.1", 49152) },
            )
          }),
        )
        yield* Effect.sleep("1 millis")
        assert.deepStrictEqual(yield* control.sockets, [])
        const stats = yield* control.stats
        assert.strictEqual(stats.bytesSent, 10)
        assert.strictEqual(stats.bytesDelivered, 10)
        assert.strictEqual(stats.connectionsOpened, 1)
      }),
    ),
  )

  it.effect("port 0 allocates deterministically; a taken port gives EADDRINUSE, wildcards included", () =>
    virtual(
      Effect.gen(function* () {
        const a = yield* Tcp.listen({ host: "127.0.0.1", port: 0 })
        assert.deepStrictEqual(a.address, SocketAddress.ipv4("127.0.0.1", 49152))
        const dual = yield* Tcp.listen({ port: 0 })
        assert.deepStrictEqual(dual.addresses, [SocketAddress.ipv4("0.0.0.0", 49153), SocketAddress.ipv6("::", 49153)])
        const taken = yield* Effect.flip(Tcp.listen({ host: "10.0.0.7", port: 49153 }))
        assert.strictEqual(taken._tag === "ListenFailed" ? taken.code : taken._tag, "EADDRINUSE")
        // the wildcard listener answers on any address of its family
        yield* Effect.forkScoped(dual.serve((c) => c.send(encoder.encode("any"))))
        const conn = yield* Tcp.connect({ host: "10.9.9.9", port: 49153 })
        assert.strictEqual(decoder.decode(yield* conn.receive()), "any")
        const conn6 = yield* Tcp.connect({ host: "fd00::42", port: 49153 })
        assert.strictEqual(conn6.family, "ipv6")
      }),
    ),
  )

  it.effect("the static resolver: several addresses per name, both families, ENOTFOUND otherwise", () =>
    virtual(
      Effect.gen(function* () {
        const network = yield* Network.Network
        const all = yield* network.resolver.getaddrinfo("multi.test", 443, { type: "stream" })
        assert.deepStrictEqual(
          all.map((i) => [i.family, i.address]),
          [
            [4, SocketAddress.ipv4("10.0.0.1", 443)],
            [6, SocketAddress.ipv6("fd00::1", 443)],
            [4, SocketAddress.ipv4("10.0.0.2", 443)],
          ],
        )
        const v6 = yield* network.resolver.getaddrinfo("MULTI.test", 443, { family: 6, type: "stream" })
        assert.strictEqual(v6.length, 1)
        const missing = yield* Effect.flip(network.resolver.getaddrinfo("nonexistent.invalid", 80))
        assert.strictEqual(missing.code, "ENOTFOUND")
        const name = yield* network.resolver.getnameinfo(SocketAddress.ipv4("10.0.0.2", 443))
        assert.deepStrictEqual(name, { host: "multi.test", service: "443" })
        // names can change while running
        const control = yield* MemoryNetwork.Control
        yield* control.addHost("late.test", "10.0.0.3")
        assert.strictEqual((yield* network.resolver.getaddrinfo("late.test", 1, { type: "stream" })).length, 1)
      }),
      { hosts: { "multi.test": ["10.0.0.1", "fd00::1", "10.0.0.2"] } },
    ),
  )

  it.effect("raw window: write returns false at the window, onDrain fires when the reader takes the bytes", () =>
    virtual(
      Effect.gen(function* () {
        const tcp = yield* Network.driver("tcp", "TCP")
        const accepted = yield* Deferred.make<Driver.RawConnection>()
        const rawListener = yield* tcp.listen({
          address: SocketAddress.ipv4("10.0.0.80", 7),
          backlog: 1,
          reusePort: false,
          ipv6Only: false,
          noDelay: true,
        })
        rawListener.start({
          onConnection: (c) => Deferred.unsafeDone(accepted, Exit.succeed(c)),
          onError: () => {},
        })
        const client = yield* tcp.connect({
          address: SocketAddress.ipv4("10.0.0.80", 7),
          noDelay: true,
          keepAlive: false,
          keepAliveInitialDelay: 0,
        })
        const drained = yield* Deferred.make<void>()
        const ignore = () => {}
        client.start({
          onData: ignore,
          onEnd: ignore,
          onError: ignore,
          onClose: ignore,
          onDrain: () => Deferred.unsafeDone(drained, Exit.void),
        })
        assert.isTrue(client.write(new Uint8Array(600)))
        assert.isFalse(client.write(new Uint8Array(600)))
        const server = yield* Deferred.await(accepted)
        let received = 0
        server.start({
          onData: (chunk) => {
            received += chunk.length
          },
          onEnd: ignore,
          onError: ignore,
          onClose: ignore,
          onDrain: ignore,
        })
        yield* Deferred.await(drained)
        assert.strictEqual(received, 1200)
        server.close()
        client.close()
      }),
      { window: 1000 },
    ),
  )
})

describe("MemoryNetwork: happy eyeballs under TestClock", () => {
  it.effect("attempts start at exactly 0, 250 and 500 ms while earlier ones hang", () =>
    virtual(
      Effect.gen(function* () {
        const control = yield* MemoryNetwork.Control
        yield* Tcp.listen({ host: "fd00::11", port: 80 })
        const t0 = yield* now
        const conn = yield* Tcp.connect({ host: "he.test", port: 80 })
        assert.deepStrictEqual(conn.remoteAddress, SocketAddress.ipv6("fd00::11", 80))
        const attempts = (yield* control.connects).map((c) => [c.at - t0, SocketAddress.format(c.address)])
        // IPv6 first, families interleaved
        assert.deepStrictEqual(attempts, [
          [0, "[fd00::10]:80"],
          [250, "10.0.0.10:80"],
          [500, "[fd00::11]:80"],
        ])
        assert.strictEqual((yield* now) - t0, 500)
        // the hanging losers left nothing behind: one client and one server end
        assert.strictEqual((yield* control.sockets).length, 2)
      }),
      {
        hosts: { "he.test": ["fd00::10", "fd00::11", "10.0.0.10"] },
        links: [{ to: ["fd00::10", "10.0.0.10"], faults: { blackhole: true } }],
      },
    ),
  )

  it.effect("a refused attempt moves on at once (after its round trip), not after 250 ms", () =>
    virtual(
      Effect.gen(function* () {
        const control = yield* MemoryNetwork.Control
        yield* Tcp.listen({ host: "10.0.0.10", port: 80 })
        yield* control.setFaults({ latency: "20 millis" })
        const t0 = yield* now
        const conn = yield* Tcp.connect({ host: "he.test", port: 80 })
        assert.deepStrictEqual(conn.remoteAddress, SocketAddress.ipv4("10.0.0.10", 80))
        assert.deepStrictEqual(
          (yield* control.connects).map((c) => c.at - t0),
          [0, 40],
        )
        assert.strictEqual((yield* now) - t0, 80)
      }),
      { hosts: { "he.test": ["fd00::10", "10.0.0.10"] } },
    ),
  )
})

describe("MemoryNetwork datagrams", () => {
  const flood = (faults: MemoryNetwork.Faults, count = 200) =>
    virtual(
      Effect.gen(function* () {
        const control = yield* MemoryNetwork.Control
        const server = yield* Udp.bind({ host: "10.0.0.80", port: 53 })
        const client = yield* Udp.bind({ host: "10.0.0.1" })
        yield* control.setFaults(faults)
        for (let i = 0; i < count; i++)
          yield* client.sendTo(Uint8Array.of(i & 0xff, i >> 8), { host: "10.0.0.80", port: 53 })
        yield* Effect.sleep("1 second")
        const got: Array<number> = []
        while ((yield* server.queued) > 0) {
          const d = yield* server.receive()
          got.push((d.data[0] as number) | ((d.data[1] as number) << 8))
        }
        return { got, stats: yield* control.stats }
      }),
      { seed: 3 },
    )

  it.effect("loss, duplication and reordering are seeded: the same run gives the same datagrams", () =>
    Effect.gen(function* () {
      const faults = { latency: "5 millis", loss: 0.1, duplicate: 0.05, reorder: 0.1 } as const
      const a = yield* flood(faults)
      const b = yield* flood(faults)
      assert.deepStrictEqual(a, b)
      const { got, stats } = a
      assert.strictEqual(stats.datagramsSent, 200)
      assert.isAbove(stats.datagramsDropped, 0)
      assert.isAbove(stats.datagramsDuplicated, 0)
      assert.strictEqual(got.length, 200 - stats.datagramsDropped + stats.datagramsDuplicated)
      assert.strictEqual(stats.datagramsDelivered, got.length)
      // reordered: not sorted, yet every delivered number was sent
      assert.notDeepEqual(
        got,
        [...got].sort((x, y) => x - y),
      )
      for (const n of got) assert.isTrue(n >= 0 && n < 200)
    }),
  )

  it.effect("maxDatagramSize drops larger datagrams; a partition drops everything until healed", () =>
    virtual(
      Effect.gen(function* () {
        const control = yield* MemoryNetwork.Control
        const server = yield* Udp.bind({ host: "10.0.0.80", port: 53 })
        const client = yield* Udp.bind({ host: "10.0.0.1" })
        yield* control.addLink({ to: "10.0.0.80", faults: { maxDatagramSize: 512 } })
        yield* client.sendTo(new Uint8Array(513), { host: "10.0.0.80", port: 53 })
        yield* client.sendTo(new Uint8Array(512), { host: "10.0.0.80", port: 53 })
        yield* control.partition("10.0.0.1", "10.0.0.80")
        yield* client.sendTo(new Uint8Array(1), { host: "10.0.0.80", port: 53 })
        yield* Effect.sleep("1 second")
        yield* control.heal
        yield* client.sendTo(new Uint8Array(2), { host: "10.0.0.80", port: 53 })
        yield* Effect.sleep("1 second")
        const sizes: Array<number> = []
        while ((yield* server.queued) > 0) sizes.push((yield* server.receive()).data.length)
        assert.deepStrictEqual(sizes, [512, 2])
        assert.strictEqual((yield* control.stats).datagramsDropped, 2)
      }),
    ),
  )

  it.effect("a UDP request/response client with retries under 10% loss and 50 ms latency is exactly repeatable", () =>
    Effect.gen(function* () {
      const run = virtual(
        Effect.gen(function* () {
          const control = yield* MemoryNetwork.Control
          yield* control.setFaults({ latency: "50 millis", loss: 0.1 })
          const server = yield* Udp.bind({ host: "10.0.0.80", port: 53 })
          yield* Effect.forkScoped(
            Stream.runForEach(server.packets, (d) =>
              server.sendTo(encoder.encode(decoder.decode(d.data).replace("PING", "PONG")), d.address),
            ),
          )
          const client = yield* Udp.connect({ host: "10.0.0.80", port: 53 })
          const t0 = yield* now
          const tries: Array<number> = []
          for (let i = 0; i < 20; i++) {
            let attempt = 0
            while (true) {
              attempt++
              yield* client.send(encoder.encode(`PING ${i}`))
              // a late reply to an earlier try is fine: it answers the same request
              const reply = yield* Effect.timeout(client.receive(), "300 millis").pipe(Effect.option)
              if (reply._tag === "Some" && decoder.decode(reply.value) === `PONG ${i}`) break
            }
            tries.push(attempt)
          }
          return { tries, elapsed: (yield* now) - t0, stats: yield* control.stats }
        }),
        { seed: 42 },
      )
      const first = yield* run
      const second = yield* run
      assert.deepStrictEqual(second, first)
      // every failed try costs exactly one 300 ms timeout, every success one 100 ms round trip
      assert.deepStrictEqual(first.tries, [1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 4, 2, 1, 1, 3, 1, 1, 1, 1, 1])
      assert.strictEqual(first.elapsed, 20 * 100 + 7 * 300)
      assert.strictEqual(first.stats.datagramsDropped, 7)
      assert.strictEqual(first.stats.datagramsSent, 50)
    }),
  )
})

describe("MemoryNetwork Unix sockets", () => {
  it.effect("a refused Unix connect reports port -1 and the path, as the real drivers do", () =>
    virtual(
      Effect.gen(function* () {
        const missing = yield* Effect.flip(Effect.scoped(Unix.connect({ path: "/run/missing.sock" })))
        assert.strictEqual(missing._tag, "ConnectFailed")
        if (missing._tag !== "ConnectFailed") return
        assert.strictEqual(missing.port, -1)
        assert.strictEqual(missing.host, "/run/missing.sock")
        assert.strictEqual(missing.attempts[0]?.code, "ENOENT")
        const abstract = yield* Effect.flip(
          Effect.scoped(Unix.connect({ path: SocketAddress.unixAbstract("netfx-missing") })),
        )
        assert.strictEqual(abstract._tag === "ConnectFailed" ? abstract.port : abstract._tag, -1)
      }),
    ),
  )

  it.effect("virtual socket paths: in use, removed on close, stale files replaced", () =>
    virtual(
      Effect.gen(function* () {
        const control = yield* MemoryNetwork.Control
        const first = yield* Unix.listen({ path: "/run/app.sock" })
        const busy = yield* Effect.flip(Effect.scoped(Unix.listen({ path: "/run/app.sock" })))
        assert.strictEqual(busy._tag === "ListenFailed" ? busy.code : busy._tag, "EADDRINUSE")
        yield* first.close
        // still a socket file, nobody listening: refused, and a new listener replaces it
        const stale = yield* Effect.flip(Effect.scoped(Unix.connect({ path: "/run/app.sock" })))
        assert.strictEqual(stale._tag === "ConnectFailed" ? stale.attempts[0]?.code : stale._tag, "ECONNREFUSED")
        yield* Effect.scoped(
          Effect.gen(function* () {
            const again = yield* Unix.listen({ path: "/run/app.sock" })
            yield* Effect.forkScoped(again.serve((c) => c.send(encoder.encode("again"))))
            const conn = yield* Unix.connect({ path: "/run/app.sock" })
            assert.strictEqual(decoder.decode(yield* conn.receive()), "again")
            assert.deepStrictEqual(conn.remoteAddress, SocketAddress.unixPath("/run/app.sock"))
            assert.deepStrictEqual(
              (yield* control.listeners).map((l) => l.transport),
              ["unix"],
            )
          }),
        )
        // the listener's scope removed its file
        const gone = yield* Effect.flip(Effect.scoped(Unix.connect({ path: "/run/app.sock" })))
        assert.strictEqual(gone._tag === "ConnectFailed" ? gone.attempts[0]?.code : gone._tag, "ENOENT")
      }),
    ),
  )
})

describe("MemoryNetwork provides its resolver as the Resolver service", () => {
  it.effect("Resolver.getaddrinfo answers from the static table", () =>
    Effect.gen(function* () {
      const infos = yield* Resolver.getaddrinfo("db.test", 5432, { type: "stream" })
      assert.deepStrictEqual(
        infos.map((i) => SocketAddress.format(i.address)),
        ["[fd00::5]:5432", "10.0.0.5:5432"],
      )
      const missing = yield* Effect.flip(Resolver.getaddrinfo("nonexistent.invalid", 1))
      assert.strictEqual(missing._tag, "ResolveFailed")
    }).pipe(Effect.provide(MemoryNetwork.layer({ hosts: { "db.test": ["fd00::5", "10.0.0.5"] } }))),
  )
})

describe("connect and listen run in spans that point at the caller", () => {
  it.effect("Tcp.connect, Tcp.listen, Unix.connect and Unix.listen each open a span with their address", () =>
    Effect.gen(function* () {
      const spans: Array<{ name: string; attributes: Map<string, unknown> }> = []
      const base = yield* Effect.tracer
      const recording = Tracer.make({
        span: (...args) => {
          const span = base.span(...args)
          const entry = { name: args[0], attributes: new Map<string, unknown>() }
          spans.push(entry)
          const set = span.attribute.bind(span)
          return Object.assign(span, {
            attribute: (key: string, value: unknown) => {
              entry.attributes.set(key, value)
              set(key, value)
            },
          })
        },
        context: (f) => f(),
      })
      const program = Effect.gen(function* () {
        const listener = yield* Tcp.listen({ host: "10.0.0.1", port: 80 })
        yield* Tcp.connect({ host: "10.0.0.1", port: 80 })
        const refused = yield* Effect.flip(Tcp.connect({ host: "10.0.0.1", port: 81 }))
        assert.strictEqual(refused._tag, "ConnectFailed")
        yield* Unix.listen({ path: "/run/span.sock" })
        yield* Unix.connect({ path: "/run/span.sock" })
        return listener
      }).pipe(Effect.scoped, Effect.provide(MemoryNetwork.layer()), Effect.withTracer(recording))
      yield* program
      const names = spans.map((s) => s.name)
      assert.includeMembers(names, ["netfx.Tcp.listen", "netfx.Tcp.connect", "netfx.Unix.listen", "netfx.Unix.connect"])
      const connects = spans.filter((s) => s.name === "netfx.Tcp.connect")
      assert.deepStrictEqual(
        connects.map((s) => s.attributes.get("port")),
        [80, 81],
      )
      assert.strictEqual(spans.find((s) => s.name === "netfx.Unix.connect")?.attributes.get("path"), "/run/span.sock")
    }),
  )
})
