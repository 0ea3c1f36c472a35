/**
 * asyncio-style streams. The "fed" tests port CPython's
 * Lib/test/test_asyncio/test_streams.py cases for behaviours the asyncio
 * documentation promises (feed_data / feed_eof become a fed fake stream with
 * exact chunk boundaries); the transport tests run the same API over real
 * TCP (NodeNetwork) and the in-memory network.
 */

import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Asyncio, Attribute, MemoryNetwork, NetError, type Network, SocketAddress } from "@netfx/core"
import { Certs, eventually, Peers } from "@netfx/core/testing"
import { NodeNetwork } from "@netfx/node"
import * as Chunk from "effect/Chunk"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { bytes, concatBytes, feedStream, text, transports } from "./support/streams.ts"

/** A reader/writer pair over a fed stream (CPython's `StreamReader()` + `feed_data`). */
const fed = (options?: Asyncio.StreamOptions) =>
  Effect.gen(function* () {
    const f = feedStream()
    const [reader, writer] = yield* Asyncio.fromStream(f.stream, options)
    return { f, reader, writer }
  })

describe("Asyncio StreamReader (ported from CPython test_streams)", () => {
  it.scoped("read(0) returns b'' and consumes nothing", () =>
    Effect.gen(function* () {
      const { f, reader } = yield* fed()
      f.feed("data")
      assert.strictEqual((yield* reader.read(0)).length, 0)
      assert.strictEqual(text(yield* reader.read(10)), "data")
    }),
  )

  it.scoped("read(n) returns what is there, up to n; line breaks do not matter", () =>
    Effect.gen(function* () {
      const { f, reader } = yield* fed()
      f.feed("line1")
      f.feed("line2")
      assert.strictEqual(text(yield* reader.read(5)), "line1")
      assert.strictEqual(text(yield* reader.read(5)), "line2")
      const waiting = yield* Effect.fork(reader.read(30))
      f.feed("line3\n")
      assert.strictEqual(text(yield* Fiber.join(waiting)), "line3\n")
    }),
  )

  it.scoped("read returns b'' only at EOF", () =>
    Effect.gen(function* () {
      const { f, reader } = yield* fed()
      const waiting = yield* Effect.fork(reader.read(1024))
      f.feedEof()
      assert.strictEqual((yield* Fiber.join(waiting)).length, 0)
      assert.isTrue(reader.atEof())
    }),
  )

  it.scoped("read(-1) reads until EOF", () =>
    Effect.gen(function* () {
      const { f, reader } = yield* fed()
      const waiting = yield* Effect.fork(reader.read())
      f.feed("chunk1\n")
      f.feed("chunk2")
      f.feedEof()
      assert.strictEqual(text(yield* Fiber.join(waiting)), "chunk1\nchunk2")
      assert.strictEqual((yield* reader.read()).length, 0)
    }),
  )

  it.scoped("a broken connection fails read with a typed error, not an empty read", () =>
    Effect.gen(function* () {
      const { f, reader } = yield* fed()
      f.feed("line\n")
      f.break(new NetError.BrokenResource({ operation: "receive", code: "ECONNRESET" }))
      assert.strictEqual(text(yield* reader.read(2)), "li")
      assert.strictEqual(text(yield* reader.readline()), "ne\n")
      const e = yield* Effect.flip(reader.read(2))
      assert.strictEqual(e._tag, "BrokenResource")
    }),
  )

  it.scoped("readline joins chunks up to the newline", () =>
    Effect.gen(function* () {
      const { f, reader } = yield* fed()
      f.feed("chunk1 ")
      const waiting = yield* Effect.fork(reader.readline())
      f.feed("chunk2 ")
      f.feed("chunk3 ")
      f.feed("\n chunk4")
      assert.strictEqual(text(yield* Fiber.join(waiting)), "chunk1 chunk2 chunk3 \n")
      f.feedEof()
      assert.strictEqual(text(yield* reader.read()), " chunk4")
    }),
  )

  it.scoped("readline limit with existing data: the overlong line is dropped", () =>
    Effect.gen(function* () {
      const a = yield* fed({ limit: 3 })
      a.f.feed("li")
      a.f.feed("ne1\nline2\n")
      assert.strictEqual((yield* Effect.flip(a.reader.readline()))._tag, "LimitExceeded")
      // the buffer holds the rest after the dropped line
      a.f.feedEof()
      assert.strictEqual(text(yield* a.reader.read()), "line2\n")

      const b = yield* fed({ limit: 3 })
      b.f.feed("li")
      b.f.feed("ne1")
      b.f.feed("li")
      assert.strictEqual((yield* Effect.flip(b.reader.readline()))._tag, "LimitExceeded")
      b.f.feed("ne2\n")
      b.f.feedEof()
      // the buffered part of the overlong line ("line1": the search stops reading once it passed the
      // limit) was dropped; the rest of the stream is intact
      assert.strictEqual(text(yield* b.reader.read()), "line2\n")
    }),
  )

  it.scoped("readline limit: a line of exactly limit bytes passes, one more fails", () =>
    Effect.gen(function* () {
      const { f, reader } = yield* fed({ limit: 7 })
      f.feed("1234567\n")
      assert.strictEqual(text(yield* reader.readline()), "1234567\n")
      f.feed("12345678\n")
      assert.strictEqual((yield* Effect.flip(reader.readline()))._tag, "LimitExceeded")
      f.feed("abc\n")
      assert.strictEqual(text(yield* reader.readline()), "abc\n")
    }),
  )

  it.scoped("readline at EOF returns the partial line, then b''", () =>
    Effect.gen(function* () {
      const { f, reader } = yield* fed()
      f.feed("line1\nsome data")
      f.feedEof()
      assert.strictEqual(text(yield* reader.readline()), "line1\n")
      assert.strictEqual(text(yield* reader.readline()), "some data")
      assert.strictEqual((yield* reader.readline()).length, 0)
      assert.isTrue(reader.atEof())
    }),
  )

  it.scoped("readuntil: separator included, across chunks", () =>
    Effect.gen(function* () {
      const { f, reader } = yield* fed()
      f.feed("QWEaa")
      f.feed("XYaa")
      const waiting = yield* Effect.fork(reader.readuntil("aaa"))
      f.feed("a")
      assert.strictEqual(text(yield* Fiber.join(waiting)), "QWEaaXYaaa")
      f.feed("lineAAA")
      assert.strictEqual(text(yield* reader.readuntil("AAA")), "lineAAA")
      assert.strictEqual((yield* Effect.flip(reader.readuntil("")))._tag, "InvalidArgument")
    }),
  )

  it.scoped("readuntil at EOF: IncompleteRead with the partial bytes; the buffer is consumed", () =>
    Effect.gen(function* () {
      const { f, reader } = yield* fed()
      f.feed("some dataAA")
      f.feedEof()
      const e = yield* Effect.flip(reader.readuntil("AAA"))
      assert.strictEqual(e._tag, "IncompleteRead")
      if (e._tag === "IncompleteRead") {
        assert.strictEqual(text(e.partial), "some dataAA")
        assert.isUndefined(e.expected)
      }
      assert.strictEqual((yield* reader.read()).length, 0)
    }),
  )

  it.scoped("readuntil limit, separator not found / found beyond the limit: LimitExceeded keeps the data", () =>
    Effect.gen(function* () {
      const { f, reader } = yield* fed({ limit: 3 })
      f.feed("some dataAA")
      const notFound = yield* Effect.flip(reader.readuntil("AAA"))
      assert.strictEqual(notFound._tag, "LimitExceeded")
      f.feed("A")
      const found = yield* Effect.flip(reader.readuntil("AAA"))
      assert.strictEqual(found._tag, "LimitExceeded")
      if (found._tag === "LimitExceeded") assert.strictEqual(found.limit, 3)
      f.feedEof()
      assert.strictEqual(text(yield* reader.read()), "some dataAAA")
    }),
  )

  it.scoped("readuntil limit: separator within the limit is found", () =>
    Effect.gen(function* () {
      const { f, reader } = yield* fed({ limit: 4 })
      f.feed("someAAAmore")
      assert.strictEqual(text(yield* reader.readuntil("AAA")), "someAAA")
    }),
  )

  it.scoped("readexactly: zero, negative, across chunks", () =>
    Effect.gen(function* () {
      const { f, reader } = yield* fed()
      assert.strictEqual((yield* reader.readexactly(0)).length, 0)
      assert.strictEqual((yield* Effect.flip(reader.readexactly(-1)))._tag, "InvalidArgument")
      const waiting = yield* Effect.fork(reader.readexactly(10))
      f.feed("chunk")
      f.feed("chunk")
      f.feed("chunk")
      assert.strictEqual(text(yield* Fiber.join(waiting)), "chunkchunk")
      assert.strictEqual(text(yield* reader.read(100)), "chunk")
    }),
  )

  it.scoped("readexactly at EOF: IncompleteRead with partial and expected", () =>
    Effect.gen(function* () {
      const { f, reader } = yield* fed()
      const waiting = yield* Effect.fork(reader.readexactly(10))
      f.feed("chunk")
      f.feedEof()
      const e = yield* Effect.flip(Fiber.join(waiting))
      assert.strictEqual(e._tag, "IncompleteRead")
      if (e._tag === "IncompleteRead") {
        assert.strictEqual(text(e.partial), "chunk")
        assert.strictEqual(e.expected, 10)
      }
      assert.strictEqual((yield* reader.read()).length, 0)
    }),
  )

  it.scoped("atEof: only once EOF was seen and the buffer is empty", () =>
    Effect.gen(function* () {
      const { f, reader } = yield* fed()
      assert.isFalse(reader.atEof())
      f.feed("some data\n")
      assert.isFalse(reader.atEof())
      yield* reader.readline()
      assert.isFalse(reader.atEof())
      f.feed("some data\n")
      f.feedEof()
      yield* reader.readline()
      assert.strictEqual((yield* reader.read()).length, 0)
      assert.isTrue(reader.atEof())
    }),
  )

  it.scoped("lines iterates like `async for line in reader`", () =>
    Effect.gen(function* () {
      const { f, reader } = yield* fed()
      f.feed("a\nb")
      f.feed("\nc")
      f.feedEof()
      assert.deepStrictEqual(Chunk.toArray(yield* Stream.runCollect(reader.lines)).map(text), ["a\n", "b\n", "c"])
    }),
  )

  it.live("an interrupted readexactly/readuntil loses no byte", () =>
    Effect.gen(function* () {
      const { f, reader } = yield* fed()
      const a = yield* Effect.fork(reader.readexactly(6))
      f.feed("abc")
      yield* Effect.yieldNow()
      yield* Fiber.interrupt(a)
      const b = yield* Effect.fork(reader.readuntil("!"))
      f.feed("def")
      yield* Effect.yieldNow()
      yield* Fiber.interrupt(b)
      f.feed("!")
      assert.strictEqual(text(yield* reader.readuntil("!")), "abcdef!")
    }).pipe(Effect.scoped),
  )
})

