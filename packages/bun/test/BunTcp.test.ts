/**
 * What is specific to Bun's sockets, beyond the shared contract: partial
 * writes (Bun's `write` is unbuffered), the half-close with `shutdown()`,
 * close flushing accepted bytes, socket options read back from the
 * descriptor, `reusePort`, local binding.
 */
import { createRequire } from "node:module"
import { assert, describe, it } from "@effect/vitest"
import { BunNetwork } from "@netfx/bun"
import { Attribute, SocketAddress, Tcp } from "@netfx/core"
import type * as Driver from "@netfx/core/Driver"
import { bytes, portOf, readAll, text } from "@netfx/core/testing"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"

const run = <A, E>(effect: Effect.Effect<A, E, Scope.Scope | import("@netfx/core").Network.Network>) =>
  effect.pipe(Effect.scoped, Effect.provide(BunNetwork.layer))

/** 0, 1, 2 ... 250, 0, 1 ...: a pattern where a lost or reordered chunk shows. */
const pattern = (size: number) => Uint8Array.from({ length: size }, (_, i) => i % 251)

const samePattern = (data: Uint8Array): boolean => {
  for (let i = 0; i < data.length; i++) if (data[i] !== i % 251) return false
  return true
}

/** getsockopt(2) through bun:ffi, to read back what the driver set on the descriptor. */
const getsockopt = (() => {
  const ffi = createRequire(import.meta.url)("bun:ffi") as typeof import("bun:ffi")
  const lib = ffi.dlopen("libc.so.6", {
    getsockopt: {
      args: [ffi.FFIType.i32, ffi.FFIType.i32, ffi.FFIType.i32, ffi.FFIType.ptr, ffi.FFIType.ptr],
      returns: ffi.FFIType.i32,
    },
  })
  return (fd: number, level: number, name: number): number => {
    const value = new Int32Array(1)
    const length = new Uint32Array([4])
    const rc = lib.symbols.getsockopt(fd, level, name, value, length)
    if (rc !== 0) throw new Error(`getsockopt(${fd}, ${level}, ${name}) failed`)
    return value[0] as number
  }
})()
const IPPROTO_TCP = 6
const TCP_NODELAY = 1
const SOL_SOCKET = 1
const SO_KEEPALIVE = 9

const driver = () => {
  const tcp = BunNetwork.make().tcp
  if (tcp === undefined) throw new Error("BunNetwork provides no TCP driver")
  return tcp
}

/** Handlers that count `size` bytes of `pattern`; `all` is done once they arrived (or the connection closed). */
const collector = (size: number) =>
  Effect.map(Deferred.make<void>(), (all) => {
    let received = 0
    let inOrder = true
    const handlers: Driver.ConnectionHandlers = {
      onData: (chunk) => {
        for (let i = 0; i < chunk.length && inOrder; i++) inOrder = chunk[i] === (received + i) % 251
        received += chunk.length
        if (received >= size) Deferred.unsafeDone(all, Effect.void)
      },
      onEnd: () => {},
      onError: (e) => Deferred.unsafeDone(all, Effect.die(e)),
      onDrain: () => {},
      onClose: () => Deferred.unsafeDone(all, Effect.void),
    }
    return { all, handlers, received: () => received, inOrder: () => inOrder }
  })

/** Handlers that ignore everything but `onDrain`, which completes `drained`. */
const drainOnly = (drained: Deferred.Deferred<void>): Driver.ConnectionHandlers => ({
  onData: () => {},
  onEnd: () => {},
  onError: () => {},
  onDrain: () => Deferred.unsafeDone(drained, Effect.void),
  onClose: () => {},
})

/** Through the driver: a listener and a connected client; the accepted end arrives in `accepted`. */
const driverPair = Effect.gen(function* () {
  const tcp = driver()
  const raw = yield* tcp.listen({
    address: SocketAddress.ipv4("127.0.0.1", 0),
    backlog: 16,
    reusePort: false,
    ipv6Only: false,
    noDelay: true,
  })
  const accepted = yield* Deferred.make<Driver.RawConnection>()
  raw.start({
    onConnection: (c) => Deferred.unsafeDone(accepted, Effect.succeed(c)),
    onError: () => {},
  })
  const client = yield* tcp.connect({
    address: SocketAddress.ipv4("127.0.0.1", portOf(raw.address)),
    noDelay: true,
    keepAlive: false,
    keepAliveInitialDelay: 0,
  })
  return { client, accepted }
})

