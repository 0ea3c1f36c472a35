import { assert, describe, it } from "@effect/vitest"
import { BunNetwork } from "@netfx/bun"
import { FdPassing, SocketAddress, Tcp } from "@netfx/core"
import { nativeContract, Peers } from "@netfx/core/testing"
import * as Effect from "effect/Effect"

nativeContract({ name: "bun", layer: BunNetwork.layer, openFds: Peers.openFds })

const IPPROTO_TCP = 6
const TCP_NODELAY = 1

describe("socket options through the native addon (bun)", () => {
  it.live("TCP_NODELAY is on for Tcp.connect and accepted connections by default, off when asked", () =>
    Effect.gen(function* () {
      const listener = yield* Tcp.listen({ host: "127.0.0.1", port: 0 })
      const port = SocketAddress.isIp(listener.address) ? listener.address.port : 0
      const client = yield* Tcp.connect({ host: "127.0.0.1", port })
      const server = yield* listener.accept
      assert.strictEqual(yield* FdPassing.getSocketOption(client.fd as number, IPPROTO_TCP, TCP_NODELAY), 1)
      assert.strictEqual(yield* FdPassing.getSocketOption(server.fd as number, IPPROTO_TCP, TCP_NODELAY), 1)
      const slow = yield* Tcp.connect({ host: "127.0.0.1", port, noDelay: false })
      assert.strictEqual(yield* FdPassing.getSocketOption(slow.fd as number, IPPROTO_TCP, TCP_NODELAY), 0)
    }).pipe(Effect.scoped, Effect.provide(BunNetwork.layer)),
  )

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
      yield* Tcp.connect({ host: "127.0.0.1", port: SocketAddress.isIp(listener.address) ? listener.address.port : 0 })
      const on = yield* listener.accept
      assert.strictEqual(yield* FdPassing.getSocketOption(on.fd as number, SOL_SOCKET, SO_KEEPALIVE), 1)
      assert.strictEqual(yield* FdPassing.getSocketOption(on.fd as number, IPPROTO_TCP, TCP_KEEPIDLE), 45)
      const bad = yield* Effect.flip(Tcp.listen({ host: "127.0.0.1", port: 0, keepAlive: "forever" as never }))
      assert.strictEqual(bad._tag, "InvalidArgument")
    }).pipe(Effect.scoped, Effect.provide(BunNetwork.layer)),
  )
})