describe("Asyncio StreamWriter (fed)", () => {
  it.live("write queues, the flusher sends in order; writelines; close flushes then closes", () =>
    Effect.gen(function* () {
      const { f, writer } = yield* fed()
      yield* writer.write("Hello ")
      yield* writer.writelines([bytes("World"), "!", ""])
      yield* writer.drain
      yield* writer.close
      assert.isTrue(writer.isClosing())
      yield* writer.waitClosed
      assert.strictEqual(text(concatBytes(f.sent)), "Hello World!")
      assert.isTrue(f.state.closed)
    }).pipe(Effect.scoped),
  )

  it.live("write after close fails with ClosedResource; drain too", () =>
    Effect.gen(function* () {
      const { writer } = yield* fed()
      yield* writer.close
      const e = yield* Effect.flip(writer.write("late"))
      assert.strictEqual(e._tag, "ClosedResource")
      assert.strictEqual((yield* Effect.flip(writer.drain))._tag, "ClosedResource")
      yield* writer.waitClosed
    }).pipe(Effect.scoped),
  )

  it.live("writeEof half-closes after the queued bytes; later writes fail", () =>
    Effect.gen(function* () {
      const { f, writer } = yield* fed()
      assert.isTrue(writer.canWriteEof())
      yield* writer.write("last words")
      yield* writer.writeEof
      assert.strictEqual((yield* Effect.flip(writer.write("more")))._tag, "ClosedResource")
      yield* eventually(() => f.state.eofSent, "eof sent")
      assert.strictEqual(text(concatBytes(f.sent)), "last words")
    }).pipe(Effect.scoped),
  )

  it.live("a failed send surfaces on drain, write and waitClosed", () =>
    Effect.gen(function* () {
      const { f, writer } = yield* fed()
      f.break(new NetError.BrokenResource({ operation: "send", code: "EPIPE" }))
      yield* writer.write("x")
      yield* eventually(() => writer.getWriteBufferSize() === 0, "send attempted")
      assert.strictEqual((yield* Effect.flip(writer.drain))._tag, "BrokenResource")
      assert.strictEqual((yield* Effect.flip(writer.write("y")))._tag, "BrokenResource")
      yield* writer.close
      assert.strictEqual((yield* Effect.flip(writer.waitClosed))._tag, "BrokenResource")
    }).pipe(Effect.scoped),
  )

  it.live("watermarks: defaults, asyncio's rules, invalid limits", () =>
    Effect.gen(function* () {
      const { writer } = yield* fed({ writeBufferLimits: { low: 1000 } })
      yield* writer.setWriteBufferLimits({ high: 10 })
      const e = yield* Effect.flip(writer.setWriteBufferLimits({ high: 1, low: 2 }))
      assert.strictEqual(e._tag, "InvalidArgument")
      const bad = yield* Effect.flip(Asyncio.fromStream(feedStream().stream, { limit: 0 }))
      assert.strictEqual(bad._tag, "InvalidArgument")
    }).pipe(Effect.scoped),
  )

  it.live("extraInfo: peername, sockname, socket facts, TLS facts when present, defaults", () =>
    Effect.gen(function* () {
      const f = feedStream()
      const tls = {
        cipher: { name: "TLS_AES_128_GCM_SHA256", standardName: "TLS_AES_128_GCM_SHA256" },
        peerCertificate: Option.some({ subject: "CN=x" }),
        alpnProtocol: Option.some("h2"),
        serverName: Option.none(),
        version: "TLSv1.3",
      }
      const facts: Attribute.Facts = {
        localAddress: f.stream.localAddress,
        remoteAddress: f.stream.remoteAddress,
        fd: undefined,
        extra: { tls: { ...tls, serverSide: false, authorized: true } },
      }
      const [, writer] = yield* Asyncio.fromStream({ ...f.stream, attribute: (key) => Attribute.get(facts, key) })
      assert.deepStrictEqual(writer.extraInfo("peername"), SocketAddress.ipv4("127.0.0.1", 2))
      assert.deepStrictEqual(writer.extraInfo("sockname"), SocketAddress.ipv4("127.0.0.1", 1))
      assert.strictEqual((writer.extraInfo("socket") as { family: string }).family, "ipv4")
      assert.deepStrictEqual(writer.extraInfo("cipher"), tls.cipher)
      assert.deepStrictEqual(writer.extraInfo("peercert"), { subject: "CN=x" })
      assert.strictEqual(writer.extraInfo("tls_version"), "TLSv1.3")
      assert.strictEqual(writer.extraInfo("server_hostname", "none"), "none")
      assert.strictEqual(writer.extraInfo("alpn_protocol"), "h2")
      assert.strictEqual(writer.extraInfo("ssl_object"), facts.extra.tls)
      assert.strictEqual(writer.extraInfo("custom"), undefined)
      assert.strictEqual(writer.extraInfo("nothing", "dflt"), "dflt")
      const [, plain] = yield* Asyncio.fromStream(feedStream().stream)
      assert.isUndefined(plain.extraInfo("peercert"))
    }).pipe(Effect.scoped),
  )
})

