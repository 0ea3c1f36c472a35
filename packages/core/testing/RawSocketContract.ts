/**
 * The low-level socket layer (`RawSocket`) contract, run against a
 * runtime's `Network` (Node, Bun): IPv4/IPv6/Unix, stream and datagram,
 * over loopback and Unix paths only.
 *
 * @since 0.1.0
 */
import * as fs from "node:fs"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import type * as Scope from "effect/Scope"
import * as FdPassing from "../src/FdPassing.ts"
import type { Network } from "../src/Network.ts"
import * as RawSocket from "../src/RawSocket.ts"
import * as SocketAddress from "../src/SocketAddress.ts"
import { python, pythonExit } from "./peers.ts"
import { bytes, type ContractEnvironment, eventually, text } from "./StreamContract.ts"
import { tempSocketPath } from "./UnixContract.ts"

const portOf = (a: SocketAddress.SocketAddress) => (SocketAddress.isIp(a) ? a.port : -1)

/**
 * Registers the RawSocket tests.
 *
 * @since 0.1.0
 */
export const rawSocketContract = (env: ContractEnvironment & { readonly ipv6: boolean }): void => {
  const run = <A, E>(effect: Effect.Effect<A, E, Scope.Scope | Network>) =>
    effect.pipe(Effect.scoped, Effect.provide(env.layer))

  /** A listening stream socket on `address` and a client connected to it, with the accepted side. */
  const streamPair = (address: SocketAddress.SocketAddress) =>
    Effect.gen(function* () {
      const family = address._tag === "Ipv4" ? "ipv4" : address._tag === "Ipv6" ? "ipv6" : "unix"
      const listener = yield* RawSocket.socket({ family, type: "stream" })
      yield* listener.bind(address)
      yield* listener.listen()
      const client = yield* RawSocket.socket({ family, type: "stream" })
      yield* client.connect(yield* listener.localAddress)
      const { socket: server, address: peer } = yield* listener.accept
      return { listener, client, server, peer }
    })

  describe(`RawSocket on ${env.name}`, () => {
    it.live("UDP: sendTo/receiveFrom with the sender's address, truncation, empty datagrams", () =>
      run(
        Effect.gen(function* () {
          const server = yield* RawSocket.socket({ family: "ipv4", type: "dgram" })
          yield* server.bind(SocketAddress.ipv4("127.0.0.1", 0))
          const at = yield* server.localAddress
          assert.isAbove(portOf(at), 0)
          const client = yield* RawSocket.socket({ family: "ipv4", type: "dgram" })
          yield* client.bind(SocketAddress.ipv4("127.0.0.1", 0))
          assert.strictEqual(yield* client.sendTo(bytes("ping"), at), 4)
          const d = yield* server.receiveFrom()
          assert.strictEqual(text(d.data), "ping")
          assert.deepStrictEqual(d.address, yield* client.localAddress)
          assert.isFalse(d.truncated)
          yield* server.sendTo(d.data, d.address as SocketAddress.SocketAddress)
          assert.strictEqual(text(yield* client.receive()), "ping")
          // longer than maxBytes: truncated, the rest is gone
          yield* client.sendTo(new Uint8Array(100), at)
          const t = yield* server.receiveFrom(10)
          assert.strictEqual(t.data.length, 10)
          assert.isTrue(t.truncated)
          // an empty datagram is data, not end of stream
          yield* client.sendTo(new Uint8Array(0), at)
          assert.strictEqual((yield* server.receive()).length, 0)
        }),
      ),
    )

    for (const [label, host] of [
      ["IPv4", "127.0.0.1"],
      ["IPv6", "::1"],
    ] as const) {
      it.live.skipIf(host === "::1" && !env.ipv6)(
        `TCP over ${label}: listen/accept/connect, addresses, send/receive, shutdown, isReadable`,
        () =>
          run(
            Effect.gen(function* () {
              const { client, server, peer, listener } = yield* streamPair(SocketAddress.ip(host, 0))
              assert.deepStrictEqual(peer, yield* client.localAddress)
              assert.deepStrictEqual(yield* client.remoteAddress, yield* listener.localAddress)
              assert.isFalse(yield* server.isReadable)
              assert.strictEqual(yield* client.send(bytes("hello")), 5)
              yield* eventually(() => Effect.runSync(Effect.orDie(server.isReadable)), "readable after the peer sent")
              assert.strictEqual(text(yield* server.receive()), "hello")
              // half-close: the peer reads EndOfStream, every time, and can still reply
              assert.isFalse(client.didShutdownWrite)
              yield* client.shutdown("write")
              assert.isTrue(client.didShutdownWrite)
              assert.strictEqual((yield* Effect.flip(server.receive()))._tag, "EndOfStream")
              assert.strictEqual((yield* Effect.flip(server.receive()))._tag, "EndOfStream")
              yield* server.send(bytes("bye"))
              assert.strictEqual(text(yield* client.receive()), "bye")
              // options
              const { SOL_SOCKET, SO_TYPE, IPPROTO_TCP, TCP_NODELAY, SO_ACCEPTCONN } = RawSocket.constants
              assert.strictEqual(yield* client.getOption(SOL_SOCKET, SO_TYPE), 1)
              yield* client.setOption(IPPROTO_TCP, TCP_NODELAY, 1)
              assert.strictEqual(yield* client.getOption(IPPROTO_TCP, TCP_NODELAY), 1)
              assert.strictEqual(yield* listener.getOption(SOL_SOCKET, SO_ACCEPTCONN), 1)
            }),
          ),
      )
    }

    it.live("errors: refused connect, a taken port, another family, bad sizes, busy and closed sockets", () =>
      run(
        Effect.gen(function* () {
          const taken = yield* RawSocket.socket({ family: "ipv4", type: "stream" })
          yield* taken.bind(SocketAddress.ipv4("127.0.0.1", 0))
          const port = portOf(yield* taken.localAddress)
          // nothing listens there yet: refused
          const client = yield* RawSocket.socket({ family: "ipv4", type: "stream" })
          const refused = yield* Effect.flip(client.connect(SocketAddress.ipv4("127.0.0.1", port)))
          assert.strictEqual(
            refused._tag === "ConnectFailed" ? refused.attempts[0]?.code : refused._tag,
            "ECONNREFUSED",
          )
          const other = yield* RawSocket.socket({ family: "ipv4", type: "stream" })
          const inUse = yield* Effect.flip(other.bind(SocketAddress.ipv4("127.0.0.1", port)))
          assert.strictEqual(inUse._tag === "OperationFailed" ? inUse.code : inUse._tag, "EADDRINUSE")
          assert.strictEqual((yield* Effect.flip(other.bind(SocketAddress.ipv6("::1", 0))))._tag, "InvalidArgument")
          assert.strictEqual((yield* Effect.flip(other.receive(0)))._tag, "InvalidArgument")
          assert.strictEqual((yield* Effect.flip(other.remoteAddress))._tag, "OperationFailed")
          // one receiver at a time; close wakes it with ClosedResource
          const [a] = yield* RawSocket.socketpair("stream")
          const pending = yield* Effect.fork(a.receive())
          yield* Effect.yieldNow()
          assert.strictEqual((yield* Effect.flip(a.receive()))._tag, "BusyResource")
          yield* a.close
          assert.strictEqual((yield* Effect.flip(Fiber.join(pending)))._tag, "ClosedResource")
          assert.strictEqual((yield* Effect.flip(a.send(bytes("x"))))._tag, "ClosedResource")
        }),
      ),
    )

    it.live("interrupting a receive or accept loses nothing; an interrupted connect closes the socket", () =>
      run(
        Effect.gen(function* () {
          const [a, b] = yield* RawSocket.socketpair("stream")
          const waiting = yield* Effect.fork(b.receive())
          yield* Effect.yieldNow()
          yield* Fiber.interrupt(waiting)
          yield* a.send(bytes("kept"))
          assert.strictEqual(text(yield* b.receive()), "kept")
          // accept
          const path = tempSocketPath("raw")
          const listener = yield* RawSocket.socket({ family: "unix", type: "stream" })
          yield* listener.bind(SocketAddress.unixPath(path))
          yield* listener.listen(1)
          const accepting = yield* Effect.fork(Effect.scoped(listener.accept))
          yield* Effect.yieldNow()
          yield* Fiber.interrupt(accepting)
          const client = yield* RawSocket.socket({ family: "unix", type: "stream" })
          yield* client.connect(SocketAddress.unixPath(path))
          const { socket: server } = yield* listener.accept
          yield* client.send(bytes("after"))
          assert.strictEqual(text(yield* server.receive()), "after")
          // fill the backlog: then a connect waits (EAGAIN, retried); interrupting it closes its socket
          let interrupted: RawSocket.RawSocket | undefined
          for (let i = 0; i < 16 && interrupted === undefined; i++) {
            const s = yield* RawSocket.socket({ family: "unix", type: "stream" })
            const r = yield* Effect.either(Effect.timeout(s.connect(SocketAddress.unixPath(path)), "200 millis"))
            if (r._tag === "Left" && r.left._tag === "TimeoutException") interrupted = s
          }
          assert.isDefined(interrupted, "a connect to a full backlog waited")
          if (interrupted !== undefined)
            assert.strictEqual((yield* Effect.flip(interrupted.send(bytes("x"))))._tag, "ClosedResource")
        }),
      ),
    )

    it.live("Unix: sendMsg/receiveMsg carry descriptors; fromFd adopts one; truncation is reported", () =>
      run(
        Effect.gen(function* () {
          const [a, b] = yield* RawSocket.socketpair("stream")
          const file = `${tempSocketPath("file")}.txt`
          fs.writeFileSync(file, "raw file")
          const fd = fs.openSync(file, "r")
          assert.strictEqual(yield* a.sendMsg(bytes("f"), [fd, fd]), 1)
          fs.closeSync(fd)
          const got = yield* b.receiveMsg(16, 1)
          assert.strictEqual(text(got.data), "f")
          assert.strictEqual(got.fds.length, 1)
          assert.isTrue(got.fdsTruncated)
          const buffer = Buffer.alloc(16)
          const n = fs.readSync(got.fds[0] as number, buffer, 0, 16, 0)
          assert.strictEqual(buffer.subarray(0, n).toString(), "raw file")
          fs.closeSync(got.fds[0] as number)
          // a socket's descriptor, passed and adopted
          const [c, d] = yield* RawSocket.socketpair("stream")
          yield* a.sendMsg(bytes("s"), [c.fd])
          yield* c.close
          const passed = yield* b.receiveMsg(16, 4)
          const adopted = yield* RawSocket.fromFd(passed.fds[0] as number)
          assert.strictEqual(adopted.family, "unix")
          assert.strictEqual(adopted.type, "stream")
          yield* adopted.send(bytes("through fromFd"))
          assert.strictEqual(text(yield* d.receive()), "through fromFd")
          // descriptors over IP sockets make no sense
          const udp = yield* RawSocket.socket({ family: "ipv4", type: "dgram" })
          assert.strictEqual((yield* Effect.flip(udp.sendMsg(bytes("x"), [0])))._tag, "InvalidArgument")
          assert.strictEqual((yield* Effect.flip(RawSocket.fromFd(-1)))._tag, "InvalidArgument")
          // a descriptor is a C int: 2 ** 32 would be wrapped into descriptor 0
          for (const big of [2 ** 31, 2 ** 32]) {
            assert.strictEqual((yield* Effect.flip(a.sendMsg(bytes("x"), [big])))._tag, "InvalidArgument")
            assert.strictEqual((yield* Effect.flip(RawSocket.fromFd(big)))._tag, "InvalidArgument")
          }
          const notSocket = fs.openSync(file, "r")
          const e = yield* Effect.flip(RawSocket.fromFd(notSocket))
          fs.closeSync(notSocket)
          assert.strictEqual(e._tag === "OperationFailed" ? e.code : e._tag, "ENOTSOCK")
        }),
      ),
    )

    it.live.skipIf(env.openFds === undefined)(
      "no descriptor leaks over 300 sockets, pairs and accepted connections",
      () =>
        run(
          Effect.gen(function* () {
            const open = env.openFds as () => number
            const before = open()
            for (let i = 0; i < 100; i++) {
              yield* Effect.scoped(RawSocket.socket({ family: "ipv4", type: "dgram" }))
              yield* Effect.scoped(RawSocket.socketpair("stream"))
              yield* Effect.scoped(streamPair(SocketAddress.ipv4("127.0.0.1", 0)))
            }
            yield* eventually(() => open() <= before, `descriptors back to ${before}`)
          }),
        ),
    )

    it.live("interop: a Python client talks to a RawSocket listener; FdPassing hands a RawSocket's descriptor on", () =>
      run(
        Effect.gen(function* () {
          const listener = yield* RawSocket.socket({ family: "ipv4", type: "stream" })
          yield* listener.bind(SocketAddress.ipv4("127.0.0.1", 0))
          yield* listener.listen()
          const port = portOf(yield* listener.localAddress)
          // the Python client prints the reply: start it in its own fiber
          const client = yield* Effect.fork(
            python(
              `import socket,sys\ns=socket.create_connection(("127.0.0.1",int(sys.argv[1])))\ns.sendall(b"from python")\ns.shutdown(socket.SHUT_WR)\nprint(s.recv(100).decode(),flush=True)`,
              [String(port)],
            ),
          )
          const { socket } = yield* listener.accept
          let got = ""
          while (true) {
            const chunk = yield* Effect.catchTag(socket.receive(), "EndOfStream", () => Effect.succeed(undefined))
            if (chunk === undefined) break
            got += text(chunk)
          }
          assert.strictEqual(got, "from python")
          yield* socket.send(bytes("hello, python"))
          const py = yield* Fiber.join(client)
          assert.strictEqual(py.firstLine, "hello, python")
          yield* pythonExit(py)
          // a RawSocket's descriptor through the high-level fd passing
          const [x, y] = yield* FdPassing.socketpair()
          const [p, q] = yield* RawSocket.socketpair("stream")
          yield* x.sendFds(bytes("raw"), [p.fd])
          const r = yield* y.receiveFds(8, 1)
          const stream = yield* FdPassing.toByteStream(yield* (r.fds[0] as FdPassing.ReceivedFd).take)
          yield* stream.send(bytes("via a byte stream"))
          assert.strictEqual(text(yield* q.receive()), "via a byte stream")
        }),
      ),
    )
  })
}
