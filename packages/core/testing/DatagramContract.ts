/**
 * The UDP contract, written once and run against every `Network` Layer
 * that provides a UDP driver (Node, Bun). Multicast and broadcast run only
 * inside a network namespace the test creates itself (see
 * {@link DatagramEnvironment.namespace}); never on the host network.
 *
 * @since 0.1.0
 */
import { spawn } from "node:child_process"
import * as dgram from "node:dgram"
import { readFileSync } from "node:fs"
import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import type * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as FdPassing from "../src/FdPassing.ts"
import { type Network, Network as NetworkTag } from "../src/Network.ts"
import * as Resolver from "../src/Resolver.ts"
import * as SocketAddress from "../src/SocketAddress.ts"
import * as Udp from "../src/Udp.ts"
import { namespaceScenarios } from "./DatagramScenarios.ts"
import { python, pythonExit } from "./peers.ts"
import { bytes, eventually, portOf, text } from "./StreamContract.ts"

/**
 * What the environment under test can offer.
 *
 * @since 0.1.0
 */
export interface DatagramEnvironment {
  /** Shown in test names: "node", "bun". */
  readonly name: string
  readonly layer: Layer.Layer<Network>
  readonly openFds?: () => number
  readonly rss?: () => number
  /** Whether `::1` can be bound (see {@link canBindUdp6}); IPv6 tests are skipped otherwise. */
  readonly ipv6: boolean
  /** Whether `reusePort` works; when false the test expects a precise `Unsupported`. */
  readonly reusePort: boolean
  /** Whether `receiveBufferSize`/`sendBufferSize` work; when false the test expects `Unsupported`. */
  readonly bufferSizes: boolean
  /**
   * Whether the sockets are the operating system's (default `true`). The
   * Python interop and kernel-queue flood tests need real sockets; the
   * memory network sets `false` to skip them.
   */
  readonly kernel?: boolean
  /**
   * Runs one of {@link namespaceScenarios} in a fresh network namespace
   * (a child process under `unshare -n`) and yields its output. Omitted:
   * multicast and broadcast tests are skipped with `namespaceSkipReason`.
   */
  readonly namespace?: (scenario: string) => Effect.Effect<string, never, Scope.Scope>
  readonly namespaceSkipReason?: string
  /**
   * Whether the driver wakes a receiver once per event-loop turn
   * (`UdpDriver.coalesceWakeups`): then a burst that arrives while a
   * receiver waits is handed over in one batch.
   */
  readonly coalescedWakeups?: boolean
}

/**
 * Whether this machine can bind a UDP socket on `::1` (checked with
 * `node:dgram` directly, before the tests are registered).
 *
 * @since 0.1.0
 */
export const canBindUdp6 = (): Promise<boolean> =>
  new Promise((resolve) => {
    const s = dgram.createSocket("udp6")
    s.once("error", () => {
      s.close()
      resolve(false)
    })
    s.bind(0, "::1", () => {
      s.close()
      resolve(true)
    })
  })

/**
 * The private namespace: `lo` up (broadcast to 127.255.255.255) and a veth
 * pair whose `v0` end has 10.9.9.1, 10.9.9.2 (and fd00::1 where IPv6
 * exists) and carries 224.0.0.0/4, so
 * multicast leaves through a real interface (on `lo` itself every
 * multicast datagram comes back as input, and IP_MULTICAST_LOOP could not
 * be observed).
 */
const NAMESPACE_SETUP =
  "ip link set lo up && ip link add v0 type veth peer name v1 && ip addr add 10.9.9.1/24 dev v0 && ip addr add 10.9.9.2/24 dev v0 && (ip -6 addr add fd00::1/64 dev v0 nodad || true) && ip link set v0 up && ip link set v1 up && ip route add 224.0.0.0/4 dev v0"

/**
 * Whether `unshare -n` + `ip` can make a private network namespace here
 * (root, util-linux and iproute2 present). Returns the reason when not.
 *
 * @since 0.1.0
 */
export const namespaceSupport = async (): Promise<string | undefined> => {
  const { spawnSync } = await import("node:child_process")
  const r = spawnSync("unshare", ["-n", "sh", "-c", NAMESPACE_SETUP], {
    timeout: 10_000,
  })
  if (r.error !== undefined) return `unshare is unavailable: ${r.error.message}`
  if (r.status !== 0) return `unshare -n failed (not root or no namespaces): ${String(r.stderr).trim()}`
  return undefined
}

/** Kernel facts for the UDP socket bound to loopback:`port` (Linux `/proc/net/udp{,6}`): queued bytes and drops. */
const kernelUdp = (port: number, v6: boolean): { readonly rxQueue: number; readonly drops: number } | undefined => {
  const file = readFileSync(v6 ? "/proc/net/udp6" : "/proc/net/udp", "utf8")
  const hexPort = port.toString(16).toUpperCase().padStart(4, "0")
  for (const line of file.split("\n").slice(1)) {
    const cols = line.trim().split(/\s+/)
    if (cols.length < 13) continue
    if (cols[1] === (v6 ? `00000000000000000000000001000000:${hexPort}` : `0100007F:${hexPort}`)) {
      const [, rx = "0"] = (cols[4] ?? "0:0").split(":")
      return { rxQueue: Number.parseInt(rx, 16), drops: Number(cols[cols.length - 1]) }
    }
  }
  return undefined
}

/** Lets forked fibers run until they park. */
const settle = Effect.repeatN(Effect.yieldNow(), 4)