for (const transport of transports) {
  const run = <A, E>(effect: Effect.Effect<A, E, Scope.Scope | Network.Network>) =>
    effect.pipe(Effect.scoped, Effect.provide(transport.layer))

  const portOf = (server: Asyncio.Server) => (server.address as SocketAddress.Ipv4).port

  describe(`Asyncio over ${transport.name}`, () => {
    it.live("echo: startServer + openConnection (seed 002)", () =>
      run(
        Effect.gen(function* () {
          const server = yield* Asyncio.startServer(
            (reader, writer) =>
              Effect.gen(function* () {
                const data = yield* reader.read(100)
                yield* writer.write(data)
                yield* writer.drain
                yield* writer.close
              }),
            transport.host,
            0,
          )
          assert.isTrue(server.isServing())
          const [reader, writer] = yield* Asyncio.openConnection(transport.host, portOf(server))
          yield* writer.write("Hello World!")
          assert.strictEqual(text(yield* reader.read(100)), "Hello World!")
          assert.strictEqual((yield* reader.read(100)).length, 0)
          yield* writer.close
          yield* writer.waitClosed
          const forever = yield* Effect.fork(server.serveForever)
          yield* server.close
          yield* Fiber.join(forever)
          yield* server.waitClosed
          assert.isFalse(server.isServing())
        }),
      ),
    )

    it.live("a handler's writes are flushed when it returns; peername/sockname", () =>
      run(
        Effect.gen(function* () {
          const peer = yield* Deferred.make<SocketAddress.SocketAddress>()
          const big = new Uint8Array(3 * 1024 * 1024).fill(7)
          const server = yield* Asyncio.startServer(
            (_reader, writer) =>
              Effect.gen(function* () {
                yield* Deferred.succeed(peer, writer.extraInfo("peername"))
                yield* writer.write(big)
                yield* writer.write("END")
              }),
            transport.host,
          )
          const [reader, writer] = yield* Asyncio.openConnection(transport.host, portOf(server))
          const all = yield* reader.read()
          assert.strictEqual(all.length, big.length + 3)
          assert.strictEqual(text(all.subarray(big.length)), "END")
          assert.deepStrictEqual(yield* Deferred.await(peer), writer.extraInfo("sockname"))
        }),
      ),
    )

    it.live("drain waits above the high watermark until the buffer is at most the low watermark", () =>
      run(
        Effect.gen(function* () {
          const [client, server] = yield* transport.pair
          const [, writer] = yield* Asyncio.fromStream(client, { writeBufferLimits: { high: 65536, low: 16384 } })
          const [reader] = yield* Asyncio.fromStream(server)
          yield* writer.write(new Uint8Array(100))
          yield* writer.drain // below the high watermark: returns at once
          const size = 8 * 1024 * 1024
          yield* writer.write(new Uint8Array(size))
          const draining = yield* Effect.fork(writer.drain)
          const received = yield* reader.readexactly(size + 100)
          yield* Fiber.join(draining)
          assert.isAtMost(writer.getWriteBufferSize(), 16384)
          assert.strictEqual(received.length, size + 100)
        }),
      ),
    )

    it.live("drain after the peer closed fails with BrokenResource", () =>
      run(
        Effect.gen(function* () {
          const [client, server] = yield* transport.pair
          const [, writer] = yield* Asyncio.fromStream(client)
          yield* server.close
          const chunk = new Uint8Array(65536)
          let error: Asyncio.WriterError | undefined
          for (let i = 0; i < 2000 && error === undefined; i++) {
            const r = yield* Effect.either(Effect.zipRight(writer.write(chunk), writer.drain))
            if (r._tag === "Left") error = r.left
          }
          assert.strictEqual(error?._tag, "BrokenResource")
        }),
      ),
    )

    it.live("writeEof: the peer reads to EOF and can still reply", () =>
      run(
        Effect.gen(function* () {
          const [client, server] = yield* transport.pair
          const [creader, cwriter] = yield* Asyncio.fromStream(client)
          const [sreader, swriter] = yield* Asyncio.fromStream(server)
          yield* cwriter.write("question")
          yield* cwriter.writeEof
          assert.strictEqual(text(yield* sreader.read()), "question")
          yield* swriter.write("answer")
          yield* swriter.close
          assert.strictEqual(text(yield* creader.read()), "answer")
          assert.isTrue(creader.atEof())
        }),
      ),
    )

    it.live("line protocol: readline/readuntil/readexactly over the wire", () =>
      run(
        Effect.gen(function* () {
          const [client, server] = yield* transport.pair
          const [, writer] = yield* Asyncio.fromStream(client)
          const [reader] = yield* Asyncio.fromStream(server, { limit: 16 })
          yield* writer.writelines(["HELLO\n", "LEN 5\n", "abcde", "this line is far too long\n", "tail"])
          yield* writer.close
          assert.strictEqual(text(yield* reader.readline()), "HELLO\n")
          assert.strictEqual(text(yield* reader.readuntil(" ")), "LEN ")
          assert.strictEqual(text(yield* reader.readline()), "5\n")
          assert.strictEqual(text(yield* reader.readexactly(5)), "abcde")
          assert.strictEqual((yield* Effect.flip(reader.readuntil("\n")))._tag, "LimitExceeded")
          assert.strictEqual((yield* Effect.flip(reader.readline()))._tag, "LimitExceeded")
          assert.strictEqual(text(yield* reader.readline()), "tail")
          assert.strictEqual((yield* reader.readline()).length, 0)
        }),
      ),
    )

    it.live("atEof turns true once the peer's end arrived and every byte was read, with no read seeing it", () =>
      run(
        Effect.gen(function* () {
          const [client, server] = yield* transport.pair
          const [reader] = yield* Asyncio.fromStream(server)
          // a length-prefixed protocol loop as asyncio users write it: `while not reader.at_eof()`
          yield* client.send(bytes("\x00\x03abc\x00\x02de"))
          yield* client.sendEof
          const frames: Array<string> = []
          while (!reader.atEof()) {
            const header = yield* reader.readexactly(2)
            frames.push(text(yield* reader.readexactly((header[0] as number) * 256 + (header[1] as number))))
            if (frames.length === 2) yield* eventually(() => reader.atEof(), "atEof after the last frame")
          }
          assert.deepStrictEqual(frames, ["abc", "de"])
          assert.strictEqual((yield* reader.read(10)).length, 0)
          assert.isTrue(reader.atEof())
        }),
      ),
    )
  })
}

