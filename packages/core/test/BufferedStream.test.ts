import { setFlagsFromString } from "node:v8"
import { runInNewContext } from "node:vm"
import { assert, describe, it } from "@effect/vitest"
import { BufferedStream, NetError } from "@netfx/core"
import { eventually, Peers } from "@netfx/core/testing"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import * as fc from "fast-check"
import { bytes, concatBytes, feedStream, scripted, text, transports } from "./support/streams.ts"

const failure = <A, E>(exit: Exit.Exit<A, E>): E => {
  if (Exit.isSuccess(exit)) throw new Error(`expected a failure, got ${String(exit.value)}`)
  const e = exit.cause._tag === "Fail" ? exit.cause.error : undefined
  if (e === undefined) throw new Error(`expected a typed failure, got ${String(exit.cause)}`)
  return e
}

describe("BufferedStream (fed chunks)", () => {
  it.effect("receiveExactly collects across chunks and leaves the rest", () =>
    Effect.gen(function* () {
      const f = feedStream()
      const b = BufferedStream.make(f.stream)
      f.feed("ab")
      f.feed("cde")
      f.feed("fg")
      assert.strictEqual(text(yield* b.receiveExactly(4)), "abcd")
      assert.strictEqual(b.buffered, 1)
      assert.strictEqual(text(yield* b.receiveExactly(0)), "")
      assert.strictEqual(text(yield* b.receiveExactly(3)), "efg")
    }),
  )

  it.effect("receiveExactly at end of stream: IncompleteRead with partial + expected, bytes kept", () =>
    Effect.gen(function* () {
      const f = feedStream()
      const b = BufferedStream.make(f.stream)
      f.feed("abc")
      f.feedEof()
      const e = failure(yield* Effect.exit(b.receiveExactly(5)))
      assert.strictEqual(e._tag, "IncompleteRead")
      if (e._tag !== "IncompleteRead") return
      assert.strictEqual(text(e.partial), "abc")
      assert.strictEqual(e.expected, 5)
      assert.strictEqual(b.buffered, 3)
      assert.strictEqual(text(yield* b.receiveExactly(3)), "abc")
      assert.isTrue(b.atEof)
      assert.strictEqual((yield* Effect.flip(b.receive()))._tag, "EndOfStream")
    }),
  )

  it.effect("receiveExactly rejects a negative count without touching the buffer", () =>
    Effect.gen(function* () {
      const f = feedStream()
      const b = BufferedStream.make(f.stream)
      yield* b.feed("xy")
      const e = yield* Effect.flip(b.receiveExactly(-1))
      assert.strictEqual(e._tag, "InvalidArgument")
      assert.strictEqual(b.buffered, 2)
    }),
  )

  it.effect("receiveUntil: delimiter excluded, split across chunks, multi-byte delimiter", () =>
    Effect.gen(function* () {
      const f = feedStream()
      const b = BufferedStream.make(f.stream)
      f.feed("GET / HTTP/1.1\r")
      f.feed("\nHost: x\r\n\r\nbody")
      assert.strictEqual(text(yield* b.receiveUntil("\r\n", 100)), "GET / HTTP/1.1")
      assert.strictEqual(text(yield* b.receiveUntil("\r\n", 100)), "Host: x")
      assert.strictEqual(text(yield* b.receiveUntil("\r\n", 100)), "")
      assert.strictEqual(text(yield* b.receive()), "body")
    }),
  )

  it.effect("receiveUntil: LimitExceeded keeps the data buffered", () =>
    Effect.gen(function* () {
      const f = feedStream()
      const b = BufferedStream.make(f.stream)
      f.feed("0123456789")
      f.feed("abcdef\n")
      const e = yield* Effect.flip(b.receiveUntil("\n", 8))
      assert.strictEqual(e._tag, "LimitExceeded")
      if (e._tag === "LimitExceeded") assert.strictEqual(e.limit, 8)
      // nothing consumed: a larger limit finds the line
      assert.strictEqual(text(yield* b.receiveUntil("\n", 100)), "0123456789abcdef")
    }),
  )

  it.effect("LimitExceeded names the operation and the delimiter", () =>
    Effect.gen(function* () {
      const f = feedStream()
      const b = BufferedStream.make(f.stream)
      f.feed("GET / HTTP/1.1 and no end of line")
      const line = yield* Effect.flip(b.receiveLine({ delimiter: "\r\n", maxLength: 8 }))
      assert.strictEqual(line._tag, "LimitExceeded")
      if (line._tag !== "LimitExceeded") return
      assert.strictEqual(line.operation, "receiveLine")
      assert.deepStrictEqual(line.delimiter, bytes("\r\n"))
      assert.strictEqual(line.message, 'receiveLine: delimiter "\\r\\n" not found within 8 bytes (33 buffered)')
      // the error's delimiter is a copy: mutating it changes nothing for later reads
      line.delimiter?.fill(0)
      const until = yield* Effect.flip(b.receiveUntil(bytes("\0"), 4))
      assert.strictEqual(until._tag, "LimitExceeded")
      if (until._tag === "LimitExceeded") assert.strictEqual(until.operation, "receiveUntil")
      f.feed("\r\n")
      assert.strictEqual(text(yield* b.receiveLine({ delimiter: "\r\n" })), "GET / HTTP/1.1 and no end of line")
    }),
  )

  it.effect("a string delimiter is encoded once, not per call", () =>
    Effect.gen(function* () {
      const f = feedStream()
      const b = BufferedStream.make(f.stream)
      const delimiter = "\r\n--netfx-boundary--\r\n"
      for (let i = 0; i < 100; i++) f.feed(`part ${i}${delimiter}`)
      const encode = TextEncoder.prototype.encode
      let calls = 0
      TextEncoder.prototype.encode = function (this: InstanceType<typeof TextEncoder>, input?: string) {
        if (input === delimiter) calls++
        return encode.call(this, input)
      }
      try {
        for (let i = 0; i < 50; i++) assert.strictEqual(text(yield* b.receiveUntil(delimiter, 1024)), `part ${i}`)
        for (let i = 50; i < 100; i++)
          assert.strictEqual(text(yield* b.receiveLine({ delimiter, maxLength: 1024 })), `part ${i}`)
      } finally {
        TextEncoder.prototype.encode = encode
      }
      assert.isAtMost(calls, 1)
    }),
  )

  it.effect("receiveUntil: the delimiter may start exactly at maxBytes", () =>
    Effect.gen(function* () {
      const b = BufferedStream.make(scripted([bytes("1234\n"), bytes("12345\n")]))
      assert.strictEqual(text(yield* b.receiveUntil("\n", 4)), "1234")
      assert.strictEqual((yield* Effect.flip(b.receiveUntil("\n", 4)))._tag, "LimitExceeded")
      assert.strictEqual(b.buffered, 6)
    }),
  )

  it.effect("receiveUntil at end of stream: IncompleteRead with the bytes, which stay buffered", () =>
    Effect.gen(function* () {
      const b = BufferedStream.make(scripted([bytes("no newline")]))
      const e = yield* Effect.flip(b.receiveUntil("\n", 100))
      assert.strictEqual(e._tag, "IncompleteRead")
      if (e._tag === "IncompleteRead") assert.strictEqual(text(e.partial), "no newline")
      assert.strictEqual(text(yield* b.receive()), "no newline")
    }),
  )

  it.effect("receiveLine and lines: last line without a delimiter, max length", () =>
    Effect.gen(function* () {
      const b = BufferedStream.make(scripted([bytes("one\ntw"), bytes("o\r\nthree")]))
      assert.strictEqual(text(yield* b.receiveLine()), "one")
      const rest = yield* Stream.runCollect(b.lines())
      assert.deepStrictEqual(Chunk.toArray(rest).map(text), ["two\r", "three"])
      const crlf = BufferedStream.make(scripted([bytes("a\r\nb\r\n")]))
      assert.deepStrictEqual(Chunk.toArray(yield* Stream.runCollect(crlf.lines({ delimiter: "\r\n" }))).map(text), [
        "a",
        "b",
      ])
      const long = BufferedStream.make(scripted([bytes("short\nwaytoolongline\n")]))
      const exit = yield* Effect.exit(Stream.runCollect(long.lines({ maxLength: 8 })))
      assert.strictEqual(failure(exit)._tag, "LimitExceeded")
      assert.strictEqual(text(yield* long.receiveLine({ maxLength: 100 })), "waytoolongline")
    }),
  )

  it.effect("lines: Stream.take(n) leaves later lines buffered (one line per pull)", () =>
    Effect.gen(function* () {
      const b = BufferedStream.make(scripted([bytes("Host: a\nAccept: b\n\nbody bytes")]))
      const headers = yield* Stream.runCollect(b.lines().pipe(Stream.take(2)))
      assert.deepStrictEqual(Chunk.toArray(headers).map(text), ["Host: a", "Accept: b"])
      assert.strictEqual(text(yield* b.receiveLine()), "")
      assert.strictEqual(text(yield* b.receiveExactly(10)), "body bytes")
    }),
  )

  it.effect("unread pushes bytes back in front; feed appends", () =>
    Effect.gen(function* () {
      const f = feedStream()
      const b = BufferedStream.make(f.stream)
      f.feed("world")
      const head = yield* b.receiveExactly(2)
      yield* b.unread(head)
      yield* b.unread("hello ")
      yield* b.feed("!")
      // the first fill took all of "world"; "wo" went back in front of "rld"
      assert.strictEqual(b.buffered, 12)
      assert.strictEqual(text(yield* b.receiveExactly(12)), "hello world!")
      f.feed("more")
      assert.strictEqual(text(yield* b.receive()), "more")
    }),
  )

  it.effect("a second concurrent reader fails with BusyResource", () =>
    Effect.gen(function* () {
      const f = feedStream()
      const b = BufferedStream.make(f.stream)
      const first = yield* Effect.fork(b.receiveExactly(3))
      yield* Effect.yieldNow()
      assert.strictEqual((yield* Effect.flip(b.receiveUntil("\n", 10)))._tag, "BusyResource")
      f.feed("abc")
      assert.strictEqual(text(yield* Fiber.join(first)), "abc")
    }),
  )

  it.effect("a broken stream fails the read; bytes before it are returned first", () =>
    Effect.gen(function* () {
      const f = feedStream()
      const b = BufferedStream.make(f.stream)
      f.feed("ab")
      f.break(new NetError.BrokenResource({ operation: "receive", code: "ECONNRESET" }))
      const e = yield* Effect.flip(b.receiveExactly(4))
      assert.strictEqual(e._tag, "BrokenResource")
      assert.strictEqual(text(yield* b.receive()), "ab")
    }),
  )

  describe("interruption loses no byte", () => {
    it.live("receiveExactly interrupted mid-way", () =>
      Effect.gen(function* () {
        const f = feedStream()
        const b = BufferedStream.make(f.stream)
        const fiber = yield* Effect.fork(b.receiveExactly(10))
        f.feed("0123")
        yield* eventually(() => b.buffered === 4, "4 bytes buffered")
        f.feed("45")
        yield* eventually(() => b.buffered === 6, "6 bytes buffered")
        yield* Fiber.interrupt(fiber)
        f.feed("6789")
        assert.strictEqual(text(yield* b.receiveExactly(10)), "0123456789")
      }),
    )

    it.live("receiveUntil interrupted mid-way", () =>
      Effect.gen(function* () {
        const f = feedStream()
        const b = BufferedStream.make(f.stream)
        const fiber = yield* Effect.fork(b.receiveUntil("--", 100))
        f.feed("abc-")
        yield* eventually(() => b.buffered === 4, "4 bytes buffered")
        yield* Fiber.interrupt(fiber)
        f.feed("-def")
        assert.strictEqual(text(yield* b.receiveUntil("--", 100)), "abc")
        assert.strictEqual(text(yield* b.receive()), "def")
      }),
    )

    it.live("interrupting at every point of a chunked read never loses a byte", () =>
      Effect.gen(function* () {
        // Interrupt receiveExactly after k fed chunks, for every k.
        for (let k = 0; k <= 5; k++) {
          const f = feedStream()
          const b = BufferedStream.make(f.stream)
          const fiber = yield* Effect.fork(b.receiveExactly(6))
          for (let i = 0; i < k; i++) {
            f.feed(String(i))
            yield* eventually(() => b.buffered === i + 1, `${i + 1} buffered`)
          }
          yield* Fiber.interrupt(fiber)
          for (let i = k; i < 6; i++) f.feed(String(i))
          assert.strictEqual(text(yield* b.receiveExactly(6)), "012345")
        }
      }),
    )
  })
})

