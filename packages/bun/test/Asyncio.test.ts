/**
 * The platform-free buffered and asyncio-style streams of core, run under
 * Bun on BunNetwork (the full suites run on Node and in memory in
 * packages/core/test).
 */
import { assert, describe, it } from "@effect/vitest"
import { BunNetwork } from "@netfx/bun"
import { Asyncio, BufferedStream, Tcp } from "@netfx/core"
import { bytes, portOf, text } from "@netfx/core/testing"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import type * as Scope from "effect/Scope"

const run = <A, E>(effect: Effect.Effect<A, E, Scope.Scope | import("@netfx/core").Network.Network>) =>
  effect.pipe(Effect.scoped, Effect.provide(BunNetwork.layer))

const pair = Effect.gen(function* () {
  const listener = yield* Tcp.listen({ host: "127.0.0.1", port: 0 })
  const client = yield* Tcp.connect({ host: "127.0.0.1", port: portOf(listener.address) })
  const server = yield* listener.accept
  return [client, server] as const
})

describe("asyncio-style streams on Bun", () => {
  it.live("echo through startServer / openConnection", () =>
    run(
      Effect.gen(function* () {
        const server = yield* Asyncio.startServer(
          (reader, writer) => Effect.flatMap(reader.readline(), (line) => writer.write(line)),
          "127.0.0.1",
        )
        const [reader, writer] = yield* Asyncio.openConnection("127.0.0.1", portOf(server.address))
        yield* writer.write("Hello World!\n")
        assert.strictEqual(text(yield* reader.readline()), "Hello World!\n")
        assert.strictEqual((yield* reader.read()).length, 0)
        yield* server.close
        yield* server.serveForever
      }),
    ),
  )

  it.live("BufferedStream: IncompleteRead keeps the bytes; interrupted reads lose none", () =>
    run(
      Effect.gen(function* () {
        const [client, server] = yield* pair
        const b = BufferedStream.make(server)
        const first = yield* Effect.fork(b.receiveUntil("\n", 100))
        yield* client.send(bytes("abc"))
        yield* Fiber.interrupt(first)
        yield* client.send(bytes("def\ntail"))
        yield* client.sendEof
        assert.strictEqual(text(yield* b.receiveUntil("\n", 100)), "abcdef")
        const e = yield* Effect.flip(b.receiveExactly(10))
        assert.strictEqual(e._tag, "IncompleteRead")
        assert.strictEqual(text(yield* b.receiveExactly(4)), "tail")
      }),
    ),
  )

  it.live("drain waits for the low watermark; writeEof half-closes", () =>
    run(
      Effect.gen(function* () {
        const [client, server] = yield* pair
        const [replies, writer] = yield* Asyncio.fromStream(client)
        const [reader, back] = yield* Asyncio.fromStream(server)
        const size = 4 * 1024 * 1024
        yield* writer.write(new Uint8Array(size))
        const draining = yield* Effect.fork(writer.drain)
        assert.strictEqual((yield* reader.readexactly(size)).length, size)
        yield* Fiber.join(draining)
        assert.isAtMost(writer.getWriteBufferSize(), 16384)
        yield* writer.writeEof
        assert.strictEqual((yield* reader.read()).length, 0)
        yield* back.write("still open")
        yield* back.close
        yield* back.waitClosed
        assert.strictEqual(text(yield* replies.read()), "still open")
      }),
    ),
  )

  it.live("drain after the peer closed fails with BrokenResource", () =>
    run(
      Effect.gen(function* () {
        const [client, server] = yield* pair
        const [, writer] = yield* Asyncio.fromStream(client)
        yield* server.close
        let error: Asyncio.WriterError | undefined
        for (let i = 0; i < 2000 && error === undefined; i++) {
          const r = yield* Effect.either(Effect.zipRight(writer.write(new Uint8Array(65536)), writer.drain))
          if (r._tag === "Left") error = r.left
        }
        assert.strictEqual(error?._tag, "BrokenResource")
      }),
    ),
  )
})