describe("BunNetwork TCP specifics", () => {
  it("runs on Bun", () => {
    assert.isDefined((globalThis as { Bun?: unknown }).Bun)
    assert.strictEqual(BunNetwork.make().runtime, "bun")
  })

  it.live("a partial write makes write answer false, the rest is flushed on drain, byte-exact", () =>
    Effect.gen(function* () {
      const { client, accepted } = yield* driverPair
      const drained = yield* Deferred.make<void>()
      client.start(drainOnly(drained))
      const server = yield* Deferred.await(accepted)
      // the server has not started reading: far more than the kernel buffers hold
      const size = 32 * 1024 * 1024
      const data = pattern(size)
      assert.isFalse(client.write(data.subarray(0, size / 2)), "a 16 MiB write cannot go through at once")
      assert.isFalse(client.write(data.subarray(size / 2)), "write answers false while bytes are pending")
      const sink = yield* collector(size)
      server.start(sink.handlers)
      yield* Deferred.await(drained)
      yield* Deferred.await(sink.all)
      assert.strictEqual(sink.received(), size)
      assert.isTrue(sink.inOrder(), "bytes arrive complete and in order")
      client.close()
      server.close()
    }).pipe(Effect.scoped),
  )

  it.live(
    "a connection core has not started stops reading (client end): the peer's writes back up, nothing is lost",
    () =>
      Effect.gen(function* () {
        // connected, and deliberately not started
        const { client, accepted } = yield* driverPair
        const server = yield* Deferred.await(accepted)
        const drained = yield* Deferred.make<void>()
        server.start(drainOnly(drained))
        // far more than the kernel's buffers hold
        const size = 32 * 1024 * 1024
        assert.isFalse(server.write(pattern(size)), "a 32 MiB write cannot go through at once")
        // an unpaused client would read it all into memory and let the server drain
        const early = yield* Deferred.await(drained).pipe(Effect.timeoutOption("500 millis"))
        assert.isTrue(Option.isNone(early), "the server's write stays backed up while the client is not started")
        const sink = yield* collector(size)
        client.start(sink.handlers)
        // what start replays was read before it: at most one read of Bun's (512 KiB)
        assert.isAtMost(sink.received(), 512 * 1024, "the unstarted client held at most one read")
        yield* Deferred.await(sink.all)
        yield* Deferred.await(drained)
        assert.strictEqual(sink.received(), size)
        assert.isTrue(sink.inOrder(), "bytes arrive complete and in order")
        client.close()
        server.close()
      }).pipe(Effect.scoped),
  )

  it.live("sendEof after a large send: every byte arrives before the FIN, and the fd stays readable", () =>
    run(
      Effect.gen(function* () {
        const size = 8 * 1024 * 1024
        const listener = yield* Tcp.listen({ host: "127.0.0.1", port: 0 })
        const got = yield* Deferred.make<Uint8Array>()
        yield* Effect.forkScoped(
          listener.serve((c) =>
            Effect.gen(function* () {
              const all = yield* readAll(c)
              yield* Deferred.succeed(got, all)
              // the client half-closed; it still reads what we send now
              yield* c.send(bytes(`got ${all.length}`))
              yield* c.sendEof
            }),
          ),
        )
        const conn = yield* Tcp.connect({ host: "127.0.0.1", port: portOf(listener.address) })
        yield* conn.send(pattern(size))
        yield* conn.sendEof
        const all = yield* Deferred.await(got)
        assert.strictEqual(all.length, size)
        assert.isTrue(samePattern(all))
        assert.strictEqual(text(yield* readAll(conn)), `got ${size}`)
      }),
    ),
  )

  it.live("close flushes what send already accepted before closing the descriptor", () =>
    run(
      Effect.gen(function* () {
        const size = 8 * 1024 * 1024
        const listener = yield* Tcp.listen({ host: "127.0.0.1", port: 0 })
        const got = yield* Deferred.make<Uint8Array>()
        yield* Effect.forkScoped(listener.serve((c) => Effect.flatMap(readAll(c), (all) => Deferred.succeed(got, all))))
        yield* Effect.scoped(
          Effect.gen(function* () {
            const conn = yield* Tcp.connect({ host: "127.0.0.1", port: portOf(listener.address) })
            yield* conn.send(pattern(size))
            yield* conn.close
            yield* conn.close // idempotent
          }),
        )
        const all = yield* Deferred.await(got)
        assert.strictEqual(all.length, size)
        assert.isTrue(samePattern(all))
      }),
    ),
  )

  it.live("BunNetwork.NativeSocket is the connection's Bun.Socket; Attribute.NativeHandle the same object", () =>
    run(
      Effect.gen(function* () {
        const listener = yield* Tcp.listen({ host: "127.0.0.1", port: 0 })
        const port = portOf(listener.address)
        const client = yield* Tcp.connect({ host: "127.0.0.1", port, keepAlive: "5 seconds" })
        const server = yield* listener.accept
        const socket = Option.getOrThrow(client.attribute(BunNetwork.NativeSocket))
        assert.strictEqual(socket.remotePort, port)
        assert.strictEqual(Option.getOrThrow(client.attribute(Attribute.NativeHandle)), socket)
        assert.notStrictEqual(getsockopt(client.fd as number, SOL_SOCKET, SO_KEEPALIVE), 0)
        assert.isTrue(Option.isSome(server.attribute(BunNetwork.NativeSocket)))
        // several small parts and a large one, in order
        const body = new Uint8Array(64 * 1024).fill(0x62)
        yield* client.send([bytes("a"), bytes("bc"), body, bytes("d"), bytes("e")])
        yield* client.sendEof
        const all = yield* readAll(server)
        assert.strictEqual(all.length, 3 + body.length + 2)
        assert.strictEqual(text(all.subarray(0, 3)), "abc")
        assert.isTrue(all.subarray(3, 3 + body.length).every((b) => b === 0x62))
        assert.strictEqual(text(all.subarray(3 + body.length)), "de")
      }),
    ),
  )

  it.live("descriptors are exposed; TCP_NODELAY is on by default on both ends, keepAlive sets SO_KEEPALIVE", () =>
    run(
      Effect.gen(function* () {
        const listener = yield* Tcp.listen({ host: "127.0.0.1", port: 0 })
        const port = portOf(listener.address)
        const client = yield* Tcp.connect({ host: "127.0.0.1", port })
        const server = yield* listener.accept
        for (const c of [client, server]) {
          assert.isNumber(c.fd)
          assert.notStrictEqual(getsockopt(c.fd as number, IPPROTO_TCP, TCP_NODELAY), 0)
          assert.strictEqual(getsockopt(c.fd as number, SOL_SOCKET, SO_KEEPALIVE), 0)
        }
        const plain = yield* Tcp.connect({ host: "127.0.0.1", port, noDelay: false, keepAlive: 5000 })
        yield* listener.accept
        assert.strictEqual(getsockopt(plain.fd as number, IPPROTO_TCP, TCP_NODELAY), 0)
        assert.notStrictEqual(getsockopt(plain.fd as number, SOL_SOCKET, SO_KEEPALIVE), 0)
        const noDelayOff = yield* Tcp.listen({ host: "127.0.0.1", port: 0, noDelay: false })
        yield* Tcp.connect({ host: "127.0.0.1", port: portOf(noDelayOff.address) })
        const acceptedPlain = yield* noDelayOff.accept
        assert.strictEqual(getsockopt(acceptedPlain.fd as number, IPPROTO_TCP, TCP_NODELAY), 0)
      }),
    ),
  )

  it.live("localHost and localPort bind the local end of a connect", () =>
    run(
      Effect.gen(function* () {
        const listener = yield* Tcp.listen({ host: "127.0.0.1", port: 0 })
        // a port that was free a moment ago (loopback only)
        const localPort = yield* Effect.scoped(
          Effect.map(Tcp.listen({ host: "127.0.0.1", port: 0 }), (l) => portOf(l.address)),
        )
        const client = yield* Tcp.connect({
          host: "127.0.0.1",
          port: portOf(listener.address),
          localHost: "127.0.0.1",
          localPort,
        })
        const server = yield* listener.accept
        assert.deepStrictEqual(client.localAddress, SocketAddress.ipv4("127.0.0.1", localPort))
        assert.deepStrictEqual(server.remoteAddress, SocketAddress.ipv4("127.0.0.1", localPort))
      }),
    ),
  )

  // the adapter takes a client's peer and a listener's local end from what it
  // knows instead of asking the socket: both ends must still read the truth
  it.live("both ends report their addresses, behind a wildcard listener too", () =>
    run(
      Effect.gen(function* () {
        for (const host of ["127.0.0.1", "0.0.0.0"]) {
          const listener = yield* Tcp.listen({ host, port: 0 })
          const port = portOf(listener.address)
          const client = yield* Tcp.connect({ host: "127.0.0.1", port })
          const server = yield* listener.accept
          assert.deepStrictEqual(client.remoteAddress, SocketAddress.ipv4("127.0.0.1", port))
          assert.deepStrictEqual(server.localAddress, SocketAddress.ipv4("127.0.0.1", port))
          assert.deepStrictEqual(server.remoteAddress, client.localAddress)
          assert.deepStrictEqual(client.remoteAddress, server.localAddress)
        }
      }),
    ),
  )
})
