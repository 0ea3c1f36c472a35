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
})
