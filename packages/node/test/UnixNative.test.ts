import { assert, describe, it } from "@effect/vitest"
import { FdPassing, Network, SocketAddress, Tcp, UnixDatagram } from "@netfx/core"
import { NativeDriver } from "@netfx/core/Driver"
import { nativeContract, Peers } from "@netfx/core/testing"
import { NodeNetwork } from "@netfx/node"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"

nativeContract({ name: "node", layer: NodeNetwork.layer, openFds: Peers.openFds })

const IPPROTO_TCP = 6
const TCP_NODELAY = 1

describe("socket options through the native addon (node)", () => {
  it.live("TCP_NODELAY is on for Tcp.connect and Tcp.listen connections by default, off when asked", () =>
    Effect.gen(function* () {
      const listener = yield* Tcp.listen({ host: "127.0.0.1", port: 0 })
      const port = SocketAddress.isIp(listener.address) ? listener.address.port : 0
      const client = yield* Tcp.connect({ host: "127.0.0.1", port })
      const server = yield* listener.accept
      assert.strictEqual(yield* FdPassing.getSocketOption(client.fd as number, IPPROTO_TCP, TCP_NODELAY), 1)
      assert.strictEqual(yield* FdPassing.getSocketOption(server.fd as number, IPPROTO_TCP, TCP_NODELAY), 1)
      const slow = yield* Tcp.connect({ host: "127.0.0.1", port, noDelay: false })
      assert.strictEqual(yield* FdPassing.getSocketOption(slow.fd as number, IPPROTO_TCP, TCP_NODELAY), 0)
      const e = yield* Effect.flip(FdPassing.getSocketOption(100_000, IPPROTO_TCP, TCP_NODELAY))
      assert.strictEqual(e._tag === "BrokenResource" ? e.code : e._tag, "EBADF")
    }).pipe(Effect.scoped, Effect.provide(NodeNetwork.layer)),
  )

  it.live("without the addon: Unsupported naming the fix; Unix streams and TCP still work", () => {
    const broken = Layer.succeed(Network.Network, {
      ...NodeNetwork.make(),
      // the real loader's fallback, with a require that fails as a missing build does
      native: NativeDriver.make({
        runtime: "node",
        load: () => {
          throw new Error("Cannot find module '@netfx/native'")
        },
        adoptStream: (NodeNetwork.make().native as NonNullable<Network.NetworkService["native"]>).adoptStream,
        file: (NodeNetwork.make().native as NonNullable<Network.NetworkService["native"]>).file,
      }),
    })
    return Effect.gen(function* () {
      const e1 = yield* Effect.flip(UnixDatagram.bind())
      assert.strictEqual(e1._tag, "Unsupported")
      const reason = e1._tag === "Unsupported" ? e1.reason : ""
      assert.include(reason, "Cannot find module '@netfx/native'")
      assert.include(reason, "pnpm rebuild @netfx/native")
      const e2 = yield* Effect.flip(FdPassing.socketpair())
      assert.strictEqual(e2._tag, "Unsupported")
      const listener = yield* Tcp.listen({ host: "127.0.0.1", port: 0 })
      assert.isTrue(SocketAddress.isIp(listener.address))
    }).pipe(Effect.scoped, Effect.provide(broken))
  })

  it.live("a loader that found no binary: Unsupported says what was tried and how to get the addon", () => {
    const native = NodeNetwork.make().native as NonNullable<Network.NetworkService["native"]>
    const noBinary = Layer.succeed(Network.Network, {
      ...NodeNetwork.make(),
      // what @netfx/native's loader exports when neither a prebuilt nor a local build loads
      native: NativeDriver.make({
        runtime: "node",
        load: () => ({
          binding: undefined,
          loadError: "no prebuilt binary for linux-x64-musl; build/Release/netfx_native.node is missing",
          fix: "see the README",
          runtime: "node",
          readiness: "libuv uv_poll",
          errnoName: (n) => `E${Math.abs(n)}`,
          watch: undefined,
        }),
        adoptStream: native.adoptStream,
        file: native.file,
      }),
    })
    return Effect.gen(function* () {
      const e = yield* Effect.flip(FdPassing.socketpair())
      assert.strictEqual(e._tag, "Unsupported")
      const reason = e._tag === "Unsupported" ? e.reason : ""
      assert.include(reason, "no prebuilt binary for linux-x64-musl; build/Release/netfx_native.node is missing")
      // wrapped in core's fix (its full wording is tested in core's test/NativeDriver.test.ts)
      assert.include(reason, "prebuilt for Linux x64 and arm64 with glibc")
      assert.include(reason, "`bun pm trust @netfx/native`")
    }).pipe(Effect.scoped, Effect.provide(noBinary))
  })
})
