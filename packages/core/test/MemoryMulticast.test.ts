import { assert, describe, it } from "@effect/vitest"
import { MemoryNetwork, Network, Udp } from "@netfx/core"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import { virtual } from "./support/memory.ts"

const encoder = new TextEncoder()
const decoder = new TextDecoder()
const bytes = (s: string): Uint8Array => encoder.encode(s)

const GROUP = "239.1.2.3"
const PORT = 5000

/** Runs `effect` on the network as another host sees it (its own sockets, addresses and links). */
const onHost =
  (address: string) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>) =>
    Effect.flatMap(MemoryNetwork.Control, (control) =>
      Effect.provideService(effect, Network.Network, control.host(address)),
    )

/** The texts of every datagram queued on `endpoint` now, in order. */
const drain = (endpoint: Udp.UdpSocket) =>
  Effect.gen(function* () {
    const got: Array<string> = []
    while ((yield* endpoint.queued) > 0) got.push(decoder.decode((yield* endpoint.receive()).data))
    return got
  })

/** A wildcard endpoint on `PORT` (sharing it) that joined `GROUP` for the enclosing Scope. */
const member = Effect.gen(function* () {
  const endpoint = yield* Udp.bind({ port: PORT, reusePort: true })
  yield* endpoint.joinMulticastGroup({ group: GROUP })
  return endpoint
})

