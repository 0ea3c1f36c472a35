/**
 * Contract tests for the transports built on `@netfx/native`: Unix
 * datagram sockets and fd passing, run against a runtime's `Network`.
 *
 * @since 0.1.0
 */
import * as fs from "node:fs"
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as FdPassing from "../src/FdPassing.ts"
import type * as NetError from "../src/NetError.ts"
import type { Network as NetworkTag } from "../src/Network.ts"
import * as Network from "../src/Network.ts"
import * as SocketAddress from "../src/SocketAddress.ts"
import * as Tcp from "../src/Tcp.ts"
import * as Unix from "../src/Unix.ts"
import * as UnixDatagram from "../src/UnixDatagram.ts"
import { python, pythonExit } from "./peers.ts"
import {
  bytes,
  type ContractEnvironment,
  eventually,
  portOf,
  readAll,
  readN,
  type StreamTransport,
  streamContract,
  text,
} from "./StreamContract.ts"
import { tempAbstractName, tempSocketPath } from "./UnixContract.ts"

/**
 * What the native-transport contract needs beyond {@link ContractEnvironment}.
 *
 * @since 0.1.0
 */
export interface NativeEnvironment extends ContractEnvironment {
  /**
   * Whether the sockets are the operating system's (default `true`). The
   * memory network sets `false`: Python interop and socket files on disk
   * are skipped there.
   */
  readonly kernel?: boolean
  /**
   * Opens a file holding `contents` and returns its descriptor, which the
   * test closes (default: a temporary file, `fs.openSync`). The memory
   * network passes its in-memory files.
   */
  readonly openFile?: (contents: string) => Effect.Effect<number, never, NetworkTag | Scope.Scope>
}

/** A temporary file with `contents`, opened for reading; the caller closes the descriptor. */
const openTempFile = (contents: string): Effect.Effect<number> =>
  Effect.sync(() => {
    const p = `${tempSocketPath("file")}.txt`
    fs.writeFileSync(p, contents)
    return fs.openSync(p, "r")
  })

/** Closes a descriptor through the network's own file operations (real or in-memory). */
const closeFd = (fd: number) =>
  Effect.flatMap(Effect.orDie(Network.driver("native", "closing a descriptor")), (native) => native.file.close(fd))

/**
 * The fd-passing Unix stream transport for {@link streamContract}: an
 * `FdPassing.FdStream` is a `SocketStream` and its listener an ordinary
 * `Listener`, so the whole byte-stream contract runs on them.
 *
 * @since 0.2.0
 */
export const fdPassingTransport: StreamTransport = {
  name: "Unix fd-passing",
  listen: Effect.suspend(() => FdPassing.listen({ path: tempSocketPath("fdc") })),
  connect: (listener) =>
    FdPassing.connect({ path: listener.address as SocketAddress.UnixPath | SocketAddress.UnixAbstract }),
  sendWaitsForKernel: true,
}

/**
 * Registers the Unix datagram and fd-passing tests, and the byte-stream
 * contract over fd-passing streams.
 *
 * @since 0.1.0
 */
