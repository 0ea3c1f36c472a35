/**
 * UDP multicast and broadcast scenarios that must run inside a private
 * network namespace (see `DatagramContract.ts`), without vitest so a
 * platform fixture can run them in a child process under `unshare -n`.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import type { Network } from "../src/Network.ts"
import * as SocketAddress from "../src/SocketAddress.ts"
import * as Udp from "../src/Udp.ts"

const encoder = new TextEncoder()
const decoder = new TextDecoder()
const bytes = (s: string): Uint8Array => encoder.encode(s)
const text = (b: Uint8Array): string => decoder.decode(b)
const portOf = (address: SocketAddress.SocketAddress): number => (SocketAddress.isIp(address) ? address.port : -1)

const GROUP = "239.255.0.1"
const SSM_GROUP = "232.1.1.1"
const GROUP6 = "ff15::1234"

/** Receives the next datagram and checks its text; a unicast marker proves what did not arrive. */
const expectNext = (endpoint: Udp.UdpSocket, want: string, why: string) =>
  Effect.gen(function* () {
    const d = yield* endpoint.receive()
    if (text(d.data) !== want) return yield* Effect.dieMessage(`${why}: got ${JSON.stringify(text(d.data))}`)
    return d
  })

/**
 * Multicast and broadcast checks, run by a platform's namespace fixture
 * (`runScenario`) inside `unshare -n` with `lo` up and 224.0.0.0/4 routed
 * to it.
 *
 * @since 0.1.0
 */