describe("Asyncio: broken connections, Unix sockets, TLS (Node)", () => {
  it.live("a reset surfaces on read as BrokenResource after the bytes before it (memory network)", () =>
    Effect.gen(function* () {
      const [client, server] = yield* transports[1]!.pair
      const [reader] = yield* Asyncio.fromStream(client)
      yield* server.send(bytes("partial line"))
      assert.strictEqual(text(yield* reader.readexactly(7)), "partial")
      const control = yield* MemoryNetwork.Control
      assert.isAbove(yield* control.reset(), 0)
      // what arrived before the reset is still returned, then the typed error: never a silent empty read
      const rest = yield* Effect.either(reader.read(100))
      if (rest._tag === "Right") {
        assert.strictEqual(text(rest.right), " line")
        assert.strictEqual((yield* Effect.flip(reader.read(100)))._tag, "BrokenResource")
      } else assert.strictEqual(rest.left._tag, "BrokenResource")
    }).pipe(Effect.scoped, Effect.provide(MemoryNetwork.layer())),
  )

  it.live("a reset surfaces on read as BrokenResource (real TCP, Python peer with SO_LINGER 0)", () =>
    Effect.gen(function* () {
      const peer = yield* Peers.python(`
import socket, struct, sys
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(1)
print(s.getsockname()[1], flush=True)
c, _ = s.accept()
c.sendall(b"hello\\n")
c.recv(1)
c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
c.close()
`)
      const [reader, writer] = yield* Asyncio.openConnection("127.0.0.1", Number(peer.firstLine))
      assert.strictEqual(text(yield* reader.readline()), "hello\n")
      yield* writer.write("x")
      const e = yield* Effect.flip(reader.read(100))
      assert.strictEqual(e._tag, "BrokenResource")
      if (e._tag === "BrokenResource") assert.strictEqual(e.code, "ECONNRESET")
    }).pipe(Effect.scoped, Effect.provide(NodeNetwork.layer)),
  )

  it.live("openUnixConnection / startUnixServer", () =>
    Effect.gen(function* () {
      const dir = yield* Effect.acquireRelease(
        Effect.sync(() => mkdtempSync(join(tmpdir(), "netfx-asyncio-"))),
        (d) => Effect.sync(() => rmSync(d, { recursive: true, force: true })),
      )
      const path = join(dir, "echo.sock")
      const server = yield* Asyncio.startUnixServer(
        (reader, writer) =>
          Effect.gen(function* () {
            const line = yield* reader.readline()
            yield* writer.write(line)
            yield* writer.write(SocketAddress.format(writer.extraInfo("sockname")))
          }),
        path,
      )
      assert.deepStrictEqual(server.address, SocketAddress.unixPath(path))
      const [reader, writer] = yield* Asyncio.openUnixConnection(path, { limit: 1024 })
      yield* writer.write("ping\n")
      assert.strictEqual(text(yield* reader.readline()), "ping\n")
      assert.include(text(yield* reader.read()), "echo.sock")
      assert.deepStrictEqual(writer.extraInfo("peername"), SocketAddress.unixPath(path))
    }).pipe(Effect.scoped, Effect.provide(NodeNetwork.layer)),
  )

  it.live("TLS: openConnection({ tls }) / startServer({ tls }) and the TLS extra info", () =>
    Effect.gen(function* () {
      const certs = yield* Certs.make
      const cipher = yield* Deferred.make<unknown>()
      const server = yield* Asyncio.startServer(
        (reader, writer) =>
          Effect.gen(function* () {
            yield* Deferred.succeed(cipher, writer.extraInfo("cipher"))
            yield* writer.write(yield* reader.readline())
          }),
        "127.0.0.1",
        0,
        { tls: { cert: certs.server.cert, key: certs.server.key, alpnProtocols: ["echo/1"] } },
      )
      const port = (server.address as SocketAddress.Ipv4).port
      const [reader, writer] = yield* Asyncio.openConnection("127.0.0.1", port, {
        tls: { ca: certs.ca.cert, alpnProtocols: ["echo/1"] },
      })
      yield* writer.write("secret\n")
      assert.strictEqual(text(yield* reader.readline()), "secret\n")
      assert.strictEqual(writer.extraInfo("alpn_protocol"), "echo/1")
      assert.match(String(writer.extraInfo("tls_version")), /^TLSv1\.[23]$/)
      assert.isDefined(writer.extraInfo("peercert"))
      assert.isFalse(writer.extraInfo("server_side"))
      assert.deepStrictEqual(yield* Deferred.await(cipher), writer.extraInfo("cipher"))
    }).pipe(Effect.scoped, Effect.provide(NodeNetwork.layer)),
  )
})

