// The consumer test's type-check: a small application against the published
// declarations, compiled by TypeScript 5.x with strict settings and
// skipLibCheck off, once with moduleResolution NodeNext and once Bundler.

import { BunNetwork } from "@netfx/bun"
import { BufferedStream, type NetError, type SocketStream, Tcp, Udp, UnixDatagram } from "@netfx/core"
import * as MemoryNetwork from "@netfx/core/MemoryNetwork"
import * as PlatformSocket from "@netfx/core/PlatformSocket"
import * as Tls from "@netfx/core/Tls"
import { NodeNetwork } from "@netfx/node"
import { Effect } from "effect"

const echo = (conn: SocketStream.SocketStream): Effect.Effect<void, NetError.NetError> =>
  Effect.forever(Effect.flatMap(conn.receive(), (bytes) => conn.send(bytes)))

const server: Effect.Effect<void, NetError.NetError, never> = Effect.gen(function* () {
  const listener = yield* Tcp.listen({ host: "127.0.0.1", port: 0 })
  yield* Effect.forkScoped(listener.serve(echo))
  const conn = yield* Tcp.connect({ host: "127.0.0.1", port: 1234, tls: { serverName: "localhost" } })
  const lines = BufferedStream.make(conn)
  const line: Uint8Array = yield* lines.receiveLine()
  const udp = yield* Udp.bind({ port: 0 })
  yield* udp.sendTo(line, { host: "127.0.0.1", port: 9 })
  const unix = yield* UnixDatagram.bind({ path: "/tmp/app.sock" })
  yield* unix.sendTo(new Uint8Array([1]), "/tmp/other.sock")
}).pipe(Effect.scoped, Effect.provide(NodeNetwork.layer))

const runtimes = [NodeNetwork.layer, BunNetwork.layer, MemoryNetwork.layer()] as const
const info: typeof Tls.info = Tls.info
const platform: typeof PlatformSocket = PlatformSocket

export { info, platform, runtimes, server }
