import { assert, describe, it } from "@effect/vitest"
import { NetError, Network, Resolver, SocketAddress, Udp } from "@netfx/core"
import type * as Driver from "@netfx/core/Driver"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"

// The endpoint state machine against a scripted driver: no kernel, so every
// datagram, drop, error and option call is exact.

const encoder = new TextEncoder()
const decoder = new TextDecoder()
const peer = SocketAddress.ipv4("192.0.2.7", 4000)

interface Fake {
  handlers: Driver.UdpHandlers | undefined
  request: Driver.UdpBindRequest | undefined
  sent: Array<{ readonly text: string; readonly address: Driver.RawUdpSocket["localAddress"] | undefined }>
  /** Send callbacks not answered yet (when `holdSends`). */
  held: Array<() => void>
  holdSends: boolean
  sendError: string | undefined
  options: Array<Driver.UdpOption>
  closed: number
}

const makeFake = (): { readonly fake: Fake; readonly layer: Layer.Layer<Network.Network> } => {
  const fake: Fake = {
    handlers: undefined,
    request: undefined,
    sent: [],
    held: [],
    holdSends: false,
    sendError: undefined,
    options: [],
    closed: 0,
  }
  const driver: Driver.UdpDriver = {
    bind: (request) =>
      Effect.sync(() => {
        fake.handlers = request.handlers
        fake.request = request
        const raw: Driver.RawUdpSocket = {
          localAddress: { ...request.address, port: request.address.port || 5000 },
          remoteAddress: request.connect,
          fd: undefined,
          send: (data, address, callback) => {
            const done = () => {
              if (fake.sendError !== undefined) return callback({ code: fake.sendError, cause: undefined })
              fake.sent.push({ text: decoder.decode(data), address })
              callback(undefined)
            }
            if (fake.holdSends) fake.held.push(done)
            else done()
          },
          setOption: (option) => {
            fake.options.push(option)
            return undefined
          },
          close: () => {
            fake.closed++
          },
        }
        return raw
      }),
  }
  const layer = Layer.succeed(Network.Network, {
    runtime: "fake",
    resolver: Resolver.makeStatic({ "peer.invalid": "192.0.2.7" }),
    udp: driver,
  })
  return { fake, layer }
}

const deliver = (fake: Fake, ...texts: ReadonlyArray<string>) => {
  for (const t of texts) fake.handlers?.onMessage(encoder.encode(t), peer)
}

const drain = (endpoint: Udp.UdpSocket) =>
  Effect.gen(function* () {
    const out: Array<string> = []
    while ((yield* endpoint.queued) > 0) out.push(decoder.decode((yield* endpoint.receive()).data))
    return out
  })

