import { assert, describe, it } from "@effect/vitest"
import { TextStream } from "@netfx/core"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as fc from "fast-check"
import { bytes, concatBytes, feedStream, scripted, transports } from "./support/streams.ts"

const decodeAll = (parts: ReadonlyArray<Uint8Array>, encoding?: string) =>
  Stream.fromIterable(parts).pipe(
    (s) => TextStream.decode(s, encoding === undefined ? {} : { encoding }),
    Stream.runCollect,
    Effect.map((c) => Chunk.toArray(c)),
  )

const receiveAll = (t: TextStream.TextStream) =>
  Stream.runCollect(TextStream.toStream(t)).pipe(Effect.map((c) => Chunk.toArray(c)))

describe("TextStream", () => {
  it.effect("a multi-byte character split across chunks comes out whole, at every split point", () =>
    Effect.gen(function* () {
      const sample = bytes("a€𝄞é")
      for (let i = 0; i <= sample.length; i++) {
        for (let j = i; j <= sample.length; j++) {
          const parts = [sample.subarray(0, i), sample.subarray(i, j), sample.subarray(j)]
          const out = yield* decodeAll(parts)
          assert.strictEqual(out.join(""), "a€𝄞é")
          // no output chunk ever holds half a character
          for (const s of out) assert.isFalse(s.includes("\uFFFD"), JSON.stringify(out))
        }
      }
    }),
  )

  it.effect("property: any chunking of any string decodes to the string", () =>
    Effect.sync(() =>
      fc.assert(
        fc.property(
          fc.string({ unit: "grapheme", maxLength: 60 }),
          fc.array(fc.nat({ max: 300 }), { maxLength: 20 }),
          (s, cuts) => {
            const data = bytes(s)
            const points = [...new Set(cuts.map((c) => c % (data.length + 1)))].sort((a, b) => a - b)
            const parts: Array<Uint8Array> = []
            let last = 0
            for (const p of [...points, data.length]) {
              parts.push(data.subarray(last, p))
              last = p
            }
            assert.strictEqual(Effect.runSync(decodeAll(parts)).join(""), s)
          },
        ),
        { numRuns: 300 },
      ),
    ),
  )

  it.effect("TextStream.receive holds an incomplete character until the rest arrives", () =>
    Effect.gen(function* () {
      const euro = bytes("€")
      const f = feedStream()
      const t = yield* TextStream.make(f.stream)
      f.feed(euro.subarray(0, 1))
      f.feed(euro.subarray(1, 2))
      f.feed(concatBytes([euro.subarray(2), bytes("x")]))
      f.feedEof()
      assert.strictEqual(yield* t.receive(), "€x")
      assert.strictEqual((yield* Effect.flip(t.receive()))._tag, "EndOfStream")
    }),
  )

  it.effect("an incomplete character at the end decodes as U+FFFD, or fails when fatal", () =>
    Effect.gen(function* () {
      const cut = bytes("ok€").subarray(0, 4)
      const lenient = yield* TextStream.make(scripted([cut]))
      assert.deepStrictEqual(yield* receiveAll(lenient), ["ok", "\uFFFD"])
      const strict = yield* TextStream.make(scripted([cut]), { fatal: true })
      assert.strictEqual(yield* strict.receive(), "ok")
      const e = yield* Effect.flip(strict.receive())
      assert.strictEqual(e._tag, "InvalidArgument")
      const bad = yield* Effect.flip(
        Stream.runCollect(TextStream.decode(Stream.make(new Uint8Array([0xff])), { fatal: true })),
      )
      assert.strictEqual(bad._tag, "InvalidArgument")
    }),
  )

  it.effect("other encodings: utf-16le round trip, latin1 decoding, unknown encodings", () =>
    Effect.gen(function* () {
      const utf16 = Chunk.toArray(yield* Stream.runCollect(TextStream.encode(Stream.make("h€", "𝄞"), "utf-16le")))
      const all = concatBytes(utf16)
      // split inside a surrogate pair and inside a code unit
      const decoded = yield* decodeAll([all.subarray(0, 3), all.subarray(3, 7), all.subarray(7)], "utf-16le")
      assert.strictEqual(decoded.join(""), "h€𝄞")
      assert.deepStrictEqual(yield* decodeAll([new Uint8Array([0x63, 0x61, 0x66, 0xe9])], "iso-8859-1"), ["café"])
      assert.strictEqual(
        (yield* Effect.flip(TextStream.make(scripted([]), { encoding: "klingon" })))._tag,
        "InvalidArgument",
      )
      assert.strictEqual(
        (yield* Effect.flip(TextStream.make(scripted([]), { encoding: "shift_jis" })))._tag,
        "InvalidArgument",
      )
      const sjis = yield* decodeAll([new Uint8Array([0x82]), new Uint8Array([0xa0])], "shift_jis")
      assert.deepStrictEqual(sjis, ["あ"])
    }),
  )
})

for (const transport of transports) {
  describe(`TextStream over ${transport.name}`, () => {
    it.live("send and receive text; the Sink half-closes at the end", () =>
      Effect.gen(function* () {
        const [client, server] = yield* transport.pair
        const out = yield* TextStream.make(client)
        const inn = yield* TextStream.make(server)
        const message = "héllo wörld €𝄞 ".repeat(5000)
        yield* Effect.fork(
          Stream.fromIterable(message.match(/.{1,7}/gsu) ?? []).pipe(Stream.run(TextStream.toSink(out))),
        )
        const received = yield* receiveAll(inn)
        assert.strictEqual(received.join(""), message)
      }).pipe(Effect.scoped, Effect.provide(transport.layer)),
    )
  })
}