// ---- property tests: any chunking gives the same results ----

/** Splits `data` at the given cut points. */
const chunked = (data: Uint8Array, cuts: ReadonlyArray<number>): Array<Uint8Array> => {
  const points = [...new Set(cuts.map((c) => c % (data.length + 1)))].sort((a, b) => a - b)
  const out: Array<Uint8Array> = []
  let last = 0
  for (const p of points) {
    if (p > last) out.push(data.subarray(last, p))
    last = Math.max(last, p)
  }
  if (last < data.length) out.push(data.subarray(last))
  return out
}

type Outcome = { ok: Array<string> } & { end: string }

/** Runs receiveUntil until it fails and records every result and the final error. */
const untilAll = (parts: ReadonlyArray<Uint8Array>, delimiter: Uint8Array, maxBytes: number) =>
  Effect.gen(function* () {
    const b = BufferedStream.make(scripted(parts))
    const ok: Array<string> = []
    while (true) {
      const exit = yield* Effect.exit(b.receiveUntil(delimiter, maxBytes))
      if (Exit.isSuccess(exit)) {
        ok.push(Array.from(exit.value).join(","))
        continue
      }
      const e = failure(exit)
      const end =
        e._tag === "IncompleteRead"
          ? `incomplete:${Array.from(e.partial).join(",")}`
          : e._tag === "LimitExceeded"
            ? `limit:${b.buffered >= maxBytes + delimiter.length}`
            : e._tag
      return { ok, end } satisfies Outcome
    }
  })