describe("Udp endpoint state machine", () => {
  it.effect("dropNewest keeps the first queueSize datagrams and counts the rest", () => {
    const { fake, layer } = makeFake()
    return Effect.gen(function* () {
      const udp = yield* Udp.bind({ queueSize: 3 })
      assert.strictEqual(fake.request?.address.host, "0.0.0.0")
      deliver(fake, "1", "2", "3", "4", "5")
      assert.strictEqual(yield* udp.dropped, 2)
      assert.deepStrictEqual(yield* drain(udp), ["1", "2", "3"])
      deliver(fake, "6")
      assert.deepStrictEqual(yield* drain(udp), ["6"])
      assert.strictEqual(yield* udp.dropped, 2)
    }).pipe(Effect.scoped, Effect.provide(layer))
  })

  it.effect("dropOldest keeps the last queueSize datagrams and counts the rest", () => {
    const { fake, layer } = makeFake()
    return Effect.gen(function* () {
      const udp = yield* Udp.bind({ queueSize: 3, overflow: "dropOldest" })
      deliver(fake, "1", "2", "3", "4", "5", "6", "7")
      assert.strictEqual(yield* udp.dropped, 4)
      assert.deepStrictEqual(yield* drain(udp), ["5", "6", "7"])
    }).pipe(Effect.scoped, Effect.provide(layer))
  })

  it.effect("an unknown overflow policy and a zero queue are InvalidArgument", () => {
    const { layer } = makeFake()
    return Effect.gen(function* () {
      const e1 = yield* Effect.flip(Udp.bind({ overflow: "dropAll" as Udp.OverflowPolicy }))
      assert.strictEqual(e1._tag, "InvalidArgument")
      const e2 = yield* Effect.flip(Udp.bind({ queueSize: 0 }))
      assert.strictEqual(e2._tag, "InvalidArgument")
    }).pipe(Effect.scoped, Effect.provide(layer))
  })

  it.effect("an asynchronous error is reported once, after the datagrams queued before it", () => {
    const { fake, layer } = makeFake()
    return Effect.gen(function* () {
      const c = yield* Udp.connect({ host: "peer.invalid", port: 4000 })
      assert.deepStrictEqual(c.remoteAddress, SocketAddress.ipv4("192.0.2.7", 4000))
      deliver(fake, "before")
      fake.handlers?.onError({ code: "ECONNREFUSED", syscall: "recvmsg", cause: undefined })
      assert.strictEqual(decoder.decode(yield* c.receive()), "before")
      const error = yield* Effect.flip(c.receive())
      assert.isTrue(error._tag === "OperationFailed" && error.code === "ECONNREFUSED")
      // once only: the next receive waits for data
      const next = yield* Effect.fork(c.receive())
      deliver(fake, "after")
      assert.strictEqual(decoder.decode(yield* Fiber.join(next)), "after")
      // a pending error not taken by receive fails the next send, which then sends nothing
      fake.handlers?.onError({ code: "ECONNREFUSED", syscall: "recvmsg", cause: undefined })
      const sendError = yield* Effect.flip(c.send(encoder.encode("lost")))
      assert.isTrue(sendError._tag === "OperationFailed" && sendError.code === "ECONNREFUSED")
      yield* c.send(encoder.encode("sent"))
      assert.deepStrictEqual(
        fake.sent.map((s) => s.text),
        ["sent"],
      )
    }).pipe(Effect.scoped, Effect.provide(layer))
  })

  it.effect("a send refused by the platform is OperationFailed with its code; the endpoint stays usable", () => {
    const { fake, layer } = makeFake()
    return Effect.gen(function* () {
      const udp = yield* Udp.bind({ host: "127.0.0.1" })
      fake.sendError = "EMSGSIZE"
      const error = yield* Effect.flip(udp.sendTo(encoder.encode("big"), { host: "127.0.0.1", port: 9 }))
      assert.isTrue(error._tag === "OperationFailed" && error.code === "EMSGSIZE")
      fake.sendError = undefined
      yield* udp.sendTo(encoder.encode("ok"), { host: "peer.invalid", port: 9 })
      assert.deepStrictEqual(fake.sent, [{ text: "ok", address: SocketAddress.ipv4("192.0.2.7", 9) }])
    }).pipe(Effect.scoped, Effect.provide(layer))
  })

  it.effect("close fails a send the platform still holds with ClosedResource", () => {
    const { fake, layer } = makeFake()
    return Effect.gen(function* () {
      const udp = yield* Udp.bind({ host: "127.0.0.1" })
      fake.holdSends = true
      const sending = yield* Effect.fork(udp.sendTo(encoder.encode("held"), { host: "127.0.0.1", port: 9 }))
      yield* Effect.yieldNow()
      assert.strictEqual(fake.held.length, 1)
      yield* udp.close
      const error = yield* Effect.flip(Fiber.join(sending))
      assert.strictEqual(error._tag, "ClosedResource")
      // a late completion is ignored
      for (const done of fake.held) done()
      assert.strictEqual(fake.closed, 1)
    }).pipe(Effect.scoped, Effect.provide(layer))
  })

  it.effect("an IPv4 destination on an IPv6 endpoint is sent v4-mapped", () => {
    const { fake, layer } = makeFake()
    return Effect.gen(function* () {
      const udp = yield* Udp.bind({ family: "ipv6" })
      assert.strictEqual(fake.request?.address.host, "::")
      yield* udp.sendTo(encoder.encode("x"), { host: "192.0.2.7", port: 9 })
      assert.deepStrictEqual(fake.sent[0]?.address, SocketAddress.ipv6("::ffff:192.0.2.7", 9))
    }).pipe(Effect.scoped, Effect.provide(layer))
  })

  it.effect("a multicast membership is left when its Scope closes, not after the endpoint closed", () => {
    const { fake, layer } = makeFake()
    return Effect.gen(function* () {
      const udp = yield* Udp.bind()
      yield* Effect.scoped(udp.joinMulticastGroup({ group: "239.1.2.3", interface: "10.0.0.1" }))
      assert.deepStrictEqual(
        fake.options.map((o) => o._tag),
        ["JoinGroup", "LeaveGroup"],
      )
      yield* Effect.scoped(
        Effect.gen(function* () {
          yield* udp.joinMulticastGroup({ group: "232.1.1.1", source: "10.0.0.9" })
          yield* udp.close
        }),
      )
      assert.deepStrictEqual(
        fake.options.map((o) => o._tag),
        ["JoinGroup", "LeaveGroup", "JoinGroup"],
      )
      const bad = yield* Effect.flip(Effect.scoped(udp.joinMulticastGroup({ group: "10.0.0.1" })))
      assert.strictEqual(bad._tag, "InvalidArgument")
    }).pipe(Effect.scoped, Effect.provide(layer))
  })

  it.effect("closing the Scope closes the socket once", () => {
    const { fake, layer } = makeFake()
    return Effect.gen(function* () {
      yield* Effect.scoped(Udp.bind())
      assert.strictEqual(fake.closed, 1)
    }).pipe(Effect.provide(layer))
  })

  it.effect("a runtime without a UDP driver fails with Unsupported", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(Udp.bind())
      assert.strictEqual(error._tag, "Unsupported")
      assert.instanceOf(error, NetError.Unsupported)
    }).pipe(
      Effect.scoped,
      Effect.provide(Layer.succeed(Network.Network, { runtime: "none", resolver: Resolver.makeStatic({}) })),
    ),
  )

  it("isMulticast", () => {
    assert.isTrue(Udp.isMulticast("224.0.0.1"))
    assert.isTrue(Udp.isMulticast("239.255.255.250"))
    assert.isTrue(Udp.isMulticast("ff02::1"))
    assert.isFalse(Udp.isMulticast("223.255.255.255"))
    assert.isFalse(Udp.isMulticast("240.0.0.1"))
    assert.isFalse(Udp.isMulticast("fe80::1"))
    assert.isFalse(Udp.isMulticast("example.invalid"))
  })
})