describe("MemoryNetwork multicast", () => {
  it.effect("every member on the port gets its own copy, on this host and on others, from the sender's address", () =>
    virtual(
      Effect.gen(function* () {
        const control = yield* MemoryNetwork.Control
        const local = [yield* member, yield* member, yield* member]
        const remote = yield* onHost("10.0.0.2")(member)
        const sender = yield* onHost("10.0.0.3")(Udp.bind({}))
        yield* sender.sendTo(bytes("hello"), { host: GROUP, port: PORT })
        yield* Effect.sleep("1 second")
        for (const endpoint of [...local, remote]) assert.deepStrictEqual(yield* drain(endpoint), ["hello"])
        // from the sender's host address and its real port
        yield* sender.sendTo(bytes("who"), { host: GROUP, port: PORT })
        const d = yield* remote.receive()
        assert.deepStrictEqual(d.address, { _tag: "Ipv4", host: "10.0.0.3", port: sender.localAddress.port })
        const stats = yield* control.stats
        // counted once per receiving member
        assert.strictEqual(stats.datagramsSent, 8)
        assert.strictEqual(stats.datagramsDelivered, 8)
        assert.strictEqual(stats.datagramsDropped, 0)
      }),
    ),
  )

  it.effect("each copy meets the faults of its own link: latency per host, a partition drops one member's copy", () =>
    virtual(
      Effect.gen(function* () {
        const control = yield* MemoryNetwork.Control
        const near = yield* onHost("10.0.0.2")(member)
        const far = yield* onHost("10.0.0.3")(member)
        const cut = yield* onHost("10.0.0.4")(member)
        const sender = yield* Udp.bind({})
        yield* control.addLink({ from: "10.0.0.1", to: "10.0.0.2", faults: { latency: "10 millis" } })
        yield* control.addLink({ from: "10.0.0.1", to: "10.0.0.3", faults: { latency: "30 millis" } })
        yield* control.partition("10.0.0.1", "10.0.0.4")
        const t0 = yield* Clock.currentTimeMillis
        yield* sender.sendTo(bytes("x"), { host: GROUP, port: PORT })
        yield* near.receive()
        assert.strictEqual((yield* Clock.currentTimeMillis) - t0, 10)
        yield* far.receive()
        assert.strictEqual((yield* Clock.currentTimeMillis) - t0, 30)
        yield* Effect.sleep("1 second")
        assert.strictEqual(yield* cut.queued, 0)
        const stats = yield* control.stats
        assert.deepStrictEqual([stats.datagramsSent, stats.datagramsDelivered, stats.datagramsDropped], [3, 2, 1])
        // healed: the next datagram reaches it
        yield* control.heal
        yield* sender.sendTo(bytes("y"), { host: GROUP, port: PORT })
        yield* Effect.sleep("1 second")
        assert.deepStrictEqual(yield* drain(cut), ["y"])
      }),
    ),
  )

  const lossy = (seed: number) =>
    virtual(
      Effect.gen(function* () {
        const control = yield* MemoryNetwork.Control
        const steady = yield* onHost("10.0.0.2")(member)
        const flaky = yield* onHost("10.0.0.3")(member)
        yield* control.addLink({ to: "10.0.0.3", faults: { loss: 0.3 } })
        const sender = yield* Udp.bind({})
        for (let i = 0; i < 100; i++) yield* sender.sendTo(bytes(String(i)), { host: GROUP, port: PORT })
        yield* Effect.sleep("1 second")
        return { steady: yield* drain(steady), flaky: yield* drain(flaky), stats: yield* control.stats }
      }),
      { seed },
    )

  it.effect("loss on one member's link is drawn from the seeded PRNG: the same seed loses the same datagrams", () =>
    Effect.gen(function* () {
      const a = yield* lossy(7)
      const b = yield* lossy(7)
      assert.deepStrictEqual(a, b)
      assert.strictEqual(a.steady.length, 100)
      assert.isAbove(a.flaky.length, 40)
      assert.isBelow(a.flaky.length, 100)
      assert.strictEqual(a.stats.datagramsSent, 200)
      assert.strictEqual(a.stats.datagramsDropped, 100 - a.flaky.length)
      assert.strictEqual(a.stats.datagramsDelivered, 100 + a.flaky.length)
      // another seed, another (still exactly repeatable) pattern
      const c = yield* lossy(8)
      assert.notDeepEqual(c.flaky, a.flaky)
      assert.deepStrictEqual(c, yield* lossy(8))
    }),
  )

  it.effect("multicast loopback off keeps the copy from the sending host's members; TTL 0 keeps it on the host", () =>
    virtual(
      Effect.gen(function* () {
        const here = yield* member
        const there = yield* onHost("10.0.0.2")(member)
        const sender = yield* Udp.bind({})
        yield* sender.sendTo(bytes("both"), { host: GROUP, port: PORT })
        yield* sender.setMulticastLoopback(false)
        yield* sender.sendTo(bytes("remote only"), { host: GROUP, port: PORT })
        yield* sender.setMulticastLoopback(true)
        yield* sender.setMulticastTtl(0)
        yield* sender.sendTo(bytes("local only"), { host: GROUP, port: PORT })
        yield* Effect.sleep("1 second")
        assert.deepStrictEqual(yield* drain(here), ["both", "local only"])
        assert.deepStrictEqual(yield* drain(there), ["both", "remote only"])
        // views with the same source addresses are one host
        const again = yield* onHost("10.0.0.2")(Udp.bind({}))
        yield* again.setMulticastLoopback(false)
        yield* again.sendTo(bytes("from 10.0.0.2"), { host: GROUP, port: PORT })
        yield* Effect.sleep("1 second")
        assert.deepStrictEqual(yield* drain(here), ["from 10.0.0.2"])
        assert.deepStrictEqual(yield* drain(there), [])
      }),
    ),
  )

  it.effect("joining twice is EADDRINUSE and the membership ends with its Scope or with the socket", () =>
    virtual(
      Effect.gen(function* () {
        const control = yield* MemoryNetwork.Control
        const receiver = yield* Udp.bind({ port: PORT })
        const sender = yield* onHost("10.0.0.2")(Udp.bind({}))
        yield* Effect.scoped(
          Effect.gen(function* () {
            yield* receiver.joinMulticastGroup({ group: GROUP })
            const again = yield* Effect.flip(Effect.scoped(receiver.joinMulticastGroup({ group: GROUP })))
            assert.strictEqual(again._tag, "OperationFailed")
            assert.strictEqual(again._tag === "OperationFailed" ? again.code : "", "EADDRINUSE")
            yield* sender.sendTo(bytes("member"), { host: GROUP, port: PORT })
            yield* Effect.sleep("1 second")
          }),
        )
        // the failed second join did not end the first one early: "member" arrived
        assert.deepStrictEqual(yield* drain(receiver), ["member"])
        yield* sender.sendTo(bytes("left"), { host: GROUP, port: PORT })
        yield* sender.sendTo(bytes("marker"), { host: "10.0.0.1", port: PORT })
        yield* Effect.sleep("1 second")
        assert.deepStrictEqual(yield* drain(receiver), ["marker"])
        assert.strictEqual((yield* control.stats).datagramsDropped, 1)
        // joining again after leaving works; closing the socket leaves too
        const other = yield* Udp.bind({ port: PORT + 1 })
        yield* receiver.joinMulticastGroup({ group: GROUP })
        // IP_MULTICAST_ALL (Linux's default): a non-member socket of a member host gets the group's datagrams
        yield* sender.sendTo(bytes("to all"), { host: GROUP, port: PORT + 1 })
        yield* Effect.sleep("1 second")
        assert.deepStrictEqual(yield* drain(other), ["to all"])
        yield* receiver.close
        yield* sender.sendTo(bytes("closed"), { host: GROUP, port: PORT + 1 })
        yield* Effect.sleep("1 second")
        assert.deepStrictEqual(yield* drain(other), [])
      }),
    ),
  )

  it.effect("source-specific joins: only the chosen sources; the kernel's errnos for repeats and mixes", () =>
    virtual(
      Effect.gen(function* () {
        const receiver = yield* Udp.bind({ port: PORT })
        const good = yield* onHost("10.0.0.2")(Udp.bind({}))
        const bad = yield* onHost("10.0.0.3")(Udp.bind({}))
        yield* receiver.joinMulticastGroup({ group: "232.1.1.1", source: "10.0.0.2" })
        yield* bad.sendTo(bytes("bad"), { host: "232.1.1.1", port: PORT })
        yield* good.sendTo(bytes("good"), { host: "232.1.1.1", port: PORT })
        yield* Effect.sleep("1 second")
        assert.deepStrictEqual(yield* drain(receiver), ["good"])
        const code = (e: Udp.OptionError) => (e._tag === "OperationFailed" ? e.code : e._tag)
        const sameSource = yield* Effect.flip(
          Effect.scoped(receiver.joinMulticastGroup({ group: "232.1.1.1", source: "10.0.0.2" })),
        )
        assert.strictEqual(code(sameSource), "EADDRNOTAVAIL")
        const anySource = yield* Effect.flip(Effect.scoped(receiver.joinMulticastGroup({ group: "232.1.1.1" })))
        assert.strictEqual(code(anySource), "EADDRINUSE")
        // a second source widens the filter for as long as its Scope lasts
        yield* Effect.scoped(
          Effect.gen(function* () {
            yield* receiver.joinMulticastGroup({ group: "232.1.1.1", source: "10.0.0.3" })
            yield* bad.sendTo(bytes("now allowed"), { host: "232.1.1.1", port: PORT })
            yield* Effect.sleep("1 second")
          }),
        )
        yield* bad.sendTo(bytes("not again"), { host: "232.1.1.1", port: PORT })
        yield* Effect.sleep("1 second")
        assert.deepStrictEqual(yield* drain(receiver), ["now allowed"])
      }),
    ),
  )

  it.effect("IPv6 groups, dual-stack members of IPv4 groups, and the multicast interface as source", () =>
    virtual(
      Effect.gen(function* () {
        const six = yield* Udp.bind({ family: "ipv6", port: PORT, ipv6Only: true, reusePort: true })
        yield* six.joinMulticastGroup({ group: "FF15:0::1234", interface: "::%eth0" })
        const dual = yield* Udp.bind({ family: "ipv6", port: PORT + 1 })
        yield* dual.joinMulticastGroup({ group: GROUP })
        const sender6 = yield* onHost("fd00::2")(Udp.bind({ family: "ipv6" }))
        yield* sender6.setMulticastInterface("::%eth0")
        yield* sender6.sendTo(bytes("six"), { host: "ff15::1234", port: PORT })
        const sender4 = yield* onHost("10.0.0.2")(Udp.bind({}))
        yield* sender4.setMulticastInterface("10.9.9.9")
        yield* sender4.sendTo(bytes("four"), { host: GROUP, port: PORT + 1 })
        const d6 = yield* six.receive()
        assert.strictEqual(d6.address.host, "fd00::2")
        const d4 = yield* dual.receive()
        assert.strictEqual(decoder.decode(d4.data), "four")
        // a wildcard sender's source is its multicast interface; a dual-stack socket sees it v4-mapped
        assert.strictEqual(d4.address.host, "::ffff:10.9.9.9")
        const badInterface = yield* Effect.flip(sender4.setMulticastInterface("::%eth0"))
        assert.strictEqual(badInterface._tag === "OperationFailed" ? badInterface.code : "", "EINVAL")
      }),
    ),
  )
})

