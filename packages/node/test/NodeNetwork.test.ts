import * as net from "node:net"
import { assert, describe, it } from "@effect/vitest"
import { Attribute, FdPassing, type Network, Tcp } from "@netfx/core"
import { bytes, Peers, portOf, readAll, tcpContract, text } from "@netfx/core/testing"
import { NodeNetwork } from "@netfx/node"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"

tcpContract({
  name: "node",
  layer: NodeNetwork.layer,
  openFds: Peers.openFds,
  rss: Peers.rss,
  unresolvableHost: "nonexistent.invalid",
  blackhole: Peers.blackhole,
})

describe("Node: typed attributes and vectored send", () => {
  const run = <A, E>(effect: Effect.Effect<A, E, Scope.Scope | Network.Network>) =>
    effect.pipe(Effect.scoped, Effect.provide(NodeNetwork.layer))

  it.live("NodeNetwork.NativeSocket is the connection's net.Socket; Attribute.NativeHandle the same object", () =>
    run(
      Effect.gen(function* () {
        const listener = yield* Tcp.listen({ host: "127.0.0.1", port: 0 })
        const conn = yield* Tcp.connect({ host: "127.0.0.1", port: portOf(listener.address) })
        const socket = Option.getOrThrow(conn.attribute(NodeNetwork.NativeSocket))
        assert.instanceOf(socket, net.Socket)
        assert.strictEqual(socket.remotePort, portOf(listener.address))
        assert.strictEqual(Option.getOrThrow(conn.attribute(Attribute.NativeHandle)), socket)
        assert.deepStrictEqual(conn.attribute(Attribute.Fd), Option.fromNullable(conn.fd))
        // streams Node's sockets do not carry have no native socket
        const [a] = yield* FdPassing.socketpair()
        assert.isTrue(Option.isNone(a.attribute(NodeNetwork.NativeSocket)))
        assert.deepStrictEqual(a.attribute(Attribute.Fd), Option.some(a.fd))
      }),
    ),
  )

  it.live("send of several buffers is one _writev call on the socket, not one write per buffer", () =>
    run(
      Effect.gen(function* () {
        const listener = yield* Tcp.listen({ host: "127.0.0.1", port: 0 })
        const conn = yield* Tcp.connect({ host: "127.0.0.1", port: portOf(listener.address) })
        const server = yield* Scope.extend(listener.accept, yield* Effect.scope)
        const socket = Option.getOrThrow(conn.attribute(NodeNetwork.NativeSocket)) as net.Socket & {
          _writev: (chunks: ReadonlyArray<{ chunk: unknown }>, cb: (e?: Error | null) => void) => void
          _write: (chunk: unknown, encoding: string, cb: (e?: Error | null) => void) => void
        }
        const writev = socket._writev
        const write = socket._write
        let writevCalls = 0
        let writeCalls = 0
        socket._writev = function (this: net.Socket, chunks, cb) {
          writevCalls++
          return writev.call(this, chunks, cb)
        }
        socket._write = function (this: net.Socket, chunk, encoding, cb) {
          writeCalls++
          return write.call(this, chunk, encoding, cb)
        }
        yield* conn.send([bytes("a"), bytes("bb"), bytes("ccc")])
        yield* conn.sendEof
        assert.strictEqual(text(yield* readAll(server)), "abbccc")
        assert.strictEqual(writevCalls, 1)
        assert.strictEqual(writeCalls, 0)
      }),
    ),
  )
})