export const namespaceScenarios: Record<string, Effect.Effect<void, unknown, Scope.Scope | Network>> = {
  multicast: Effect.gen(function* () {
    const receiver = yield* Udp.bind({ host: "0.0.0.0" })
    const port = portOf(receiver.localAddress)
    const sender = yield* Udp.bind({ host: "10.9.9.1" })
    yield* sender.setMulticastInterface("10.9.9.1")
    yield* sender.setMulticastLoopback(true)
    yield* sender.setMulticastTtl(1)
    yield* Effect.scoped(
      Effect.gen(function* () {
        yield* receiver.joinMulticastGroup({ group: GROUP, interface: "10.9.9.1" })
        yield* sender.sendTo(bytes("one"), { host: GROUP, port })
        const d = yield* expectNext(receiver, "one", "joined member")
        if (portOf(d.address) !== portOf(sender.localAddress)) return yield* Effect.dieMessage("wrong sender address")
        // joining twice is the kernel's EADDRINUSE, typed
        const again = yield* Effect.flip(
          Effect.scoped(receiver.joinMulticastGroup({ group: GROUP, interface: "10.9.9.1" })),
        )
        if (again._tag !== "OperationFailed") return yield* Effect.dieMessage(`double join: ${again._tag}`)
      }),
    )
    // left the group with the scope: "two" must not arrive before the unicast marker
    yield* sender.sendTo(bytes("two"), { host: GROUP, port })
    yield* sender.sendTo(bytes("marker"), { host: "127.0.0.1", port })
    yield* expectNext(receiver, "marker", "after leaving")
    // loopback off: this host's members do not get what it sends
    yield* Effect.scoped(
      Effect.gen(function* () {
        yield* receiver.joinMulticastGroup({ group: GROUP, interface: "10.9.9.1" })
        yield* sender.setMulticastLoopback(false)
        yield* sender.sendTo(bytes("looped"), { host: GROUP, port })
        yield* sender.sendTo(bytes("marker2"), { host: "127.0.0.1", port })
        yield* expectNext(receiver, "marker2", "multicast loopback off")
      }),
    )
    const bad = yield* Effect.flip(Effect.scoped(receiver.joinMulticastGroup({ group: "10.0.0.1" })))
    if (bad._tag !== "InvalidArgument") return yield* Effect.dieMessage(`non-multicast group: ${bad._tag}`)
  }),
  sourceSpecific: Effect.gen(function* () {
    const receiver = yield* Udp.bind({ host: "0.0.0.0" })
    const port = portOf(receiver.localAddress)
    const good = yield* Udp.bind({ host: "10.9.9.1" })
    const other = yield* Udp.bind({ host: "10.9.9.2" })
    for (const s of [good, other]) yield* s.setMulticastInterface("10.9.9.1")
    yield* receiver.joinMulticastGroup({ group: SSM_GROUP, interface: "10.9.9.1", source: "10.9.9.1" })
    yield* other.sendTo(bytes("from-other"), { host: SSM_GROUP, port })
    yield* good.sendTo(bytes("from-source"), { host: SSM_GROUP, port })
    yield* expectNext(receiver, "from-source", "source-specific join")
  }),
  multicast6: Effect.gen(function* () {
    // IPv6: the interface is named by scope (`::%v0`), the group is site-local ff15::/16
    const receiver = yield* Udp.bind({ family: "ipv6" })
    const port = portOf(receiver.localAddress)
    const sender = yield* Udp.bind({ host: "fd00::1" })
    yield* sender.setMulticastInterface("::%v0")
    yield* sender.setMulticastTtl(1)
    yield* Effect.scoped(
      Effect.gen(function* () {
        yield* receiver.joinMulticastGroup({ group: GROUP6, interface: "::%v0" })
        yield* sender.sendTo(bytes("six"), { host: GROUP6, port })
        const d = yield* expectNext(receiver, "six", "joined IPv6 member")
        if (d.address.host !== "fd00::1") return yield* Effect.dieMessage(`wrong sender ${d.address.host}`)
      }),
    )
    yield* sender.sendTo(bytes("gone"), { host: GROUP6, port })
    yield* sender.sendTo(bytes("marker6"), { host: "::1", port })
    yield* expectNext(receiver, "marker6", "after leaving the IPv6 group")
    const bad = yield* Effect.flip(Effect.scoped(receiver.joinMulticastGroup({ group: "fd00::2" })))
    if (bad._tag !== "InvalidArgument") return yield* Effect.dieMessage(`non-multicast IPv6 group: ${bad._tag}`)
  }),
  broadcast: Effect.gen(function* () {
    const receiver = yield* Udp.bind({ host: "0.0.0.0" })
    const port = portOf(receiver.localAddress)
    const sender = yield* Udp.bind({ host: "127.0.0.1" })
    const refused = yield* Effect.flip(sender.sendTo(bytes("nope"), { host: "127.255.255.255", port }))
    if (refused._tag !== "OperationFailed" || refused.code !== "EACCES")
      return yield* Effect.dieMessage(`broadcast without SO_BROADCAST: ${refused._tag} ${JSON.stringify(refused)}`)
    yield* sender.setBroadcast(true)
    yield* sender.sendTo(bytes("everyone"), { host: "127.255.255.255", port })
    yield* expectNext(receiver, "everyone", "broadcast")
    yield* sender.setBroadcast(false)
    const again = yield* Effect.flip(sender.sendTo(bytes("nope"), { host: "127.255.255.255", port }))
    if (again._tag !== "OperationFailed") return yield* Effect.dieMessage("broadcast off again")
    yield* sender.setTtl(1)
  }),
}

/**
 * Runs one namespace scenario with a Layer (built fresh for it, within a
 * 10 second limit) and yields its outcome line: `PASS <name>` or
 * `FAIL <name>: <cause>`. Never fails. For runners that need no
 * namespace, such as the in-memory network's.
 *
 * @since 0.1.0
 */
export const scenarioOutcome = (name: string, layer: Layer.Layer<Network>): Effect.Effect<string> => {
  const scenario = namespaceScenarios[name]
  if (scenario === undefined) return Effect.succeed(`FAIL ${name}: no such scenario`)
  return scenario.pipe(
    Effect.scoped,
    Effect.provide(layer),
    Effect.timeout("10 seconds"),
    Effect.exit,
    Effect.map((exit) => (exit._tag === "Success" ? `PASS ${name}` : `FAIL ${name}: ${Cause.pretty(exit.cause)}`)),
  )
}

/**
 * Runs one namespace scenario with a Layer and prints `PASS <name>` or
 * `FAIL <name>: <cause>`; for the platform fixtures.
 *
 * @since 0.1.0
 */
export const runScenario = (name: string, layer: Layer.Layer<Network>): Promise<boolean> =>
  Effect.runPromise(
    Effect.map(scenarioOutcome(name, layer), (line) => {
      console.log(line)
      return line.startsWith("PASS ")
    }),
  )