describe("MemoryNetwork broadcast", () => {
  it.effect(
    "without SO_BROADCAST a send is EACCES and the socket stays usable; with it every wildcard socket gets a copy",
    () =>
      virtual(
        Effect.gen(function* () {
          const control = yield* MemoryNetwork.Control
          const here = yield* Udp.bind({ port: PORT, reusePort: true })
          // the memory network has one port space: sockets of different hosts share a port with reusePort
          const there = yield* onHost("10.0.0.2")(Udp.bind({ port: PORT, reusePort: true }))
          // bound to a unicast address: broadcasts do not reach it (Linux)
          const unicast = yield* Udp.bind({ host: "10.0.0.1", port: PORT, reusePort: true })
          const sender = yield* Udp.bind({})
          const refused = yield* Effect.flip(sender.sendTo(bytes("nope"), { host: "255.255.255.255", port: PORT }))
          assert.strictEqual(refused._tag === "OperationFailed" ? refused.code : refused._tag, "EACCES")
          assert.strictEqual((yield* control.stats).datagramsSent, 0)
          yield* sender.setBroadcast(true)
          yield* sender.sendTo(bytes("limited"), { host: "255.255.255.255", port: PORT })
          yield* sender.sendTo(bytes("directed"), { host: "10.0.0.255", port: PORT })
          // the loopback broadcast stays on the sending host
          yield* sender.sendTo(bytes("loopback"), { host: "127.255.255.255", port: PORT })
          yield* Effect.sleep("1 second")
          assert.deepStrictEqual(yield* drain(here), ["limited", "directed", "loopback"])
          assert.deepStrictEqual(yield* drain(there), ["limited", "directed"])
          assert.deepStrictEqual(yield* drain(unicast), [])
          yield* sender.sendTo(bytes("unicast"), { host: "10.0.0.1", port: PORT })
          const d = yield* unicast.receive()
          assert.strictEqual(decoder.decode(d.data), "unicast")
          yield* sender.setBroadcast(false)
          const again = yield* Effect.flip(sender.sendTo(bytes("nope"), { host: "127.255.255.255", port: PORT }))
          assert.strictEqual(again._tag === "OperationFailed" ? again.code : again._tag, "EACCES")
          // connect(2) to a broadcast address needs SO_BROADCAST first, which cannot be set before it
          const connect = yield* Effect.flip(Udp.connect({ host: "255.255.255.255", port: PORT }))
          assert.strictEqual(connect._tag === "ConnectFailed" ? connect.attempts[0]?.code : connect._tag, "EACCES")
        }),
      ),
  )

  it.effect("a broadcast copy meets each link's faults; the same seed gives the same deliveries", () =>
    Effect.gen(function* () {
      const run = virtual(
        Effect.gen(function* () {
          const control = yield* MemoryNetwork.Control
          const receivers = [
            yield* onHost("10.0.0.2")(Udp.bind({ port: PORT, reusePort: true })),
            yield* onHost("10.0.0.3")(Udp.bind({ port: PORT, reusePort: true })),
          ]
          yield* control.setFaults({ loss: 0.2, latency: "5 millis", jitter: "5 millis" })
          const sender = yield* Udp.bind({})
          yield* sender.setBroadcast(true)
          for (let i = 0; i < 50; i++) yield* sender.sendTo(bytes(String(i)), { host: "255.255.255.255", port: PORT })
          yield* Effect.sleep("1 second")
          const got: Array<Array<string>> = []
          for (const r of receivers) got.push(yield* drain(r))
          return { got, stats: yield* control.stats }
        }),
        { seed: 11 },
      )
      const first = yield* run
      assert.deepStrictEqual(yield* run, first)
      assert.notDeepEqual(first.got[0], first.got[1])
      const delivered = (first.got[0]?.length ?? 0) + (first.got[1]?.length ?? 0)
      assert.strictEqual(first.stats.datagramsSent, 100)
      assert.strictEqual(first.stats.datagramsDelivered, delivered)
      assert.strictEqual(first.stats.datagramsDropped, 100 - delivered)
    }),
  )
})
