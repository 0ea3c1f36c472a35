import { assert, describe, it } from "@effect/vitest"
import { FdPassing, MemoryNetwork, RawSocket, SocketAddress, Tcp, Unix, UnixDatagram } from "@netfx/core"
import { nativeContract, readAll } from "@netfx/core/testing"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Scope from "effect/Scope"
import * as TestClock from "effect/TestClock"
import { trackedMemory } from "./support/memory.ts"

// Unix datagram sockets and fd passing run on the memory network's virtual
// kernel: the same contract as on Node and Bun, minus Python interop, socket
// files on disk and passing TCP descriptors (memory TCP sockets have none).
const tracked = trackedMemory()
nativeContract({
  name: "memory",
  layer: tracked.layer,
  kernel: false,
  openFds: tracked.openFds,
  openFile: (contents) => Effect.suspend(() => tracked.control().openFile(contents)),
})

const encoder = new TextEncoder()
const decoder = new TextDecoder()

describe("MemoryNetwork virtual kernel", () => {
  it.effect("Unix datagrams and fd passing need no real time (TestClock) and show in the observability", () =>
    Effect.gen(function* () {
      const fiber = yield* Effect.fork(
        Effect.gen(function* () {
          const control = yield* MemoryNetwork.Control
          const server = yield* UnixDatagram.bind({ path: "/run/app.sock" })
          const client = yield* UnixDatagram.connect({ path: "/run/app.sock", localPath: "/run/client.sock" })
          yield* client.send(encoder.encode("ping"))
          const packet = yield* server.receive()
          assert.strictEqual(decoder.decode(packet.data), "ping")
          assert.deepStrictEqual(packet.address, SocketAddress.unixPath("/run/client.sock"))
          const listeners = yield* control.listeners
          assert.deepStrictEqual(
            listeners.filter((l) => l.transport === "unixDatagram").map((l) => SocketAddress.format(l.address)),
            ["/run/app.sock", "/run/client.sock"],
          )
          // a file handed from one end of a socket pair to the other
          const [a, b] = yield* FdPassing.socketpair()
          const fd = yield* control.openFile("config contents")
          yield* a.sendFds(encoder.encode("here"), [fd])
          const got = yield* b.receiveFds(16, 1)
          const handle = yield* FdPassing.toFileHandle(yield* (got.fds[0] as FdPassing.ReceivedFd).take)
          assert.strictEqual(decoder.decode(yield* handle.readAll), "config contents")
          // the received copy is a different descriptor for the same file
          assert.notStrictEqual(handle.fd, fd)
          const stats = yield* control.stats
          assert.strictEqual(stats.datagramsSent, 1)
          assert.strictEqual(stats.datagramsDelivered, 1)
          return yield* control.descriptors
        }).pipe(Effect.scoped, Effect.provide(MemoryNetwork.layer())),
      )
      // nothing sleeps: the fiber completes without the clock moving
      yield* TestClock.adjust(0)
      const open = yield* Fiber.join(fiber)
      // two datagram sockets, the pair, the file and its received copy
      assert.strictEqual(open, 6)
    }),
  )

  it.effect("a passed fd-passing stream is adopted as a byte stream; the sender's copy can close", () =>
    Effect.gen(function* () {
      const [a, b] = yield* FdPassing.socketpair()
      const [c, d] = yield* FdPassing.socketpair()
      yield* a.sendFds(encoder.encode("s"), [c.fd])
      yield* c.close
      const got = yield* b.receiveFds(8, 1)
      const stream = yield* FdPassing.toByteStream(yield* (got.fds[0] as FdPassing.ReceivedFd).take)
      yield* stream.send(encoder.encode("through the passed socket"))
      yield* stream.sendEof
      let text = ""
      while (true) {
        const chunk = yield* Effect.catchTag(d.receive(), "EndOfStream", () => Effect.succeed(undefined))
        if (chunk === undefined) break
        text += decoder.decode(chunk)
      }
      assert.strictEqual(text, "through the passed socket")
      yield* d.send(encoder.encode("back"))
      assert.strictEqual(decoder.decode(yield* stream.receive()), "back")
      yield* d.close
      assert.strictEqual((yield* Effect.flip(stream.receive()))._tag, "EndOfStream")
    }).pipe(Effect.scoped, Effect.provide(MemoryNetwork.layer())),
  )

  it.effect("passing a descriptor that is not open is EBADF; closed files are gone for the receiver only", () =>
    Effect.gen(function* () {
      const control = yield* MemoryNetwork.Control
      const [a, b] = yield* FdPassing.socketpair()
      const bad = yield* Effect.flip(a.sendFds(encoder.encode("x"), [99999]))
      assert.strictEqual(bad._tag === "BrokenResource" ? bad.code : bad._tag, "EBADF")
      // the socket stays usable
      const before = yield* control.descriptors
      yield* Effect.scoped(
        Effect.gen(function* () {
          const fd = yield* control.openFile("x")
          yield* a.sendFds(encoder.encode("y"), [fd])
        }),
      )
      // the sender's descriptor closed with its scope; the in-flight copy keeps the file
      assert.strictEqual(yield* control.descriptors, before)
      const got = yield* Effect.scoped(
        Effect.gen(function* () {
          const r = yield* b.receiveFds(8, 1)
          assert.strictEqual(yield* control.descriptors, before + 1)
          return r
        }),
      )
      assert.strictEqual(decoder.decode(got.message), "y")
      // not taken: closed with the receive's scope
      assert.strictEqual(yield* control.descriptors, before)
    }).pipe(Effect.scoped, Effect.provide(MemoryNetwork.layer())),
  )

  it.effect("Unix streams and fd-passing streams reach each other's listeners, as on a real system", () =>
    Effect.gen(function* () {
      // FdPassing client -> Unix.listen listener
      const listener = yield* Unix.listen({ path: "/run/stream.sock" })
      const client = yield* FdPassing.connect({ path: "/run/stream.sock" })
      const server = yield* listener.accept
      assert.deepStrictEqual(server.localAddress, SocketAddress.unixPath("/run/stream.sock"))
      yield* client.send(encoder.encode("from fd-passing"))
      yield* client.sendEof
      assert.strictEqual(decoder.decode(yield* readAll(server)), "from fd-passing")
      yield* server.send(encoder.encode("reply"))
      assert.strictEqual(decoder.decode(yield* client.receive()), "reply")
      // Unix.connect -> FdPassing listener; the byte stream's descriptor can be passed on
      const fdListener = yield* FdPassing.listen({ path: "/run/fd.sock" })
      const unixClient = yield* Unix.connect({ path: "/run/fd.sock" })
      const fdServer = yield* fdListener.accept
      yield* unixClient.send(encoder.encode("from unix"))
      assert.strictEqual(decoder.decode(yield* fdServer.receive()), "from unix")
      const [a, b] = yield* FdPassing.socketpair()
      yield* a.sendFds(encoder.encode("conn"), [unixClient.fd as number])
      yield* unixClient.close
      const got = yield* b.receiveFds(8, 1)
      const adopted = yield* FdPassing.toByteStream(yield* (got.fds[0] as FdPassing.ReceivedFd).take)
      yield* adopted.send(encoder.encode("via the passed descriptor"))
      assert.strictEqual(decoder.decode(yield* fdServer.receive()), "via the passed descriptor")
      // nobody at a path: the same errors for both kinds
      const e = yield* Effect.flip(Effect.scoped(Unix.connect({ path: "/run/none.sock" })))
      assert.strictEqual(e._tag === "ConnectFailed" ? e.attempts[0]?.code : e._tag, "ENOENT")
    }).pipe(Effect.scoped, Effect.provide(MemoryNetwork.layer())),
  )

  it.effect("Unix datagrams meet the faults of the `unix` host: latency exact under TestClock, seeded loss", () =>
    Effect.gen(function* () {
      const run = Effect.gen(function* () {
        const control = yield* MemoryNetwork.Control
        const server = yield* UnixDatagram.bind({ path: "/run/log.sock" })
        const client = yield* UnixDatagram.connect({ path: "/run/log.sock" })
        yield* control.addLink({ from: "unix", faults: { latency: "20 millis", loss: 0.3 } })
        const start = yield* Clock.currentTimeMillis
        const sender = yield* Effect.fork(
          Effect.forEach(
            Array.from({ length: 40 }, (_, i) => i),
            (i) => client.send(Uint8Array.of(i)),
            {
              discard: true,
            },
          ),
        )
        const got: Array<number> = []
        const arrivals: Array<number> = []
        yield* Effect.forkScoped(
          Effect.forever(
            Effect.gen(function* () {
              const p = yield* server.receive()
              got.push(p.data[0] as number)
              arrivals.push((yield* Clock.currentTimeMillis) - start)
            }),
          ),
        )
        yield* Fiber.join(sender)
        yield* Effect.sleep("1 second")
        return { got, arrivals, stats: yield* control.stats }
      }).pipe(Effect.scoped, Effect.provide(MemoryNetwork.layer({ seed: 7 })))
      const twice = yield* Effect.fork(Effect.all([run, run]))
      yield* TestClock.adjust("10 seconds")
      const [a, b] = yield* Fiber.join(twice)
      // the same seed, the same datagrams
      assert.deepStrictEqual(a, b)
      assert.isAbove(a.stats.datagramsDropped, 0)
      assert.strictEqual(a.got.length, 40 - a.stats.datagramsDropped)
      // in order, each one exactly 20 ms (a multiple: the queue of 10 paces the sender) after the start
      assert.deepStrictEqual(
        a.got,
        [...a.got].sort((x, y) => x - y),
      )
      for (const t of a.arrivals) assert.strictEqual(t % 20, 0)
    }),
  )

  it.effect(
    "a memory TCP connection ends with its last descriptor: passed, never taken, closed with the receiver's scope",
    () =>
      Effect.gen(function* () {
        const listener = yield* Tcp.listen({ host: "127.0.0.1", port: 0 })
        const client = yield* Tcp.connect({ host: "127.0.0.1", port: (listener.address as SocketAddress.Ipv4).port })
        const server = yield* listener.accept
        const [a, b] = yield* FdPassing.socketpair()
        yield* a.sendFds(encoder.encode("tcp"), [client.fd as number])
        // our copy goes; the one in flight keeps the connection open
        yield* client.close
        yield* server.send(encoder.encode("still there"))
        yield* Effect.scoped(
          Effect.gen(function* () {
            const got = yield* b.receiveFds(8, 1)
            assert.strictEqual(got.fds.length, 1)
          }),
        )
        // the received descriptor was never taken: closed with its scope, the connection ended
        // (with unread bytes in its queue: a reset, as a kernel does)
        const error = yield* Effect.flip(Effect.forever(server.receive()))
        assert.strictEqual(error._tag === "BrokenResource" ? error.code : error._tag, "ECONNRESET")
      }).pipe(Effect.scoped, Effect.provide(MemoryNetwork.layer())),
  )

  it.effect("RawSocket on the memory network: Unix sockets of both types; IP families are EAFNOSUPPORT", () =>
    Effect.gen(function* () {
      const ip = yield* Effect.flip(RawSocket.socket({ family: "ipv4", type: "stream" }))
      assert.strictEqual(ip._tag === "OperationFailed" ? ip.code : ip._tag, "EAFNOSUPPORT")
      // a stream listener, a client, isReadable, EndOfStream
      const listener = yield* RawSocket.socket({ family: "unix", type: "stream" })
      yield* listener.bind(SocketAddress.unixPath("/run/raw.sock"))
      yield* listener.listen()
      assert.strictEqual(
        yield* listener.getOption(RawSocket.constants.SOL_SOCKET, RawSocket.constants.SO_ACCEPTCONN),
        1,
      )
      const client = yield* RawSocket.socket({ family: "unix", type: "stream" })
      yield* client.connect(SocketAddress.unixPath("/run/raw.sock"))
      const { socket: server } = yield* listener.accept
      assert.deepStrictEqual(yield* server.localAddress, SocketAddress.unixPath("/run/raw.sock"))
      assert.isFalse(yield* server.isReadable)
      yield* client.send(encoder.encode("raw"))
      yield* client.shutdown("write")
      assert.strictEqual(decoder.decode(yield* server.receive()), "raw")
      assert.strictEqual((yield* Effect.flip(server.receive()))._tag, "EndOfStream")
      // datagrams with the sender's address
      const a = yield* RawSocket.socket({ family: "unix", type: "dgram" })
      yield* a.bind(SocketAddress.unixPath("/run/a.sock"))
      const b = yield* RawSocket.socket({ family: "unix", type: "dgram" })
      yield* b.bind(SocketAddress.unixAbstract("b"))
      yield* b.sendTo(encoder.encode("to a"), SocketAddress.unixPath("/run/a.sock"))
      const d = yield* a.receiveFrom()
      assert.deepStrictEqual([decoder.decode(d.data), d.address], ["to a", SocketAddress.unixAbstract("b")])
      // fromFd on a passed descriptor
      const [p, q] = yield* RawSocket.socketpair()
      const [x, y] = yield* RawSocket.socketpair()
      yield* p.sendMsg(encoder.encode("fd"), [x.fd])
      yield* x.close
      const got = yield* q.receiveMsg(8, 1)
      const adopted = yield* RawSocket.fromFd(got.fds[0] as number)
      assert.deepStrictEqual([adopted.family, adopted.type], ["unix", "stream"])
      yield* adopted.send(encoder.encode("adopted"))
      assert.strictEqual(decoder.decode(yield* y.receive()), "adopted")
    }).pipe(Effect.scoped, Effect.provide(MemoryNetwork.layer())),
  )

  it.effect("virtual kernel edges: a closed listener resets unaccepted clients; datagram peers gone or not yours", () =>
    Effect.gen(function* () {
      // a connection still in the backlog when its listener closes is reset
      const listenerScope = yield* Scope.make()
      yield* Scope.extend(FdPassing.listen({ path: "/run/short.sock" }), listenerScope)
      const waiting = yield* FdPassing.connect({ path: "/run/short.sock" })
      yield* Scope.close(listenerScope, Exit.void)
      const reset = yield* Effect.flip(waiting.receive())
      assert.strictEqual(reset._tag === "BrokenResource" ? reset.code : reset._tag, "ECONNRESET")
      // a connected datagram socket whose peer closed: ECONNREFUSED on send
      const peerScope = yield* Scope.make()
      yield* Scope.extend(UnixDatagram.bind({ path: "/run/peer.sock" }), peerScope)
      const connected = yield* UnixDatagram.connect({ path: "/run/peer.sock" })
      yield* Scope.close(peerScope, Exit.void)
      const refused = yield* Effect.flip(connected.send(encoder.encode("x")))
      assert.strictEqual(refused._tag === "OperationFailed" ? refused.code : refused._tag, "ECONNREFUSED")
      // a receiver connected to a peer takes datagrams from that peer only: others get EPERM
      const lonely = yield* UnixDatagram.bind({ path: "/run/lonely.sock" })
      const faithful = yield* UnixDatagram.connect({ path: "/run/lonely.sock", localPath: "/run/faithful.sock" })
      const stranger = yield* UnixDatagram.bind()
      const denied = yield* Effect.flip(stranger.sendTo(encoder.encode("no"), "/run/faithful.sock"))
      assert.strictEqual(denied._tag === "OperationFailed" ? denied.code : denied._tag, "EPERM")
      yield* lonely.sendTo(encoder.encode("yes"), "/run/faithful.sock")
      assert.strictEqual(decoder.decode(yield* faithful.receive()), "yes")
    }).pipe(Effect.scoped, Effect.provide(MemoryNetwork.layer())),
  )
})