export const nativeContract = (env: NativeEnvironment): void => {
  streamContract(env, fdPassingTransport)
  const run = <A, E>(effect: Effect.Effect<A, E, Scope.Scope | NetworkTag>) =>
    effect.pipe(Effect.scoped, Effect.provide(env.layer))
  const kernel = env.kernel ?? true
  const openFile = env.openFile ?? openTempFile

  describe(`Unix datagram sockets on ${env.name}`, () => {
    it.live("bound server, unnamed client: data and the (unnamed) sender address", () =>
      run(
        Effect.gen(function* () {
          const path = tempSocketPath("dg")
          const server = yield* UnixDatagram.bind({ path })
          assert.deepStrictEqual(server.localAddress, SocketAddress.unixPath(path))
          const client = yield* UnixDatagram.bind()
          yield* client.sendTo(bytes("hello"), path)
          const packet = yield* server.receive()
          assert.strictEqual(text(packet.data), "hello")
          assert.deepStrictEqual(packet.address, SocketAddress.unixPath(""))
          assert.isFalse(packet.truncated)
        }),
      ),
    )

    it.live("bound client: the server sees its path and replies (the Hello service)", () =>
      run(
        Effect.gen(function* () {
          const serverPath = tempSocketPath("dg")
          const clientPath = tempSocketPath("dg")
          const server = yield* UnixDatagram.bind({ path: serverPath })
          yield* Effect.forkScoped(
            Stream.runForEach(server.packets, (p) =>
              server.sendTo(new Uint8Array([...bytes("Hello, "), ...p.data]), p.address),
            ),
          )
          const client = yield* UnixDatagram.bind({ path: clientPath })
          yield* client.sendTo(bytes("netfx"), serverPath)
          const reply = yield* client.receive()
          assert.strictEqual(text(reply.data), "Hello, netfx")
          assert.deepStrictEqual(reply.address, SocketAddress.unixPath(serverPath))
        }),
      ),
    )

    it.live("abstract names and connected sockets", () =>
      run(
        Effect.gen(function* () {
          const name = tempAbstractName("dg")
          const server = yield* UnixDatagram.bind({ path: name })
          assert.deepStrictEqual(server.localAddress, name)
          const local = tempAbstractName("dgc")
          const client = yield* UnixDatagram.connect({ path: name, localPath: local })
          assert.deepStrictEqual(client.remoteAddress, name)
          yield* client.send(bytes("ping"))
          const p = yield* server.receive()
          assert.strictEqual(text(p.data), "ping")
          assert.deepStrictEqual(p.address, local)
          yield* server.sendTo(bytes("pong"), p.address)
          assert.deepStrictEqual(client.localAddress, local)
          const r = yield* client.receive()
          assert.strictEqual(text(r), "pong")
        }),
      ),
    )

    it.live("batches: sendMany in order, receiveMany up to max, packets hands over what is waiting as one Chunk", () =>
      run(
        Effect.gen(function* () {
          const path = tempSocketPath("dg")
          const server = yield* UnixDatagram.bind({ path })
          const client = yield* UnixDatagram.connect({ path, localPath: tempSocketPath("dgc") })
          yield* client.sendMany(["a", "b", "c", "d", "e"].map(bytes))
          const first = yield* server.receiveMany(3)
          assert.deepStrictEqual(
            Chunk.toArray(first).map((d) => text(d.data)),
            ["a", "b", "c"],
          )
          assert.deepStrictEqual(
            Chunk.toArray(first).map((d) => d.address),
            [client.localAddress, client.localAddress, client.localAddress],
          )
          assert.deepStrictEqual(
            Chunk.toArray(yield* server.receiveMany(100)).map((d) => text(d.data)),
            ["d", "e"],
          )
          assert.strictEqual((yield* Effect.flip(server.receiveMany(0)))._tag, "InvalidArgument")
          yield* client.sendMany(["f", "g", "h"].map(bytes))
          const pull = yield* Stream.toPull(server.packets)
          assert.deepStrictEqual(
            Chunk.toArray(yield* pull).map((d) => text(d.data)),
            ["f", "g", "h"],
          )
          // sendMany on the unconnected socket, one destination each; the connected side receives bytes
          yield* server.sendMany([
            { data: bytes("x"), address: client.localAddress },
            { data: bytes("y"), address: client.localAddress },
          ])
          assert.deepStrictEqual(Chunk.toArray(yield* client.receiveMany(10)).map(text), ["x", "y"])
          // a failing datagram stops the batch with OperationFailed; the rest is not sent
          const error = yield* Effect.flip(
            server.sendMany([
              { data: bytes("1"), address: client.localAddress },
              { data: bytes("2"), address: tempSocketPath("missing") },
              { data: bytes("3"), address: client.localAddress },
            ]),
          )
          assert.strictEqual(error._tag === "OperationFailed" ? error.code : error._tag, "ENOENT")
          assert.strictEqual(text(yield* client.receive()), "1")
          yield* server.sendTo(bytes("4"), client.localAddress)
          assert.strictEqual(text(yield* client.receive()), "4")
        }),
      ),
    )

    it.live(
      "10,000 datagrams through a slow receiver: none lost, none reordered (connected, sendTo, sendMany)",
      () =>
        run(
          Effect.gen(function* () {
            const N = 10_000
            for (const mode of ["connected", "sendTo", "sendMany"] as const) {
              const path = tempSocketPath("dg")
              const server = yield* UnixDatagram.bind({ path })
              const numbers = Array.from({ length: N }, (_, i) => i)
              const sending =
                mode === "sendMany"
                  ? // batches larger than the peer's queue: each stops where it fills, waits, goes on
                    Effect.flatMap(UnixDatagram.connect({ path }), (client) =>
                      Effect.forEach(
                        Array.from({ length: N / 1000 }, (_, k) => numbers.slice(k * 1000, (k + 1) * 1000)),
                        (batch) => client.sendMany(batch.map((i) => bytes(String(i)))),
                        { discard: true },
                      ),
                    )
                  : Effect.flatMap(
                      mode === "connected"
                        ? Effect.map(UnixDatagram.connect({ path }), (c) => c.send)
                        : Effect.map(
                            UnixDatagram.bind(),
                            (unnamed) => (data: Uint8Array) => unnamed.sendTo(data, path),
                          ),
                      (send) => Effect.forEach(numbers, (i) => send(bytes(String(i))), { discard: true }),
                    )
              const sender = yield* Effect.fork(sending)
              for (let i = 0; i < N; i++) {
                // slow: give the event loop away every few datagrams so the sender hits EAGAIN
                if (i % 50 === 0) yield* Effect.promise(() => new Promise((r) => setImmediate(r)))
                const p = yield* server.receive()
                assert.strictEqual(text(p.data), String(i))
              }
              yield* Fiber.join(sender)
              yield* server.close
            }
          }),
        ),
      120_000,
    )

    it.live("an oversized datagram fails with OperationFailed EMSGSIZE; the socket stays usable", () =>
      run(
        Effect.gen(function* () {
          const path = tempSocketPath("dg")
          const server = yield* UnixDatagram.bind({ path })
          const client = yield* UnixDatagram.connect({ path })
          const error = yield* Effect.flip(client.send(new Uint8Array(8 * 1024 * 1024)))
          assert.strictEqual(error._tag, "OperationFailed")
          assert.strictEqual(error._tag === "OperationFailed" ? error.code : "", "EMSGSIZE")
          yield* client.send(bytes("small"))
          assert.strictEqual(text((yield* server.receive()).data), "small")
          // in a batch it stops the batch there: the ones before it went, the rest did not
          const stopped = yield* Effect.flip(
            client.sendMany([bytes("b1"), bytes("b2"), new Uint8Array(8 * 1024 * 1024), bytes("b4")]),
          )
          assert.strictEqual(stopped._tag === "OperationFailed" ? stopped.code : stopped._tag, "EMSGSIZE")
          yield* client.send(bytes("b5"))
          const after = [text((yield* server.receive()).data), text((yield* server.receive()).data)]
          assert.deepStrictEqual([...after, text((yield* server.receive()).data)], ["b1", "b2", "b5"])
          // a datagram longer than maxBytes is reported truncated
          yield* client.send(new Uint8Array(100))
          const p = yield* server.receive(10)
          assert.strictEqual(p.data.length, 10)
          assert.isTrue(p.truncated)
        }),
      ),
    )

    it.live("sending where nobody listens: OperationFailed with ENOENT / ECONNREFUSED", () =>
      run(
        Effect.gen(function* () {
          const client = yield* UnixDatagram.bind()
          const missing = tempSocketPath("dg")
          const e1 = yield* Effect.flip(client.sendTo(bytes("x"), missing))
          assert.strictEqual(e1._tag === "OperationFailed" ? e1.code : e1._tag, "ENOENT")
          // a stale socket file
          yield* Effect.scoped(UnixDatagram.bind({ path: missing, removeOnClose: false }))
          const e2 = yield* Effect.flip(client.sendTo(bytes("x"), missing))
          assert.strictEqual(e2._tag === "OperationFailed" ? e2.code : e2._tag, "ECONNREFUSED")
          const e3 = yield* Effect.flip(Effect.scoped(UnixDatagram.connect({ path: tempSocketPath("none") })))
          assert.strictEqual(e3._tag, "ConnectFailed")
        }),
      ),
    )

    it.live("paths: stale files replaced, live sockets not stolen, files untouched, mode, removal", () =>
      run(
        Effect.gen(function* () {
          const path = tempSocketPath("dg")
          yield* Effect.scoped(UnixDatagram.bind({ path, removeOnClose: false }))
          if (kernel) assert.isTrue(fs.lstatSync(path).isSocket())
          yield* Effect.scoped(
            Effect.gen(function* () {
              const s = yield* UnixDatagram.bind({ path, mode: 0o600 })
              if (kernel) assert.strictEqual(fs.statSync(path).mode & 0o777, 0o600)
              const e = yield* Effect.flip(Effect.scoped(UnixDatagram.bind({ path })))
              assert.strictEqual(e._tag === "ListenFailed" ? e.code : e._tag, "EADDRINUSE")
              yield* s.close
            }),
          )
          if (!kernel) return // the rest is about files on disk
          assert.isFalse(fs.existsSync(path), "removed on close")
          const file = tempSocketPath("file")
          fs.writeFileSync(file, "keep")
          assert.strictEqual(
            (yield* Effect.flip(Effect.scoped(UnixDatagram.bind({ path: file }))))._tag,
            "ListenFailed",
          )
          assert.strictEqual(fs.readFileSync(file, "utf8"), "keep")
        }),
      ),
    )

    it.live("close wakes a pending receive with ClosedResource; a second receive is BusyResource", () =>
      run(
        Effect.gen(function* () {
          const socket = yield* UnixDatagram.bind({ path: tempSocketPath("dg") })
          const pending = yield* Effect.fork(socket.receive())
          yield* Effect.yieldNow() // the forked receive is parked now
          const busy = yield* Effect.flip(socket.receive())
          assert.strictEqual(busy._tag, "BusyResource")
          yield* socket.close
          const e = yield* Effect.flip(Fiber.join(pending))
          assert.strictEqual(e._tag, "ClosedResource")
        }),
      ),
    )

    it.live.skipIf(!kernel)("interop with Python's socket module, both ways", () =>
      run(
        Effect.gen(function* () {
          const pyPath = tempSocketPath("py")
          const py = yield* python(
            `import socket,sys\ns=socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\ns.bind(sys.argv[1])\nprint("ready",flush=True)\nd,a=s.recvfrom(100)\ns.sendto(b"Hello, "+d, a)\nprint(a,flush=True)`,
            [pyPath],
          )
          assert.strictEqual(py.firstLine, "ready")
          const mine = tempSocketPath("me")
          const socket = yield* UnixDatagram.bind({ path: mine })
          yield* socket.sendTo(bytes("netfx"), pyPath)
          const reply = yield* socket.receive()
          assert.strictEqual(text(reply.data), "Hello, netfx")
          assert.deepStrictEqual(reply.address, SocketAddress.unixPath(pyPath))
          const out = yield* pythonExit(py)
          assert.include(out.output, mine)

          const serverPath = tempSocketPath("dg")
          const server = yield* UnixDatagram.bind({ path: serverPath })
          const client = yield* python(
            `import socket,sys,os\nme=sys.argv[1]+".py"\ns=socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\ns.bind(me)\ns.sendto(b"from python", sys.argv[1])\nprint("sent",flush=True)\nd,a=s.recvfrom(100)\nprint(d.decode(),flush=True)`,
            [serverPath],
          )
          assert.strictEqual(client.firstLine, "sent")
          const p = yield* server.receive()
          assert.strictEqual(text(p.data), "from python")
          assert.deepStrictEqual(p.address, SocketAddress.unixPath(`${serverPath}.py`))
          yield* server.sendTo(bytes("to python"), p.address)
          const done = yield* pythonExit(client)
          assert.include(done.output, "to python")
        }),
      ),
    )
  })

  // the options are read back from the kernel's sockets
  describe.skipIf(!kernel)(`TCP socket options, read back from the kernel, on ${env.name}`, () => {
    it.live("keepAlive on Tcp.listen sets SO_KEEPALIVE (and TCP_KEEPIDLE) on accepted connections", () =>
      Effect.gen(function* () {
        const SOL_SOCKET = 1
        const SO_KEEPALIVE = 9
        const TCP_KEEPIDLE = 4
        const plain = yield* Tcp.listen({ host: "127.0.0.1", port: 0 })
        yield* Tcp.connect({ host: "127.0.0.1", port: SocketAddress.isIp(plain.address) ? plain.address.port : 0 })
        const off = yield* plain.accept
        assert.strictEqual(yield* FdPassing.getSocketOption(off.fd as number, SOL_SOCKET, SO_KEEPALIVE), 0)
        const listener = yield* Tcp.listen({ host: "127.0.0.1", port: 0, keepAlive: "45 seconds" })
        yield* Tcp.connect({
          host: "127.0.0.1",
          port: SocketAddress.isIp(listener.address) ? listener.address.port : 0,
        })
        const on = yield* listener.accept
        assert.strictEqual(yield* FdPassing.getSocketOption(on.fd as number, SOL_SOCKET, SO_KEEPALIVE), 1)
        assert.strictEqual(yield* FdPassing.getSocketOption(on.fd as number, 6, TCP_KEEPIDLE), 45)
        const bad = yield* Effect.flip(Tcp.listen({ host: "127.0.0.1", port: 0, keepAlive: "forever" as never }))
        assert.strictEqual(bad._tag, "InvalidArgument")
      }).pipe(run),
    )

    it.live("keepAlive on Tcp.connect sets SO_KEEPALIVE and TCP_KEEPIDLE on the client socket", () =>
      Effect.gen(function* () {
        const SOL_SOCKET = 1
        const SO_KEEPALIVE = 9
        const TCP_KEEPIDLE = 4
        const listener = yield* Tcp.listen({ host: "127.0.0.1", port: 0 })
        const port = SocketAddress.isIp(listener.address) ? listener.address.port : 0
        const client = yield* Tcp.connect({ host: "127.0.0.1", port, keepAlive: "30 seconds" })
        assert.strictEqual(yield* FdPassing.getSocketOption(client.fd as number, SOL_SOCKET, SO_KEEPALIVE), 1)
        assert.strictEqual(yield* FdPassing.getSocketOption(client.fd as number, 6, TCP_KEEPIDLE), 30)
        const millis = yield* Tcp.connect({ host: "127.0.0.1", port, keepAlive: 75_000 })
        assert.strictEqual(yield* FdPassing.getSocketOption(millis.fd as number, 6, TCP_KEEPIDLE), 75)
      }).pipe(run),
    )
  })

  describe(`fd passing on ${env.name}`, () => {
    const examplePath = () => {
      const p = `${tempSocketPath("file")}.txt`
      fs.writeFileSync(p, "Test file")
      return p
    }
    const exampleFile = openFile("Test file")

    it.live("a file descriptor: sent, received, read (listener + connect)", () =>
      run(
        Effect.gen(function* () {
          const path = tempSocketPath("fd")
          const listener = yield* FdPassing.listen({ path })
          yield* Effect.forkScoped(
            listener.serve((client) =>
              Effect.acquireUseRelease(
                exampleFile,
                (fd) => client.sendFds(bytes("this message is ignored"), [fd]),
                closeFd,
              ),
            ),
          )
          const conn = yield* FdPassing.connect({ path })
          const { message, fds, truncated } = yield* conn.receiveFds(1024, 1)
          assert.strictEqual(text(message), "this message is ignored")
          assert.strictEqual(fds.length, 1)
          assert.isFalse(truncated)
          const handle = yield* FdPassing.toFileHandle(yield* (fds[0] as FdPassing.ReceivedFd).take)
          assert.strictEqual(text(yield* handle.readAll), "Test file")
        }),
      ),
    )

    it.live("a connected TCP socket and a Unix socket: received and used as byte streams", () =>
      run(
        Effect.gen(function* () {
          const [a, b] = yield* FdPassing.socketpair()
          // TCP
          const tcpListener = yield* Tcp.listen({ host: "127.0.0.1", port: 0 })
          const tcpClient = yield* Tcp.connect({ host: "127.0.0.1", port: portOf(tcpListener.address) })
          const tcpServer = yield* tcpListener.accept
          assert.isNumber(tcpClient.fd)
          yield* a.sendFds(bytes("tcp"), [tcpClient.fd as number])
          // as a sending process would: drop our own copy (the passed one keeps the connection)
          yield* tcpClient.close
          const got = yield* b.receiveFds(16, 4)
          assert.strictEqual(text(got.message), "tcp")
          const adopted = yield* FdPassing.toByteStream(yield* (got.fds[0] as FdPassing.ReceivedFd).take)
          yield* adopted.send(bytes("via passed tcp fd"))
          assert.strictEqual(text(yield* readN(tcpServer, 17)), "via passed tcp fd")
          yield* tcpServer.send(bytes("back"))
          assert.strictEqual(text(yield* readN(adopted, 4)), "back")
          // Unix
          const upath = tempSocketPath("u")
          const ulistener = yield* Unix.listen({ path: upath })
          const uclient = yield* Unix.connect({ path: upath })
          const userver = yield* ulistener.accept
          yield* a.sendFds(bytes("unix"), [uclient.fd as number])
          yield* uclient.close
          const got2 = yield* b.receiveFds(16, 4)
          assert.strictEqual(text(got2.message), "unix")
          const adopted2 = yield* FdPassing.toByteStream(yield* (got2.fds[0] as FdPassing.ReceivedFd).take)
          yield* adopted2.send(bytes("via passed unix fd"))
          yield* adopted2.sendEof
          assert.strictEqual(text(yield* readAll(userver)), "via passed unix fd")
        }),
      ),
    )

    it.live("more descriptors than maxFds: truncated is reported, the extras are closed", () =>
      run(
        Effect.gen(function* () {
          const [a, b] = yield* FdPassing.socketpair()
          const opened = [yield* exampleFile, yield* exampleFile, yield* exampleFile]
          yield* a.sendFds(bytes("three"), opened)
          for (const fd of opened) yield* closeFd(fd)
          const before = env.openFds?.()
          const got = yield* Effect.scoped(
            Effect.gen(function* () {
              const r = yield* b.receiveFds(100, 1)
              assert.strictEqual(r.fds.length, 1)
              assert.isTrue(r.truncated)
              if (before !== undefined) assert.strictEqual(env.openFds?.(), before + 1)
              return r
            }),
          )
          assert.strictEqual(text(got.message), "three")
        }),
      ),
    )

    it.live("descriptors received but never taken are closed with the scope", () =>
      run(
        Effect.gen(function* () {
          if (env.openFds === undefined) return
          const [a, b] = yield* FdPassing.socketpair()
          const fd = yield* exampleFile
          const before = env.openFds()
          for (let i = 0; i < 20; i++) {
            yield* a.sendFds(bytes("x"), [fd, fd, fd])
            yield* Effect.scoped(
              Effect.gen(function* () {
                const r = yield* b.receiveFds(10, 3)
                assert.strictEqual(r.fds.length, 3)
              }),
            )
          }
          assert.strictEqual(env.openFds(), before)
          // taken ones stay open
          yield* a.sendFds(bytes("y"), [fd])
          const kept = yield* Effect.scoped(
            Effect.flatMap(b.receiveFds(10, 1), (r) => (r.fds[0] as FdPassing.ReceivedFd).take),
          )
          assert.strictEqual(env.openFds(), before + 1)
          yield* closeFd(kept)
          yield* closeFd(fd)
        }),
      ),
    )

    it.live("empty message or empty fd list: InvalidArgument; plain bytes flow too", () =>
      run(
        Effect.gen(function* () {
          const [a, b] = yield* FdPassing.socketpair()
          assert.strictEqual((yield* Effect.flip(a.sendFds(new Uint8Array(0), [0])))._tag, "InvalidArgument")
          assert.strictEqual((yield* Effect.flip(a.sendFds(bytes("x"), [])))._tag, "InvalidArgument")
          assert.strictEqual((yield* Effect.flip(Effect.scoped(b.receiveFds(0, 1))))._tag, "InvalidArgument")
          yield* a.send(bytes("plain bytes"))
          yield* a.sendEof
          let got = ""
          while (true) {
            const chunk = yield* Effect.catchTag(b.receive(), "EndOfStream", () => Effect.succeed(undefined))
            if (chunk === undefined) break
            got += text(chunk)
          }
          assert.strictEqual(got, "plain bytes")
        }),
      ),
    )

    it.live("send of something that is no bytes (plain JavaScript) is InvalidArgument and sends nothing", () =>
      run(
        Effect.gen(function* () {
          const [a, b] = yield* FdPassing.socketpair()
          for (const data of ["abc", null, [bytes("x"), "y"]] as ReadonlyArray<unknown>) {
            const e = yield* Effect.flip(a.send(data as Uint8Array))
            assert.strictEqual(e._tag, "InvalidArgument", String(data))
          }
          yield* a.send(bytes("after"))
          assert.strictEqual(text(yield* b.receive()), "after")
        }),
      ),
    )

    it.live("a descriptor number beyond the C int range is InvalidArgument, not wrapped into another descriptor", () =>
      run(
        Effect.gen(function* () {
          const [a, b] = yield* FdPassing.socketpair()
          for (const fd of [2 ** 31, 2 ** 32, 2 ** 40]) {
            const e = yield* Effect.flip(a.sendFds(bytes("x"), [fd]))
            assert.strictEqual(e._tag, "InvalidArgument", `fd ${fd}`)
          }
          // nothing went out: the next message is the first the peer reads
          yield* a.send(bytes("after"))
          assert.strictEqual(text(yield* b.receive()), "after")
        }),
      ),
    )

    it.live(
      "toFileHandle and toByteStream of a number that is no descriptor are InvalidArgument; their Scope closes cleanly",
      () =>
        run(
          Effect.gen(function* () {
            const adopt: ReadonlyArray<
              (fd: number) => Effect.Effect<unknown, { readonly _tag: string }, Scope.Scope | NetworkTag>
            > = [FdPassing.toFileHandle, FdPassing.toByteStream]
            for (const make of adopt)
              for (const fd of [-1, Number.NaN, 1.5, 2 ** 32]) {
                const exit = yield* Effect.exit(Effect.scoped(make(fd)))
                assert.isTrue(Exit.isFailure(exit), `fd ${fd}`)
                if (Exit.isFailure(exit)) {
                  const e = Cause.failureOption(exit.cause)
                  assert.strictEqual(Option.isSome(e) ? e.value._tag : Cause.pretty(exit.cause), "InvalidArgument")
                }
              }
          }),
        ),
    )

    it.live("interrupting receiveFds or accept loses nothing; a plain receive keeps descriptors for receiveFds", () =>
      run(
        Effect.gen(function* () {
          const [a, b] = yield* FdPassing.socketpair()
          const fd = yield* exampleFile
          const pending = yield* Effect.fork(Effect.scoped(b.receiveFds(10, 1)))
          yield* Effect.yieldNow()
          yield* Fiber.interrupt(pending)
          yield* a.sendFds(bytes("m"), [fd])
          const r = yield* b.receiveFds(10, 1)
          assert.strictEqual(text(r.message), "m")
          assert.strictEqual(r.fds.length, 1)
          // bytes that carry descriptors, read by a plain receive: the descriptors wait for receiveFds
          yield* a.sendFds(bytes("n"), [fd])
          assert.strictEqual(text(yield* b.receive()), "n")
          const later = yield* b.receiveFds(10, 1)
          assert.strictEqual(later.message.length, 0)
          assert.strictEqual(later.fds.length, 1)
          yield* closeFd(fd)
          // accept
          const path = tempSocketPath("fd")
          const listener = yield* FdPassing.listen({ path })
          const acceptor = yield* Effect.fork(Effect.scoped(listener.accept))
          yield* Effect.yieldNow()
          yield* Fiber.interrupt(acceptor)
          const client = yield* FdPassing.connect({ path })
          const server = yield* listener.accept
          yield* client.send(bytes("after interrupt"))
          yield* client.sendEof
          assert.strictEqual(text(yield* server.receive()), "after interrupt")
        }),
      ),
    )

    it.live("connect to a listener whose backlog is full waits (EAGAIN is retried) and then connects", () =>
      run(
        Effect.gen(function* () {
          const path = tempSocketPath("fd")
          const listener = yield* FdPassing.listen({ path, backlog: 1 })
          const early: Array<FdPassing.FdStream> = []
          // fill the backlog: connects complete until the kernel queue is full
          const waiting = yield* Effect.fork(
            Effect.gen(function* () {
              for (let i = 0; i < 5; i++) early.push(yield* FdPassing.connect({ path }))
            }),
          )
          // draining the queue lets every connect through
          for (let i = 0; i < 5; i++) {
            const server = yield* listener.accept
            yield* server.send(bytes(`#${i}`))
          }
          yield* Fiber.join(waiting)
          assert.strictEqual(early.length, 5)
          for (let i = 0; i < 5; i++)
            assert.strictEqual(text(yield* (early[i] as FdPassing.FdStream).receive()), `#${i}`)
        }),
      ),
    )

    it.live("a connect with `timeout` to a full backlog fails with ConnectFailed ETIMEDOUT and closes its socket", () =>
      run(
        Effect.gen(function* () {
          const path = tempSocketPath("fdt")
          yield* FdPassing.listen({ path, backlog: 1 })
          // fill the backlog (nobody accepts), until a connect would wait
          const held: Array<FdPassing.FdStream> = []
          let timedOut: NetError.ConnectFailed | undefined
          for (let i = 0; i < 16 && timedOut === undefined; i++) {
            const before = env.openFds?.()
            const r = yield* Effect.either(FdPassing.connect({ path, timeout: "200 millis" }))
            if (r._tag === "Right") {
              held.push(r.right)
              continue
            }
            assert.strictEqual(r.left._tag, "ConnectFailed")
            if (r.left._tag !== "ConnectFailed") break
            timedOut = r.left
            // the attempted socket is closed by the time the error arrives
            if (before !== undefined) assert.strictEqual(env.openFds?.(), before)
          }
          assert.isDefined(timedOut, "a connect to a full backlog waited")
          assert.strictEqual(timedOut?.code, "ETIMEDOUT")
          assert.deepStrictEqual(
            timedOut?.attempts.map((a) => a.code),
            ["ETIMEDOUT"],
          )
          assert.isAbove(held.length, 0)
        }),
      ),
    )

    it.live(
      "fd-passing streams keep the byte-stream rules: EOF every time, ClosedResource, BusyResource, no loss on interrupt",
      () =>
        run(
          Effect.gen(function* () {
            const [a, b] = yield* FdPassing.socketpair()
            // a pending receive, interrupted, loses nothing
            const pending = yield* Effect.fork(b.receive())
            yield* Effect.yieldNow()
            const busy = yield* Effect.flip(b.receive())
            assert.strictEqual(busy._tag, "BusyResource")
            yield* Fiber.interrupt(pending)
            yield* a.send(bytes("kept"))
            assert.strictEqual(text(yield* b.receive()), "kept")
            // maxBytes is respected, chunks are never empty
            yield* a.send(new Uint8Array(1000).fill(1))
            let total = 0
            while (total < 1000) {
              const chunk = yield* b.receive(100)
              assert.isTrue(chunk.length >= 1 && chunk.length <= 100)
              total += chunk.length
            }
            assert.strictEqual((yield* Effect.flip(b.receive(0)))._tag, "InvalidArgument")
            // sendEof: the peer reads EndOfStream, every time, and can still reply
            yield* a.sendEof
            assert.strictEqual((yield* Effect.flip(b.receive()))._tag, "EndOfStream")
            assert.strictEqual((yield* Effect.flip(b.receive()))._tag, "EndOfStream")
            yield* b.send(bytes("reply"))
            assert.strictEqual(text(yield* a.receive()), "reply")
            // a close from another fiber wakes a pending receive with ClosedResource
            const waiting = yield* Effect.fork(a.receive())
            yield* Effect.yieldNow()
            yield* a.close
            assert.strictEqual((yield* Effect.flip(Fiber.join(waiting)))._tag, "ClosedResource")
            assert.strictEqual((yield* Effect.flip(a.send(bytes("x"))))._tag, "ClosedResource")
            // the peer of a closed stream reads EndOfStream
            assert.strictEqual((yield* Effect.flip(b.receive()))._tag, "EndOfStream")
          }),
        ),
    )

    it.live(
      "fd-passing streams: a writer waits for a slow reader (8 MiB, nothing lost) and a reset is BrokenResource",
      () =>
        run(
          Effect.gen(function* () {
            const [a, b] = yield* FdPassing.socketpair()
            const size = 8 * 1024 * 1024
            const data = new Uint8Array(size)
            for (let i = 0; i < size; i++) data[i] = i & 0xff
            const writer = yield* Effect.fork(Effect.zipRight(a.send(data), a.sendEof))
            let offset = 0
            while (true) {
              const chunk = yield* Effect.catchTag(b.receive(), "EndOfStream", () => Effect.succeed(undefined))
              if (chunk === undefined) break
              for (let i = 0; i < chunk.length; i += 4099) assert.strictEqual(chunk[i], (offset + i) & 0xff)
              offset += chunk.length
            }
            yield* Fiber.join(writer)
            assert.strictEqual(offset, size)
            // reset: the peer closes with unread data; our reads see the errno
            const [c, d] = yield* FdPassing.socketpair()
            yield* c.send(bytes("unread"))
            yield* d.send(bytes("x"))
            yield* d.close
            const error = yield* Effect.flip(Effect.forever(c.receive()))
            assert.strictEqual(error._tag, "BrokenResource")
            assert.strictEqual(error._tag === "BrokenResource" ? error.code : "", "ECONNRESET")
          }),
        ),
    )

    it.live("no descriptor leaks over 1,000 fd-passing connect/close cycles", () =>
      run(
        Effect.gen(function* () {
          if (env.openFds === undefined) return
          const path = tempSocketPath("fd")
          const listener = yield* FdPassing.listen({ path })
          yield* Effect.forkScoped(listener.serve((c) => c.send(bytes("hi"))))
          const before = env.openFds()
          for (let i = 0; i < 1000; i++) {
            yield* Effect.scoped(Effect.flatMap(FdPassing.connect({ path }), (c) => c.receive()))
          }
          yield* eventually(() => (env.openFds?.() ?? 0) <= before + 2, "descriptors released")
        }),
      ),
    )

    it.live.skipIf(!kernel)("interop with Python socket.send_fds / recv_fds, both ways", () =>
      run(
        Effect.gen(function* () {
          const file = examplePath()
          // Python sends an fd to a netfx listener
          const path = tempSocketPath("fd")
          const listener = yield* FdPassing.listen({ path })
          const accepted = yield* Deferred.make<string>()
          yield* Effect.forkScoped(
            listener.serve((client) =>
              Effect.gen(function* () {
                const r = yield* client.receiveFds(100, 2)
                const h = yield* FdPassing.toFileHandle(yield* (r.fds[0] as FdPassing.ReceivedFd).take)
                yield* Deferred.succeed(accepted, `${text(r.message)}:${text(yield* h.readAll)}`)
              }),
            ),
          )
          yield* python(
            `import socket,sys\ns=socket.socket(socket.AF_UNIX)\ns.connect(sys.argv[1])\nf=open(sys.argv[2])\nsocket.send_fds(s,[b"py"],[f.fileno()])\nprint("sent",flush=True)\nsys.stdin.read()`,
            [path, file],
          )
          assert.strictEqual(yield* Deferred.await(accepted), "py:Test file")

          // netfx sends an fd to a Python listener
          const pyPath = tempSocketPath("py")
          const py = yield* python(
            `import socket,sys,os\ns=socket.socket(socket.AF_UNIX)\ns.bind(sys.argv[1])\ns.listen(1)\nprint("ready",flush=True)\nc,_=s.accept()\nmsg,fds,flags,addr=socket.recv_fds(c,100,4)\nprint(msg.decode(), len(fds), os.read(fds[0],100).decode(),flush=True)`,
            [pyPath],
          )
          assert.strictEqual(py.firstLine, "ready")
          const conn = yield* FdPassing.connect({ path: pyPath })
          const fd = fs.openSync(file, "r")
          yield* conn.sendFds(bytes("nx"), [fd])
          fs.closeSync(fd)
          const out = yield* pythonExit(py)
          assert.include(out.output, "nx 1 Test file")
        }),
      ),
    )

    it.live("fd-passing listener: stale path replaced, live path not stolen", () =>
      run(
        Effect.gen(function* () {
          const path = tempSocketPath("fd")
          yield* Effect.scoped(FdPassing.listen({ path, removeOnClose: false }))
          if (kernel) assert.isTrue(fs.lstatSync(path).isSocket())
          const listener = yield* FdPassing.listen({ path })
          // the listener that replaced the stale file is the one connects reach
          const client = yield* FdPassing.connect({ path })
          const server = yield* listener.accept
          yield* client.send(bytes("reached"))
          assert.strictEqual(text(yield* server.receive()), "reached")
          const e = yield* Effect.flip(Effect.scoped(FdPassing.listen({ path })))
          assert.strictEqual(e._tag === "ListenFailed" ? e.code : e._tag, "EADDRINUSE")
        }),
      ),
    )
  })
}