const linesAll = (parts: ReadonlyArray<Uint8Array>, maxLength: number) =>
  Stream.runCollect(BufferedStream.make(scripted(parts)).lines({ maxLength })).pipe(
    Effect.map((c) => Chunk.toArray(c).map((l) => Array.from(l).join(","))),
    Effect.either,
    Effect.map((e) => (e._tag === "Right" ? { lines: e.right } : { error: e.left._tag })),
  )

describe("BufferedStream properties", () => {
  // A small alphabet makes delimiters (and near-misses) frequent.
  const data = fc.uint8Array({ maxLength: 300 }).map((a) => a.map((x) => x % 4))
  const delimiter = fc.uint8Array({ minLength: 1, maxLength: 3 }).map((a) => a.map((x) => x % 4))
  const cuts = fc.array(fc.nat({ max: 400 }), { maxLength: 40 })

  it.effect("receiveUntil: any chunking gives the same results as one chunk", () =>
    Effect.sync(() =>
      fc.assert(
        fc.property(data, delimiter, fc.nat({ max: 40 }), cuts, (d, delim, maxBytes, c) => {
          const whole = Effect.runSync(untilAll([d], delim, maxBytes))
          const split = Effect.runSync(untilAll(chunked(d, c), delim, maxBytes))
          const single = Effect.runSync(
            untilAll(
              chunked(
                d,
                Array.from({ length: d.length }, (_, i) => i),
              ),
              delim,
              maxBytes,
            ),
          )
          assert.deepStrictEqual(split, whole)
          assert.deepStrictEqual(single, whole)
        }),
        { numRuns: 300 },
      ),
    ),
  )

  it.effect("receiveUntil agrees with a reference model", () =>
    Effect.sync(() =>
      fc.assert(
        fc.property(data, delimiter, fc.nat({ max: 40 }), cuts, (d, delim, maxBytes, c) => {
          const got = Effect.runSync(untilAll(chunked(d, c), delim, maxBytes))
          // reference: delimiter must start at offset <= maxBytes from the read position
          const ok: Array<string> = []
          let pos = 0
          let end = ""
          while (true) {
            let found = -1
            for (let i = pos; i + delim.length <= d.length && i - pos <= maxBytes; i++) {
              if (delim.every((x, k) => d[i + k] === x)) {
                found = i
                break
              }
            }
            if (found >= 0) {
              ok.push(Array.from(d.subarray(pos, found)).join(","))
              pos = found + delim.length
              continue
            }
            end =
              d.length - pos >= maxBytes + delim.length
                ? "limit:true"
                : `incomplete:${Array.from(d.subarray(pos)).join(",")}`
            break
          }
          assert.deepStrictEqual(got, { ok, end })
        }),
        { numRuns: 300 },
      ),
    ),
  )

  it.effect("lines: any chunking gives the same lines", () =>
    Effect.sync(() =>
      fc.assert(
        fc.property(
          fc.uint8Array({ maxLength: 300 }).map((a) => a.map((x) => (x % 5 === 0 ? 10 : x))),
          fc.nat({ max: 30 }),
          cuts,
          (d, maxLength, c) => {
            const whole = Effect.runSync(linesAll([d], maxLength))
            const split = Effect.runSync(linesAll(chunked(d, c), maxLength))
            assert.deepStrictEqual(split, whole)
          },
        ),
        { numRuns: 300 },
      ),
    ),
  )
})

