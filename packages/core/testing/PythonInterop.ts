/**
 * Interop with a real peer across a language boundary: Python's asyncio
 * streams (standard library, `python3`) against netfx TCP, both ways.
 *
 * @since 0.1.0
 */
import { spawnSync } from "node:child_process"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { Network } from "../src/Network.ts"
import * as SocketAddress from "../src/SocketAddress.ts"
import * as Tcp from "../src/Tcp.ts"
import * as Peers from "./peers.ts"
import { bytes, type ContractEnvironment, readAll, text } from "./StreamContract.ts"

const PY_CLIENT = `
import asyncio, hashlib, sys
async def main(port, size):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"hello from asyncio\\n")
    line = await reader.readline()
    payload = bytes(i % 251 for i in range(size))
    writer.write(payload)
    await writer.drain()
    writer.write_eof()
    rest = await reader.read()
    writer.close()
    await writer.wait_closed()
    print(line.decode().strip(), len(rest), hashlib.sha256(rest).hexdigest() == hashlib.sha256(payload).hexdigest(), flush=True)
asyncio.run(main(int(sys.argv[1]), int(sys.argv[2])))
`

const PY_SERVER = `
import asyncio, hashlib
async def handle(reader, writer):
    data = await reader.read()
    writer.write(b"py:" + hashlib.sha256(data).hexdigest().encode() + b":" + str(len(data)).encode())
    await writer.drain()
    writer.close()
    await writer.wait_closed()
async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()
asyncio.run(main())
`

/**
 * Registers the Python asyncio interop tests for one environment.
 *
 * @since 0.1.0
 */
export const pythonInterop = (env: ContractEnvironment): void => {
  const run = <A, E>(effect: Effect.Effect<A, E, Scope.Scope | Network>) =>
    effect.pipe(Effect.scoped, Effect.provide(env.layer))
  const size = 1024 * 1024

  describe(`Python asyncio interop on ${env.name}`, () => {
    it.live("a Python asyncio client talks to a netfx server", () =>
      run(
        Effect.gen(function* () {
          const listener = yield* Tcp.listen({ host: "127.0.0.1", port: 0 })
          yield* Effect.forkScoped(
            listener.serve((conn) =>
              Effect.gen(function* () {
                // read the greeting line, answer it, then echo everything back
                let greeting = ""
                while (!greeting.includes("\n")) greeting += text(yield* conn.receive(1))
                yield* conn.send(bytes(`netfx got: ${greeting}`))
                while (true) {
                  const chunk = yield* Effect.catchTag(conn.receive(), "EndOfStream", () => Effect.succeed(undefined))
                  if (chunk === undefined) break
                  yield* conn.send(chunk)
                }
                yield* conn.sendEof
              }),
            ),
          )
          const port = SocketAddress.isIp(listener.address) ? listener.address.port : 0
          const py = yield* Peers.python(PY_CLIENT, [String(port), String(size)])
          assert.strictEqual(py.firstLine, `netfx got: hello from asyncio ${size} True`)
        }),
      ),
    )

    it.live("a netfx client talks to a Python asyncio server", () =>
      run(
        Effect.gen(function* () {
          const py = yield* Peers.python(PY_SERVER)
          const conn = yield* Tcp.connect({ host: "127.0.0.1", port: Number(py.firstLine) })
          const payload = new Uint8Array(size).map((_, i) => i % 251)
          for (let offset = 0; offset < size; offset += 65536)
            yield* conn.send(payload.subarray(offset, offset + 65536))
          yield* conn.sendEof
          const reply = text(yield* readAll(conn))
          const digest = yield* Effect.promise(() => crypto.subtle.digest("SHA-256", payload))
          const hex = Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("")
          assert.strictEqual(reply, `py:${hex}:${size}`)
        }),
      ),
    )

    it.live("connections reset before they are taken still report their IP family", () =>
      run(
        Effect.gen(function* () {
          const listener = yield* Tcp.listen({ host: "127.0.0.1", port: 0 })
          const port = (listener.address as SocketAddress.Ipv4).port
          // Python connects and resets 20 times while this thread is blocked, so every
          // connection is reset before the runtime accepts and wraps it.
          const result = spawnSync("python3", [
            "-c",
            `import socket,struct,sys
for _ in range(20):
    s=socket.create_connection(("127.0.0.1",int(sys.argv[1])))
    s.setsockopt(socket.SOL_SOCKET,socket.SO_LINGER,struct.pack("ii",1,0))
    s.close()`,
            String(port),
          ])
          assert.strictEqual(result.status, 0, String(result.stderr))
          // then one ordinary client marks the end of the queue
          const marker = yield* Tcp.connect({ host: "127.0.0.1", port })
          yield* marker.send(bytes("end"))
          const families: Array<string> = []
          while (true) {
            const conn = yield* listener.accept
            families.push(`${conn.family} ${conn.remoteAddress._tag}`)
            if (SocketAddress.format(conn.remoteAddress) === SocketAddress.format(marker.localAddress)) break
          }
          for (const f of families) assert.strictEqual(f, "ipv4 Ipv4", families.join(", "))
        }),
      ),
    )
  })
}