const hello = (data: Uint8Array): Uint8Array => {
  const prefix = bytes("Hello, ")
  const out = new Uint8Array(prefix.length + data.length)
  out.set(prefix)
  out.set(data, prefix.length)
  return out
}

const PY_ECHO = `
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1], flush=True)
while True:
    data, addr = s.recvfrom(65535)
    s.sendto(b"echo:" + data, addr)
`

const PY_CLIENT = `
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1], flush=True)
s.settimeout(10)
s.sendto(b"Python", ("127.0.0.1", int(sys.argv[1])))
data, addr = s.recvfrom(65535)
print(data.decode(), addr[1], flush=True)
`

const PY_FLOOD = `
import socket, sys
n, size, port = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
payload = bytearray(size)
for i in range(n):
    payload[0:4] = i.to_bytes(4, "big")
    s.sendto(payload, ("127.0.0.1", port))
print("sent", n, flush=True)
`

export { namespaceScenarios, runScenario } from "./DatagramScenarios.ts"

/**
 * A namespace runner for {@link DatagramEnvironment.namespace}: runs
 * `command scenario` under `unshare -n` after setting up `lo` and a veth
 * pair carrying 224.0.0.0/4 (10.9.9.1 and 10.9.9.2 on `v0`), and yields everything it printed. The child is killed
 * when the Scope closes.
 *
 * @since 0.1.0
 */
export const unshareRunner =
  (command: ReadonlyArray<string>) =>
  (scenario: string): Effect.Effect<string, never, Scope.Scope> =>
    Effect.acquireRelease(
      Effect.sync(() =>
        spawn("unshare", ["-n", "sh", "-c", `${NAMESPACE_SETUP} && exec "$@"`, "sh", ...command, scenario], {
          stdio: ["ignore", "pipe", "pipe"],
        }),
      ),
      (child) => Effect.sync(() => child.exitCode === null && child.signalCode === null && child.kill("SIGKILL")),
    ).pipe(
      Effect.flatMap((child) =>
        Effect.async<string>((resume) => {
          let out = ""
          child.stdout?.on("data", (d: Buffer) => {
            out += d.toString()
          })
          child.stderr?.on("data", (d: Buffer) => {
            out += d.toString()
          })
          child.on("close", (code) => resume(Effect.succeed(`${out}\n(exit ${code})`)))
          child.on("error", (e) => resume(Effect.succeed(`${out}\n(spawn failed: ${e.message})`)))
        }),
      ),
    )

// ---------------------------------------------------------------------------
// the contract
// ---------------------------------------------------------------------------

/**
 * Registers the UDP contract tests for one environment.
 *
 * @since 0.1.0
 */