// ---- over real transports ----

for (const transport of transports) {
  const run = <A, E>(
    effect: Effect.Effect<A, E, import("effect/Scope").Scope | import("@netfx/core").Network.Network>,
  ) => effect.pipe(Effect.scoped, Effect.provide(transport.layer))

  describe(`BufferedStream over ${transport.name}`, () => {
    it.live("receiveExactly, receiveUntil, lines and IncompleteRead at the end", () =>
      run(
        Effect.gen(function* () {
          const [client, server] = yield* transport.pair
          yield* client.send(bytes("HEAD"))
          yield* client.send(bytes("ER\nline 1\nli"))
          yield* client.send(bytes("ne 2\ntail"))
          yield* client.sendEof
          const b = BufferedStream.make(server)
          assert.strictEqual(text(yield* b.receiveExactly(6)), "HEADER")
          assert.strictEqual(text(yield* b.receiveUntil("\n", 10)), "")
          assert.strictEqual(text(yield* b.receiveLine()), "line 1")
          assert.strictEqual(text(yield* b.receiveLine()), "line 2")
          const e = yield* Effect.flip(b.receiveExactly(10))
          assert.strictEqual(e._tag, "IncompleteRead")
          if (e._tag === "IncompleteRead") {
            assert.strictEqual(text(e.partial), "tail")
            assert.strictEqual(e.expected, 10)
          }
          assert.deepStrictEqual(Chunk.toArray(yield* Stream.runCollect(b.lines())).map(text), ["tail"])
        }),
      ),
    )

    it.live("interrupted receiveExactly / receiveUntil lose no byte", () =>
      run(
        Effect.gen(function* () {
          const [client, server] = yield* transport.pair
          const b = BufferedStream.make(server)
          const first = yield* Effect.fork(b.receiveExactly(8))
          yield* client.send(bytes("0123"))
          yield* eventually(() => b.buffered === 4, "4 bytes buffered")
          yield* Fiber.interrupt(first)
          const second = yield* Effect.fork(b.receiveUntil("\n", 100))
          yield* client.send(bytes("4567"))
          yield* eventually(() => b.buffered === 8, "8 bytes buffered")
          yield* Fiber.interrupt(second)
          yield* client.send(bytes("89\n"))
          assert.strictEqual(text(yield* b.receiveUntil("\n", 100)), "0123456789")
        }),
      ),
    )

    it.live("a long delimiter search stays within maxBytes plus one chunk", () =>
      run(
        Effect.gen(function* () {
          const [client, server] = yield* transport.pair
          const b = BufferedStream.make(server)
          const big = new Uint8Array(1 << 20).fill(97)
          yield* Effect.fork(client.send(big))
          const e = yield* Effect.flip(b.receiveUntil("\n", 100_000))
          assert.strictEqual(e._tag, "LimitExceeded")
          assert.isAtMost(b.buffered, 100_001 + 65536)
          assert.isAtLeast(b.buffered, 100_001)
        }),
      ),
    )
  })
}