describe("Asyncio against Python's asyncio (Node)", () => {
  it.live("a Python asyncio client talks to a netfx startServer; a netfx client talks to a Python asyncio server", () =>
    Effect.gen(function* () {
      // netfx server: upper-cases lines until EOF, then answers with a length-prefixed summary
      const server = yield* Asyncio.startServer(
        (reader, writer) =>
          Effect.gen(function* () {
            let count = 0
            while (true) {
              const line = yield* reader.readline()
              if (line.length === 0) break
              count++
              yield* writer.write(text(line).toUpperCase())
              yield* writer.drain
            }
            const summary = bytes(`${count} lines`)
            yield* writer.write(new Uint8Array([summary.length]))
            yield* writer.write(summary)
          }),
        "127.0.0.1",
      )
      const port = (server.address as SocketAddress.Ipv4).port
      const client = yield* Peers.python(
        `
import asyncio, sys
async def main(port):
    print("ready", flush=True)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    for word in ["alpha", "beta", "gamma"]:
        writer.write(word.encode() + b"\\n")
        await writer.drain()
        print((await reader.readline()).decode().strip(), flush=True)
    writer.write_eof()
    n = (await reader.readexactly(1))[0]
    print((await reader.readexactly(n)).decode(), flush=True)
    print(repr(await reader.read()), flush=True)
    writer.close()
    await writer.wait_closed()
asyncio.run(main(int(sys.argv[1])))
`,
        [String(port)],
      )
      const result = yield* Peers.pythonExit(client)
      assert.strictEqual(result.code, 0)
      assert.strictEqual(result.output, "ready\nALPHA\nBETA\nGAMMA\n3 lines\nb''\n")

      // Python server: readuntil/readexactly semantics on its side, ours on this side
      const pyServer = yield* Peers.python(`
import asyncio
async def handle(reader, writer):
    head = await reader.readuntil(b"\\r\\n\\r\\n")
    body = await reader.readexactly(5)
    writer.write(b"got " + str(len(head)).encode() + b" " + body + b"\\nbye")
    await writer.drain()
    writer.close()
async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()
asyncio.run(main())
`)
      const [reader, writer] = yield* Asyncio.openConnection("127.0.0.1", Number(pyServer.firstLine))
      yield* writer.writelines(["POST / HTTP/1.0\r\n", "Length: 5\r\n\r\n", "he", "llo"])
      assert.strictEqual(text(yield* reader.readuntil("\n")), "got 30 hello\n")
      const tail = yield* Effect.flip(reader.readexactly(10))
      assert.strictEqual(tail._tag, "IncompleteRead")
      if (tail._tag === "IncompleteRead") assert.strictEqual(text(tail.partial), "bye")
      assert.isTrue(reader.atEof())
    }).pipe(Effect.scoped, Effect.provide(NodeNetwork.layer)),
  )
})

describe("Asyncio server shutdown", () => {
  it.live("closing the server's Scope does not wait for a client that never reads", () =>
    Effect.gen(function* () {
      const written = yield* Deferred.make<void>()
      const big = new Uint8Array(8 * 1024 * 1024)
      const serverScope = yield* Scope.make()
      const server = yield* Asyncio.startServer(
        // two writes: the stream takes the first at once, the second waits for a drain that never comes
        (_reader, writer) => Effect.zipRight(writer.writelines([big, big]), Deferred.succeed(written, undefined)),
        "127.0.0.1",
      ).pipe(Scope.extend(serverScope))
      const port = (server.address as SocketAddress.Ipv4).port
      const [, writer] = yield* Asyncio.openConnection("127.0.0.1", port)
      yield* Deferred.await(written)
      // the handler returned and its writer is flushing 16 MiB to a client that does not read
      yield* Scope.close(serverScope, Exit.void)
      assert.isFalse(server.isServing())
      assert.isFalse(writer.isClosing())
    }).pipe(Effect.scoped, Effect.provide(NodeNetwork.layer)),
  )
})