export const datagramContract = (env: DatagramEnvironment): void => {
  const run = <A, E>(effect: Effect.Effect<A, E, Scope.Scope | Network>) =>
    effect.pipe(Effect.scoped, Effect.provide(env.layer))

  const roundTrip = (host: string, options: { readonly bound: boolean; readonly connected: boolean }) =>
    run(
      Effect.gen(function* () {
        const server = yield* Udp.bind({ host })
        const serverPort = portOf(server.localAddress)
        const family = server.family
        if (options.connected) {
          const client = yield* Udp.connect(
            options.bound ? { host: host, port: serverPort, localHost: host } : { host: host, port: serverPort },
          )
          assert.strictEqual(client.family, family)
          assert.strictEqual(portOf(client.remoteAddress), serverPort)
          yield* client.send(bytes("ping"))
          const d = yield* server.receive()
          assert.strictEqual(text(d.data), "ping")
          assert.strictEqual(portOf(d.address), portOf(client.localAddress))
          yield* server.sendTo(bytes("pong"), d.address)
          assert.strictEqual(text(yield* client.receive()), "pong")
        } else {
          const client = yield* options.bound ? Udp.bind({ host }) : Udp.bind({ family })
          yield* client.sendTo(bytes("ping"), { host, port: serverPort })
          const d = yield* server.receive()
          assert.strictEqual(text(d.data), "ping")
          assert.strictEqual(d.address._tag, family === "ipv6" ? "Ipv6" : "Ipv4")
          assert.strictEqual(portOf(d.address), portOf(client.localAddress))
          yield* server.sendTo(bytes("pong"), d.address)
          const r = yield* client.receive()
          assert.strictEqual(text(r.data), "pong")
          assert.strictEqual(portOf(r.address), serverPort)
        }
      }),
    )

  describe(`UDP contract on ${env.name}`, () => {
    for (const connected of [false, true]) {
      for (const bound of [true, false]) {
        const what = `${bound ? "bound" : "unbound"} ${connected ? "connected" : "unconnected"}`
        it.live(`round trip IPv4 (${what})`, () => roundTrip("127.0.0.1", { bound, connected }))
        it.live.skipIf(!env.ipv6)(`round trip IPv6 (${what}; skipped when ::1 cannot be bound)`, () =>
          roundTrip("::1", { bound, connected }),
        )
      }
    }

    it.live("a datagram sent to the endpoint's own address arrives with that address as sender", () =>
      run(
        Effect.gen(function* () {
          const udp = yield* Udp.bind({ host: "127.0.0.1" })
          yield* udp.sendTo(bytes("me"), { host: "127.0.0.1", port: portOf(udp.localAddress) })
          const d = yield* udp.receive()
          assert.strictEqual(text(d.data), "me")
          assert.deepStrictEqual(d.address, udp.localAddress)
        }),
      ),
    )

    it.live("receive(maxBytes) cuts a longer datagram and discards its rest, like recvfrom", () =>
      run(
        Effect.gen(function* () {
          const server = yield* Udp.bind({ host: "127.0.0.1" })
          const client = yield* Udp.connect({ host: "127.0.0.1", port: portOf(server.localAddress) })
          yield* client.send(bytes("0123456789abcdef"))
          yield* client.send(bytes("next"))
          const cut = yield* server.receive(4)
          assert.strictEqual(text(cut.data), "0123")
          assert.isTrue(cut.truncated)
          // the rest of the first datagram is gone: the next receive is the next datagram
          const next = yield* server.receive(4)
          assert.strictEqual(text(next.data), "next")
          assert.isFalse(next.truncated)
          // the connected side cuts too
          yield* server.sendTo(bytes("abcdef"), client.localAddress)
          assert.strictEqual(text(yield* client.receive(2)), "ab")
          for (const bad of [0, -1, 1.5])
            assert.strictEqual((yield* Effect.flip(server.receive(bad)))._tag, "InvalidArgument")
        }),
      ),
    )

    it.live("receiveMany takes what is queued (up to max, in order); packets hands it over as one Chunk", () =>
      run(
        Effect.gen(function* () {
          const server = yield* Udp.bind({ host: "127.0.0.1" })
          const client = yield* Udp.connect({ host: "127.0.0.1", port: portOf(server.localAddress) })
          yield* client.sendMany(["a", "b", "c", "d", "e"].map(bytes))
          yield* eventually(() => Effect.runSync(server.queued) === 5, "five datagrams queued")
          const first = yield* server.receiveMany(3)
          assert.deepStrictEqual(
            Chunk.toArray(first).map((d) => text(d.data)),
            ["a", "b", "c"],
          )
          const rest = yield* server.receiveMany(100, 64)
          assert.deepStrictEqual(
            Chunk.toArray(rest).map((d) => text(d.data)),
            ["d", "e"],
          )
          assert.strictEqual((yield* Effect.flip(server.receiveMany(0)))._tag, "InvalidArgument")
          // every datagram that is queued comes out of one pull of `packets`
          yield* client.sendMany(["f", "g", "h", "i"].map(bytes))
          yield* eventually(() => Effect.runSync(server.queued) === 4, "four datagrams queued")
          const pull = yield* Stream.toPull(server.packets)
          assert.deepStrictEqual(
            Chunk.toArray(yield* pull).map((d) => text(d.data)),
            ["f", "g", "h", "i"],
          )
          // the connected side: bytes only
          yield* server.sendMany(["x", "y"].map((s) => ({ data: bytes(s), address: client.localAddress })))
          yield* eventually(() => Effect.runSync(client.queued) === 2, "two datagrams queued")
          assert.deepStrictEqual(Chunk.toArray(yield* client.receiveMany(10)).map(text), ["x", "y"])
        }),
      ),
    )

    it.live("sendMany sends in order to each destination; a failing one fails the batch typed", () =>
      run(
        Effect.gen(function* () {
          const a = yield* Udp.bind({ host: "127.0.0.1" })
          const b = yield* Udp.bind({ host: "127.0.0.1" })
          const sender = yield* Udp.bind({ host: "127.0.0.1" })
          yield* sender.sendMany([
            { data: bytes("a1"), address: a.localAddress },
            { data: bytes("b1"), address: { host: "127.0.0.1", port: portOf(b.localAddress) } },
            { data: bytes("a2"), address: a.localAddress },
          ])
          assert.strictEqual(text((yield* a.receive()).data), "a1")
          assert.strictEqual(text((yield* a.receive()).data), "a2")
          assert.strictEqual(text((yield* b.receive()).data), "b1")
          yield* sender.sendMany([])
          const tooBig = yield* Effect.flip(
            sender.sendMany([{ data: new Uint8Array(70_000), address: a.localAddress }]),
          )
          assert.strictEqual(tooBig._tag, "OperationFailed")
          assert.strictEqual(tooBig._tag === "OperationFailed" ? tooBig.code : "", "EMSGSIZE")
          const badPort = yield* Effect.flip(
            sender.sendMany([{ data: bytes("x"), address: { host: "127.0.0.1", port: 0 } }]),
          )
          assert.strictEqual(badPort._tag, "InvalidArgument")
          // the socket stays usable
          yield* sender.sendTo(bytes("after"), a.localAddress)
          assert.strictEqual(text((yield* a.receive()).data), "after")
        }),
      ),
    )

    it.live.skipIf(env.coalescedWakeups !== true)(
      "a burst arriving while a receiver waits is handed over in one wake-up, not one datagram per wake-up",
      () =>
        run(
          Effect.gen(function* () {
            const server = yield* Udp.bind({ host: "127.0.0.1", queueSize: 1024 })
            const client = yield* Udp.connect({ host: "127.0.0.1", port: portOf(server.localAddress) })
            const waiting = yield* Effect.fork(server.receiveMany(1024))
            yield* settle
            yield* client.sendMany(Array.from({ length: 20 }, (_, i) => bytes(String(i))))
            const batch = yield* Fiber.join(waiting)
            // the runtime delivers each datagram in its own callback; a receiver
            // woken at the first would take one, a receiver woken once per turn takes the burst
            assert.isAbove(batch.length, 1)
            const rest = batch.length === 20 ? [] : Chunk.toArray(yield* server.receiveMany(1024))
            assert.deepStrictEqual(
              [...Chunk.toArray(batch), ...rest].map((d) => text(d.data)),
              Array.from({ length: 20 }, (_, i) => String(i)),
            )
          }),
        ),
    )

    it.live("localhost works without naming a family (bind, connect and sendTo resolve it)", () =>
      run(
        Effect.gen(function* () {
          const server = yield* Udp.bind({ host: "localhost" })
          const port = portOf(server.localAddress)
          const client = yield* Udp.connect({ host: "localhost", port: port })
          assert.strictEqual(client.family, server.family)
          yield* client.send(bytes("a"))
          const d = yield* server.receive()
          yield* server.sendTo(bytes("b"), { host: "localhost", port: d.address.port })
          assert.strictEqual(text(yield* client.receive()), "b")
        }),
      ),
    )

    it.live("names are resolved with the network's resolver (bind, sendTo, connect); unknown names fail typed", () =>
      Effect.gen(function* () {
        const server = yield* Udp.bind({ host: "udp-server.invalid" })
        assert.strictEqual(server.localAddress.host, "127.0.0.1")
        const port = portOf(server.localAddress)
        const client = yield* Udp.bind({ family: "ipv4" })
        yield* client.sendTo(bytes("by name"), { host: "udp-server.invalid", port })
        assert.strictEqual(text((yield* server.receive()).data), "by name")
        const connected = yield* Udp.connect({ host: "udp-server.invalid", port: port })
        assert.deepStrictEqual(connected.remoteAddress, server.localAddress)
        const e1 = yield* Effect.flip(client.sendTo(bytes("x"), { host: "nothing-here.invalid", port }))
        assert.strictEqual(e1._tag, "ResolveFailed")
        const e2 = yield* Effect.flip(Udp.connect({ host: "nothing-here.invalid", port: port }))
        assert.strictEqual(e2._tag, "ResolveFailed")
      }).pipe(
        Effect.provideServiceEffect(
          NetworkTag,
          Effect.map(NetworkTag, (network) => ({
            ...network,
            resolver: Resolver.makeStatic({ "udp-server.invalid": "127.0.0.1" }),
          })),
        ),
        Effect.scoped,
        Effect.provide(env.layer),
      ),
    )

    it.live.skipIf(!env.ipv6)("an IPv6 wildcard endpoint is dual-stack by default; ipv6Only makes it IPv6-only", () =>
      run(
        Effect.gen(function* () {
          const dual = yield* Udp.bind({ family: "ipv6" })
          const port = portOf(dual.localAddress)
          const v4 = yield* Udp.bind({ host: "127.0.0.1" })
          yield* v4.sendTo(bytes("from v4"), { host: "127.0.0.1", port })
          const d = yield* dual.receive()
          assert.strictEqual(text(d.data), "from v4")
          assert.deepStrictEqual(d.address, SocketAddress.ipv6("::ffff:127.0.0.1", portOf(v4.localAddress)))
          // an IPv4 destination is sent v4-mapped
          yield* dual.sendTo(bytes("to v4"), { host: "127.0.0.1", port: portOf(v4.localAddress) })
          assert.strictEqual(text((yield* v4.receive()).data), "to v4")
          // the dual-stack socket holds the IPv4 port too; an IPv6-only one does not
          assert.strictEqual((yield* Effect.flip(Udp.bind({ host: "0.0.0.0", port })))._tag, "ListenFailed")
          const only = yield* Udp.bind({ family: "ipv6", ipv6Only: true })
          yield* Udp.bind({ host: "0.0.0.0", port: portOf(only.localAddress) })
        }),
      ),
    )

    it.live("empty datagrams and datagrams of 65507 bytes keep their boundaries", () =>
      run(
        Effect.gen(function* () {
          const a = yield* Udp.bind({ host: "127.0.0.1" })
          const b = yield* Udp.bind({ host: "127.0.0.1" })
          const big = new Uint8Array(65507).map((_, i) => i % 251)
          yield* b.sendTo(bytes("x"), { host: "127.0.0.1", port: portOf(a.localAddress) })
          yield* b.sendTo(big, { host: "127.0.0.1", port: portOf(a.localAddress) })
          yield* b.sendTo(new Uint8Array(0), { host: "127.0.0.1", port: portOf(a.localAddress) })
          yield* b.sendTo(bytes("y"), { host: "127.0.0.1", port: portOf(a.localAddress) })
          assert.strictEqual(text((yield* a.receive()).data), "x")
          assert.deepStrictEqual((yield* a.receive()).data, big)
          assert.strictEqual((yield* a.receive()).data.length, 0)
          assert.strictEqual(text((yield* a.receive()).data), "y")
        }),
      ),
    )

    it.live("an oversized datagram fails with OperationFailed EMSGSIZE and the endpoint stays usable", () =>
      run(
        Effect.gen(function* () {
          const a = yield* Udp.bind({ host: "127.0.0.1" })
          const b = yield* Udp.bind({ host: "127.0.0.1" })
          const error = yield* Effect.flip(
            b.sendTo(new Uint8Array(70_000), { host: "127.0.0.1", port: portOf(a.localAddress) }),
          )
          assert.strictEqual(error._tag, "OperationFailed")
          if (error._tag === "OperationFailed") assert.strictEqual(error.code, "EMSGSIZE")
          yield* b.sendTo(bytes("still fine"), { host: "127.0.0.1", port: portOf(a.localAddress) })
          assert.strictEqual(text((yield* a.receive()).data), "still fine")
        }),
      ),
    )

    it.live("connected: ICMP port unreachable surfaces once as OperationFailed ECONNREFUSED", () =>
      run(
        Effect.gen(function* () {
          const port = yield* Effect.scoped(Effect.map(Udp.bind({ host: "127.0.0.1" }), (u) => portOf(u.localAddress)))
          const client = yield* Udp.connect({ host: "127.0.0.1", port: port })
          yield* client.send(bytes("anyone?"))
          const error = yield* Effect.flip(client.receive())
          assert.strictEqual(error._tag, "OperationFailed")
          if (error._tag === "OperationFailed") assert.strictEqual(error.code, "ECONNREFUSED")
          // reported once; the socket stays usable: a server on that port now gets the next datagram
          const server = yield* Udp.bind({ host: "127.0.0.1", port })
          yield* client.send(bytes("now?"))
          assert.strictEqual(text((yield* server.receive()).data), "now?")
        }),
      ),
    )

    it.live("unconnected: a datagram to a closed port does not fail later receives", () =>
      run(
        Effect.gen(function* () {
          const dead = yield* Effect.scoped(Effect.map(Udp.bind({ host: "127.0.0.1" }), (u) => portOf(u.localAddress)))
          const udp = yield* Udp.bind({ host: "127.0.0.1" })
          const friend = yield* Udp.bind({ host: "127.0.0.1" })
          yield* udp.sendTo(bytes("void"), { host: "127.0.0.1", port: dead })
          yield* udp.sendTo(bytes("void"), { host: "127.0.0.1", port: dead })
          yield* friend.sendTo(bytes("real"), { host: "127.0.0.1", port: portOf(udp.localAddress) })
          assert.strictEqual(text((yield* udp.receive()).data), "real")
          yield* udp.sendTo(bytes("still"), { host: "127.0.0.1", port: portOf(friend.localAddress) })
          assert.strictEqual(text((yield* friend.receive()).data), "still")
        }),
      ),
    )

    it.live("connected: datagrams from other senders are not received", () =>
      run(
        Effect.gen(function* () {
          const peer = yield* Udp.bind({ host: "127.0.0.1" })
          const stranger = yield* Udp.bind({ host: "127.0.0.1" })
          const client = yield* Udp.connect({ host: "127.0.0.1", port: portOf(peer.localAddress) })
          const clientPort = portOf(client.localAddress)
          yield* stranger.sendTo(bytes("stranger"), { host: "127.0.0.1", port: clientPort })
          yield* peer.sendTo(bytes("peer"), { host: "127.0.0.1", port: clientPort })
          assert.strictEqual(text(yield* client.receive()), "peer")
          assert.strictEqual(yield* client.queued, 0)
        }),
      ),
    )

    it.live("after close: receive, sendTo, send and options fail with ClosedResource; close is idempotent", () =>
      run(
        Effect.gen(function* () {
          const a = yield* Udp.bind({ host: "127.0.0.1" })
          const c = yield* Udp.connect({ host: "127.0.0.1", port: portOf(a.localAddress) })
          yield* a.close
          yield* a.close
          yield* c.close
          for (const e of [
            yield* Effect.flip(a.receive()),
            yield* Effect.flip(a.sendTo(bytes("x"), { host: "127.0.0.1", port: 9 })),
            yield* Effect.flip(c.send(bytes("x"))),
            yield* Effect.flip(c.receive()),
            yield* Effect.flip(a.setBroadcast(true)),
          ])
            assert.strictEqual(e._tag, "ClosedResource")
        }),
      ),
    )

    it.live("a close from another fiber wakes a pending receive with ClosedResource; packets just ends", () =>
      run(
        Effect.gen(function* () {
          const a = yield* Udp.bind({ host: "127.0.0.1" })
          const pending = yield* Effect.fork(Effect.flip(a.receive()))
          yield* settle
          yield* a.close
          assert.strictEqual((yield* Fiber.join(pending))._tag, "ClosedResource")
          const b = yield* Udp.bind({ host: "127.0.0.1" })
          const got = yield* Deferred.make<string>()
          const consumer = yield* Effect.fork(Stream.runForEach(b.packets, (d) => Deferred.succeed(got, text(d.data))))
          yield* b.sendTo(bytes("1"), { host: "127.0.0.1", port: portOf(b.localAddress) })
          assert.strictEqual(yield* Deferred.await(got), "1")
          yield* b.close
          // the Stream ends normally when the endpoint closes
          yield* Fiber.join(consumer)
        }),
      ),
    )

    it.live("a second concurrent receive fails with BusyResource", () =>
      run(
        Effect.gen(function* () {
          const a = yield* Udp.bind({ host: "127.0.0.1" })
          const first = yield* Effect.fork(a.receive())
          yield* settle
          const second = yield* Effect.flip(a.receive())
          assert.strictEqual(second._tag, "BusyResource")
          yield* a.sendTo(bytes("to first"), { host: "127.0.0.1", port: portOf(a.localAddress) })
          assert.strictEqual(text((yield* Fiber.join(first)).data), "to first")
        }),
      ),
    )

    it.live("interrupting receive loses no datagram", () =>
      run(
        Effect.gen(function* () {
          const a = yield* Udp.bind({ host: "127.0.0.1" })
          for (let i = 0; i < 50; i++) {
            const f = yield* Effect.fork(a.receive())
            yield* Effect.yieldNow()
            yield* Fiber.interrupt(f)
          }
          yield* a.sendTo(bytes("kept"), { host: "127.0.0.1", port: portOf(a.localAddress) })
          yield* eventually(() => Effect.runSync(a.queued) === 1, "datagram queued")
          const f = yield* Effect.fork(a.receive())
          const exit = yield* Fiber.interrupt(f)
          const got = exit._tag === "Success" ? [exit.value] : []
          while (Effect.runSync(a.queued) > 0) got.push(yield* a.receive())
          assert.deepStrictEqual(
            got.map((d) => text(d.data)),
            ["kept"],
          )
        }),
      ),
    )

    it.live("a receive cut short by a timeout leaves the receive slot free and the datagram queued", () =>
      run(
        Effect.gen(function* () {
          const a = yield* Udp.bind({ host: "127.0.0.1" })
          assert.isTrue(Option.isNone(yield* Effect.timeout(a.receive(), "20 millis").pipe(Effect.option)))
          yield* a.sendTo(bytes("after"), { host: "127.0.0.1", port: portOf(a.localAddress) })
          assert.strictEqual(text((yield* a.receive()).data), "after")
          // the same from another fiber, while the timed-out one is done
          const f = yield* Effect.fork(Effect.timeout(a.receive(), "20 millis").pipe(Effect.option))
          assert.isTrue(Option.isNone(yield* Fiber.join(f)))
          yield* a.sendTo(bytes("again"), { host: "127.0.0.1", port: portOf(a.localAddress) })
          assert.strictEqual(text(Chunk.unsafeHead(yield* a.receiveMany(8)).data), "again")
        }),
      ),
    )

    it.live("a fiber interrupted in receive can receive again while it unwinds", () =>
      run(
        Effect.gen(function* () {
          const a = yield* Udp.bind({ host: "127.0.0.1" })
          const got = yield* Deferred.make<string, unknown>()
          const f = yield* Effect.fork(
            a
              .receive()
              .pipe(
                Effect.onInterrupt(() =>
                  Effect.flatMap(Effect.either(a.receive()), (r) =>
                    Deferred.succeed(got, r._tag === "Right" ? text(r.right.data) : r.left._tag),
                  ),
                ),
              ),
          )
          yield* settle
          const interrupted = yield* Effect.fork(Fiber.interrupt(f))
          yield* settle
          yield* a.sendTo(bytes("unwinding"), { host: "127.0.0.1", port: portOf(a.localAddress) })
          assert.strictEqual(yield* Deferred.await(got), "unwinding")
          yield* Fiber.join(interrupted)
        }),
      ),
    )

    it.live("sendTo checks the family and the port", () =>
      run(
        Effect.gen(function* () {
          const a = yield* Udp.bind({ host: "127.0.0.1" })
          const e1 = yield* Effect.flip(a.sendTo(bytes("x"), { host: "::1", port: 9 }))
          assert.strictEqual(e1._tag, "InvalidArgument")
          const e2 = yield* Effect.flip(a.sendTo(bytes("x"), { host: "127.0.0.1", port: 0 }))
          assert.strictEqual(e2._tag, "InvalidArgument")
          const e3 = yield* Effect.flip(Udp.bind({ host: "::1", family: "ipv4" }))
          assert.strictEqual(e3._tag, "InvalidArgument")
          const e4 = yield* Effect.flip(Udp.bind({ queueSize: 0 }))
          assert.strictEqual(e4._tag, "InvalidArgument")
          const e5 = yield* Effect.flip(a.setTtl(0))
          assert.strictEqual(e5._tag, "InvalidArgument")
          yield* a.setTtl(64)
        }),
      ),
    )

    it.live("data that is no Uint8Array (plain JavaScript) gives InvalidArgument: send, sendTo, sendMany", () =>
      run(
        Effect.gen(function* () {
          const server = yield* Udp.bind({ host: "127.0.0.1" })
          const to = { host: "127.0.0.1", port: portOf(server.localAddress) }
          const sender = yield* Udp.bind({ host: "127.0.0.1" })
          const client = yield* Udp.connect(to)
          // what the types forbid and a JavaScript caller can pass
          const bad = ["text", null, [1, 2], new ArrayBuffer(2)] as unknown as ReadonlyArray<Uint8Array>
          for (const data of bad) {
            const e1 = yield* Effect.flip(sender.sendTo(data, to))
            assert.strictEqual(e1._tag, "InvalidArgument")
            if (e1._tag === "InvalidArgument") assert.strictEqual(e1.argument, "data")
            assert.strictEqual((yield* Effect.flip(client.send(data)))._tag, "InvalidArgument")
          }
          // a batch: the datagrams before the bad one go, then it fails
          const e2 = yield* Effect.flip(
            sender.sendMany([
              { data: bytes("one"), address: to },
              { data: "two" as unknown as Uint8Array, address: to },
              { data: bytes("three"), address: to },
            ]),
          )
          assert.strictEqual(e2._tag, "InvalidArgument")
          const e3 = yield* Effect.flip(client.sendMany([bytes("four"), "five" as unknown as Uint8Array]))
          assert.strictEqual(e3._tag, "InvalidArgument")
          // nothing but real bytes went, and both endpoints still work
          yield* sender.sendTo(bytes("six"), to)
          yield* client.send(bytes("seven"))
          const got: Array<string> = []
          while (got.length < 4) got.push(text((yield* server.receive()).data))
          assert.deepStrictEqual(got.sort(), ["four", "one", "seven", "six"])
        }),
      ),
    )

    it.live("setMulticastInterface with something that is no address: OperationFailed EINVAL on every runtime", () =>
      run(
        Effect.gen(function* () {
          const a = yield* Udp.bind({ host: "127.0.0.1" })
          for (const address of ["nope", "10.9.9", "256.1.1.1"]) {
            const e = yield* Effect.flip(a.setMulticastInterface(address))
            assert.strictEqual(e._tag, "OperationFailed", address)
            assert.strictEqual(e._tag === "OperationFailed" ? e.code : "", "EINVAL", address)
          }
          // the endpoint stays usable
          const b = yield* Udp.bind({ host: "127.0.0.1" })
          yield* a.sendTo(bytes("still"), b.localAddress)
          assert.strictEqual(text((yield* b.receive()).data), "still")
        }),
      ),
    )

    it.live("binding a port in use fails with ListenFailed EADDRINUSE", () =>
      run(
        Effect.gen(function* () {
          const a = yield* Udp.bind({ host: "127.0.0.1" })
          const error = yield* Effect.flip(Udp.bind({ host: "127.0.0.1", port: portOf(a.localAddress) }))
          assert.strictEqual(error._tag, "ListenFailed")
          if (error._tag === "ListenFailed") assert.strictEqual(error.code, "EADDRINUSE")
        }),
      ),
    )

    if (env.reusePort) {
      it.live("reusePort: two sockets bind the same port", () =>
        run(
          Effect.gen(function* () {
            const a = yield* Udp.bind({ host: "127.0.0.1", reusePort: true })
            const b = yield* Udp.bind({ host: "127.0.0.1", port: portOf(a.localAddress), reusePort: true })
            assert.strictEqual(portOf(b.localAddress), portOf(a.localAddress))
            // the kernel spreads senders over the group by a hash of their address: each
            // datagram reaches exactly one socket, and 32 senders reach both
            for (let i = 0; i < 32; i++) {
              yield* Effect.scoped(
                Effect.tap(Udp.bind({ host: "127.0.0.1" }), (s) =>
                  s.sendTo(bytes(`x${i}`), { host: "127.0.0.1", port: portOf(a.localAddress) }),
                ),
              )
            }
            yield* eventually(
              () => Effect.runSync(a.queued) + Effect.runSync(b.queued) === 32,
              "every datagram reached one of the two",
            )
            assert.isAbove(Effect.runSync(a.queued), 0)
            assert.isAbove(Effect.runSync(b.queued), 0)
          }),
        ),
      )
    } else {
      it.live("reusePort is reported as Unsupported on this runtime", () =>
        run(
          Effect.gen(function* () {
            const error = yield* Effect.flip(Udp.bind({ host: "127.0.0.1", reusePort: true }))
            assert.strictEqual(error._tag, "Unsupported")
          }),
        ),
      )
    }

    it.live(`buffer sizes ${env.bufferSizes ? "are applied" : "are reported as Unsupported"}`, () =>
      run(
        Effect.gen(function* () {
          const exit = yield* Effect.either(
            Udp.bind({ host: "127.0.0.1", receiveBufferSize: 1 << 20, sendBufferSize: 1 << 18 }),
          )
          if (!env.bufferSizes) {
            assert.isTrue(exit._tag === "Left" && exit.left._tag === "Unsupported")
            return
          }
          assert.strictEqual(exit._tag, "Right")
          const fd = exit._tag === "Right" ? exit.right.fd : undefined
          if (fd === undefined || env.kernel === false) return
          // read back from the kernel: above Linux's 212992-byte default (it doubles the
          // asked size, capped by net.core.rmem_max / wmem_max)
          const SOL_SOCKET = 1
          for (const name of [8 /* SO_RCVBUF */, 7 /* SO_SNDBUF */]) {
            const value = yield* Effect.orDie(FdPassing.getSocketOption(fd, SOL_SOCKET, name))
            assert.isAbove(value, 212992, `option ${name}`)
          }
        }),
      ),
    )

    for (const overflow of ["dropNewest", "dropOldest"] as const) {
      it.live(
        `100,000 datagrams to a slow receiver (${overflow}): memory bounded, every loss counted`,
        () =>
          run(
            Effect.gen(function* () {
              const total = 100_000
              const size = 1000
              const queueSize = 64
              /** A separate process floods `port` as fast as it can (Python's socket); waits until all arrived. */
              const flood = (port: number) =>
                Effect.gen(function* () {
                  const sender = yield* python(PY_FLOOD, [String(total), String(size), String(port)])
                  assert.strictEqual(sender.firstLine, `sent ${total}`)
                  // everything the kernel accepted has reached netfx once its queue is empty
                  yield* eventually(() => kernelUdp(port, false)?.rxQueue === 0, "kernel queue drained", 30_000)
                })
              if (env.rss !== undefined && env.kernel !== false)
                // The same flood on a throwaway endpoint first: a runtime's own memory
                // for receiving a flood (V8 grows its young generation with the
                // allocation rate, the allocator keeps freed receive buffers) is not
                // given back after the first one — raw node:dgram grows as much — so
                // the growth measured below is what netfx retains.
                yield* Effect.scoped(
                  Effect.flatMap(Udp.bind({ host: "127.0.0.1", queueSize, overflow }), (u) =>
                    flood(portOf(u.localAddress)),
                  ),
                )
              const rssBefore = env.rss?.()
              const udp = yield* Udp.bind({ host: "127.0.0.1", queueSize, overflow })
              const port = portOf(udp.localAddress)
              let arrived = total
              if (env.kernel !== false) {
                yield* flood(port)
                const kernel = kernelUdp(port, false)
                assert.isDefined(kernel)
                arrived = total - (kernel?.drops ?? 0)
              } else {
                // no kernel in between: every datagram sent reaches the endpoint
                const sender = yield* Udp.bind({ host: "127.0.0.1" })
                for (let i = 0; i < total; i++) {
                  const payload = new Uint8Array(size)
                  new DataView(payload.buffer).setUint32(0, i)
                  yield* sender.sendTo(payload, { host: "127.0.0.1", port })
                }
                yield* eventually(
                  () => Effect.runSync(udp.dropped) + Effect.runSync(udp.queued) === total,
                  "every datagram delivered",
                )
              }
              const dropped = yield* udp.dropped
              const queued = yield* udp.queued
              // the kernel's default buffer alone holds more than 64 such datagrams, so the queue overflowed
              assert.isAbove(arrived, queueSize, "more datagrams arrived than the queue holds")
              assert.strictEqual(queued, queueSize)
              assert.strictEqual(dropped, arrived - queueSize, "every arrived datagram is queued or counted as dropped")
              if (rssBefore !== undefined && env.rss !== undefined) {
                // The runtime warmed up above, so this is about netfx: its queue holds
                // 64 KB; keeping the dropped datagrams (tens of thousands of 1000 bytes
                // reach the socket on loopback) would cost more than this bound.
                const growth = env.rss() - rssBefore
                assert.isBelow(
                  growth,
                  16 * 1024 * 1024,
                  `memory grew by ${growth} bytes for ${total * size} sent (${dropped} dropped)`,
                )
              }
              const seqs: Array<number> = []
              while ((yield* udp.queued) > 0) {
                const d = yield* udp.receive()
                assert.strictEqual(d.data.length, size)
                seqs.push(new DataView(d.data.buffer, d.data.byteOffset).getUint32(0))
              }
              assert.strictEqual(seqs.length, queueSize)
              for (let i = 1; i < seqs.length; i++) assert.isAbove(seqs[i] as number, seqs[i - 1] as number)
              // dropNewest keeps the first arrivals (nothing is lost before the queue fills)
              if (overflow === "dropNewest") assert.strictEqual(seqs[0], 0)
              // dropOldest keeps the last ones: the newest kept is newer than any dropNewest could keep
              else assert.isAbove(seqs[seqs.length - 1] as number, queueSize - 1)
              assert.strictEqual(yield* udp.dropped, dropped)
            }),
          ),
        120_000,
      )
    }

    it.live.skipIf(env.kernel === false)("interop: Python's socket echoes what netfx sends, from its own address", () =>
      run(
        Effect.gen(function* () {
          const echo = yield* python(PY_ECHO)
          const pyPort = Number(echo.firstLine)
          const udp = yield* Udp.bind({ host: "127.0.0.1" })
          yield* udp.sendTo(bytes("netfx"), { host: "127.0.0.1", port: pyPort })
          const d = yield* udp.receive()
          assert.strictEqual(text(d.data), "echo:netfx")
          assert.deepStrictEqual(d.address, SocketAddress.ipv4("127.0.0.1", pyPort))
          const c = yield* Udp.connect({ host: "127.0.0.1", port: pyPort })
          yield* c.send(bytes("connected"))
          assert.strictEqual(text(yield* c.receive()), "echo:connected")
        }),
      ),
    )

    it.live.skipIf(env.kernel === false)(
      "interop: a Python client gets the 'Hello, ' reply from a netfx packets service",
      () =>
        run(
          Effect.gen(function* () {
            const udp = yield* Udp.bind({ host: "127.0.0.1" })
            yield* Effect.forkScoped(
              Stream.runForEach(udp.packets, ({ data, address }) => udp.sendTo(hello(data), address)),
            )
            const client = yield* python(PY_CLIENT, [String(portOf(udp.localAddress))])
            const pyPort = Number(client.firstLine)
            const { code, output } = yield* pythonExit(client)
            assert.strictEqual(code, 0)
            assert.include(output, `Hello, Python ${portOf(udp.localAddress)}`)
            assert.isAbove(pyPort, 0)
          }),
        ),
    )

    it.live.skipIf(env.openFds === undefined)("binding and closing 200 endpoints leaks no descriptor", () =>
      run(
        Effect.gen(function* () {
          const open = env.openFds as () => number
          const before = open()
          for (let i = 0; i < 200; i++) {
            yield* Effect.scoped(Udp.bind({ host: "127.0.0.1" }))
            yield* Effect.scoped(Udp.connect({ host: "127.0.0.1", port: 9 }))
          }
          yield* eventually(() => open() <= before, `descriptors back to ${before}`)
        }),
      ),
    )

    for (const scenario of Object.keys(namespaceScenarios)) {
      const namespace = env.namespace
      if (namespace === undefined) {
        it.skip(`${scenario} in a private network namespace (${env.namespaceSkipReason ?? "no namespace runner"})`, () => {})
        continue
      }
      const where = env.kernel === false ? "in-process on this network" : "in a private network namespace (unshare -n)"
      it.live(`${scenario} ${where}`, () =>
        Effect.gen(function* () {
          const output = yield* namespace(scenario)
          assert.include(output, `PASS ${scenario}`, output)
        }).pipe(Effect.scoped),
      )
    }
  })
}