// ---- memory bound: 100 MB of lines through a real TCP connection ----

// A full GC before each sample, so RSS shows live memory rather than garbage not yet collected.
setFlagsFromString("--expose-gc")
const gc = runInNewContext("gc") as () => void

describe("BufferedStream memory", () => {
  const node = transports[0]!
  it.live(
    "100 MB line-oriented transfer keeps RSS bounded",
    () =>
      Effect.gen(function* () {
        const [client, server] = yield* node.pair
        const line = bytes(`${"x".repeat(999)}\n`) // 1000 bytes per line
        const block = concatBytes(Array.from({ length: 100 }, () => line)) // 100 000 bytes
        const total = 100_000_000
        const blocks = total / block.length
        gc()
        const before = Peers.rss()
        let peak = before
        yield* Effect.fork(
          Effect.gen(function* () {
            for (let i = 0; i < blocks; i++) yield* client.send(block)
            yield* client.sendEof
          }),
        )
        const b = BufferedStream.make(server)
        let count = 0
        let size = 0
        yield* Stream.runForEach(b.lines({ maxLength: 4096 }), (l) =>
          Effect.sync(() => {
            count++
            size += l.length + 1
            if ((count & 8191) === 0) {
              gc()
              peak = Math.max(peak, Peers.rss())
            }
          }),
        )
        assert.strictEqual(count, total / 1000)
        assert.strictEqual(size, total)
        console.log(`100 MB of lines: RSS grew by ${((peak - before) / 1048576).toFixed(1)} MiB at most`)
        // Unbounded buffering would grow by ~100 MB; allow GC slack well below that.
        assert.isBelow(peak - before, 48 * 1024 * 1024, `RSS grew by ${((peak - before) / 1048576).toFixed(1)} MiB`)
      }).pipe(Effect.scoped, Effect.provide(node.layer)),
    120_000,
  )
})
