/**
 * The byte-stream and listener contract, written once and run against every
 * `Network` Layer (Node, Bun, memory) and every stream transport (TCP, Unix,
 * TLS). A transport passes when every test here passes.
 *
 * @since 0.1.0
 */
import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Deferred from "effect/Deferred"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import type * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import { pipeArguments } from "effect/Pipeable"
import * as Queue from "effect/Queue"
import * as Ref from "effect/Ref"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Attribute from "../src/Attribute.ts"
import { concatBytes } from "../src/internal/bytes.ts"
import type { Listener } from "../src/Listener.ts"
import { BrokenResource } from "../src/NetError.ts"
import type { Network } from "../src/Network.ts"
import * as SocketAddress from "../src/SocketAddress.ts"
import * as SocketStream from "../src/SocketStream.ts"
import * as Tls from "../src/Tls.ts"

/**
 * How to open a listener and connect to it for one transport.
 *
 * @since 0.1.0
 */
export interface StreamTransport {
  readonly name: string
  readonly listen: Effect.Effect<Listener, unknown, Scope.Scope | Network>
  readonly connect: (listener: Listener) => Effect.Effect<SocketStream.SocketStream, unknown, Scope.Scope | Network>
  /**
   * Codes a peer reset may show as (default `ECONNRESET`, `EPIPE`). Over
   * TLS an abort can also arrive as a missing close_notify.
   */
  readonly resetCodes?: ReadonlyArray<string>
  /**
   * `send` completes only once the kernel took every byte (no user-space
   * write buffer: the native fd-passing streams), so a peer that stops
   * reading holds `send` itself, and a reset can surface there.
   */
  readonly sendWaitsForKernel?: boolean
  /** The streams are TLS streams (they carry `Tls.Info`). */
  readonly tls?: boolean
}

/**
 * What the environment under test can offer.
 *
 * @since 0.1.0
 */
export interface ContractEnvironment {
  /** Shown in test names: "node", "bun", "memory". */
  readonly name: string
  readonly layer: Layer.Layer<Network>
  /** Counts open descriptors of this process (`/proc/self/fd`); omit where there are none. */
  readonly openFds?: () => number
  /** Resident memory of this process in bytes; omit where it means nothing. */
  readonly rss?: () => number
  /** Scale for the bulk tests (1 = the full 64 MiB). */
  readonly bulkScale?: number
}

const encoder = new TextEncoder()
const decoder = new TextDecoder()
/** @since 0.1.0 */
export const bytes = (s: string): Uint8Array => encoder.encode(s)
/** @since 0.1.0 */
export const text = (b: Uint8Array): string => decoder.decode(b)
/** The port of an IP address; -1 for a Unix address. @since 0.3.0 */
export const portOf = (address: SocketAddress.SocketAddress): number =>
  SocketAddress.isIp(address) ? address.port : -1

/** Reads until EndOfStream and returns everything. @since 0.1.0 */
export const readAll = (conn: SocketStream.SocketStream) =>
  Effect.gen(function* () {
    const parts: Array<Uint8Array> = []
    while (true) {
      const chunk = yield* Effect.catchTag(conn.receive(), "EndOfStream", () => Effect.succeed(undefined))
      if (chunk === undefined) return concatBytes(parts)
      parts.push(chunk)
    }
  })

/** Reads exactly `n` bytes (test helper, independent of the buffered-stream module). @since 0.1.0 */
export const readN = (conn: SocketStream.SocketStream, n: number) =>
  Effect.gen(function* () {
    const out = new Uint8Array(n)
    let offset = 0
    while (offset < n) {
      const chunk = yield* conn.receive(n - offset)
      out.set(chunk, offset)
      offset += chunk.length
    }
    return out
  })

/** @since 0.1.0 */
export const echo = (conn: SocketStream.SocketStream) => SocketStream.pipe(conn, conn)

/**
 * Polls `check` until it holds (for states with no event to wait on, like
 * descriptor counts), for at most `within` (default 10 seconds); dies with
 * `what` when it never does.
 *
 * @since 0.1.0
 */
export const eventually = (check: () => boolean, what: string, within: Duration.DurationInput = "10 seconds") =>
  Effect.suspend(() => (check() ? Effect.void : Effect.fail(what))).pipe(
    Effect.retry(Schedule.spaced("10 millis").pipe(Schedule.upTo(within))),
    Effect.orDie,
  )

/**
 * A Scope that counts what is registered in it: `calls()` counts every
 * finalizer added and child Scope forked, `live()` those still held (a
 * finalizer that ran or a child Scope that was closed no longer counts). Closing `outer` closes
 * everything. Effect 3's `Scope.addFinalizer` and `Scope.fork` call these two
 * methods of the Scope object, which its public type leaves out.
 *
 * @since 0.3.1
 */
export const countingScope = Effect.map(Scope.make(), (outer) => {
  interface ScopeMethods {
    fork(strategy: unknown): Effect.Effect<Scope.CloseableScope>
    addFinalizer(finalizer: (exit: Exit.Exit<unknown, unknown>) => Effect.Effect<unknown>): Effect.Effect<void>
  }
  const inner = outer as unknown as ScopeMethods
  let calls = 0
  let live = 0
  const methods: ScopeMethods = {
    fork: (strategy) => {
      calls++
      return Effect.tap(inner.fork(strategy), (child) => {
        live++
        return Scope.addFinalizer(
          child,
          Effect.sync(() => {
            live--
          }),
        )
      })
    },
    addFinalizer: (finalizer) => {
      calls++
      live++
      return inner.addFinalizer((exit) =>
        Effect.ensuring(
          finalizer(exit),
          Effect.sync(() => {
            live--
          }),
        ),
      )
    },
  }
  const scope = {
    [Scope.ScopeTypeId]: Scope.ScopeTypeId,
    strategy: outer.strategy,
    ...methods,
    pipe() {
      // biome-ignore lint/complexity/noArguments: Pipeable's variadic pipe
      return pipeArguments(this, arguments)
    },
  } as Scope.Scope
  return { scope, outer, calls: () => calls, live: () => live }
})

/** A handler that sends `message` and its EOF once `go` is released. */
const sendOnceReleased = (go: Deferred.Deferred<void>, message: string) => (conn: SocketStream.SocketStream) =>
  Effect.gen(function* () {
    yield* Deferred.await(go)
    yield* conn.send(bytes(message))
    yield* conn.sendEof
  })

/**
 * Registers the contract tests for one transport in one environment.
 *
 * @since 0.1.0
 */
export const streamContract = (env: ContractEnvironment, transport: StreamTransport): void => {
  const run = <A, E>(effect: Effect.Effect<A, E, Scope.Scope | Network>) =>
    effect.pipe(Effect.scoped, Effect.provide(env.layer))

  describe(`${transport.name} byte-stream contract on ${env.name}`, () => {
    it.live("round trip through serve (echo)", () =>
      run(
        Effect.gen(function* () {
          const listener = yield* transport.listen
          yield* Effect.forkScoped(listener.serve(echo))
          const conn = yield* transport.connect(listener)
          yield* conn.send(bytes("hello, "))
          yield* conn.send(bytes("netfx"))
          yield* conn.sendEof
          assert.strictEqual(text(yield* readAll(conn)), "hello, netfx")
          assert.strictEqual(conn.family, SocketAddress.family(listener.address))
        }),
      ),
    )

    it.live("send of several buffers: one call, in order, empty parts skipped", () =>
      run(
        Effect.gen(function* () {
          const listener = yield* transport.listen
          yield* Effect.forkScoped(listener.serve(echo))
          const conn = yield* transport.connect(listener)
          const body = new Uint8Array(100_000).fill(0x61)
          yield* conn.send([bytes("HEAD "), new Uint8Array(0), body, bytes(" TAIL")])
          yield* conn.send([])
          yield* conn.send([bytes("!")])
          yield* conn.sendEof
          const all = yield* readAll(conn)
          assert.strictEqual(all.length, 5 + body.length + 5 + 1)
          assert.strictEqual(text(all.subarray(0, 5)), "HEAD ")
          assert.isTrue(all.subarray(5, 5 + body.length).every((b) => b === 0x61))
          assert.strictEqual(text(all.subarray(5 + body.length)), " TAIL!")
        }),
      ),
    )

    it.live("serve: a handler computing without I/O does not starve the other connections", () =>
      run(
        Effect.gen(function* () {
          const listener = yield* transport.listen
          const spinning = yield* Deferred.make<void>()
          yield* Effect.forkScoped(
            listener.serve((c) =>
              Effect.flatMap(c.receive(1), (first) =>
                first[0] === 115 // "s": spin forever, woken by its socket
                  ? Effect.zipRight(Deferred.succeed(spinning, undefined), Effect.forever(Effect.void))
                  : Effect.zipRight(c.send(first), echo(c)),
              ),
            ),
          )
          const spinner = yield* transport.connect(listener)
          yield* spinner.send(bytes("s"))
          yield* Deferred.await(spinning)
          const other = yield* transport.connect(listener)
          yield* other.send(bytes("hello"))
          assert.strictEqual(text(yield* readN(other, 5)), "hello")
        }),
      ),
    )

    it.live("attributes: addresses, family and fd as typed keys; None for facts that do not apply", () =>
      run(
        Effect.gen(function* () {
          const listener = yield* transport.listen
          const accepted = yield* Deferred.make<SocketStream.SocketStream>()
          yield* Effect.forkScoped(listener.serve((c) => Effect.zipRight(Deferred.succeed(accepted, c), Effect.never)))
          const conn = yield* transport.connect(listener)
          const server = yield* Deferred.await(accepted)
          for (const c of [conn, server]) {
            assert.deepStrictEqual(c.attribute(Attribute.LocalAddress), Option.some(c.localAddress))
            assert.deepStrictEqual(c.attribute(Attribute.RemoteAddress), Option.some(c.remoteAddress))
            assert.deepStrictEqual(c.attribute(Attribute.Family), Option.some(c.family))
            assert.deepStrictEqual(c.attribute(Attribute.Fd), Option.fromNullable(c.fd))
            const ip = SocketAddress.isIp(c.localAddress)
            assert.strictEqual(Option.isSome(c.attribute(Attribute.LocalPort)), ip)
            assert.strictEqual(Option.isSome(c.attribute(Tls.Info)), transport.tls === true)
          }
          assert.deepStrictEqual(conn.attribute(Attribute.RemotePort), server.attribute(Attribute.LocalPort))
        }),
      ),
    )

    it.live("receive: one Effect value run again, and changing maxBytes between receives", () =>
      run(
        Effect.gen(function* () {
          const listener = yield* transport.listen
          yield* Effect.forkScoped(listener.serve((c) => Effect.zipRight(c.send(bytes("abcdefghij")), c.sendEof)))
          const conn = yield* transport.connect(listener)
          const two = conn.receive(2)
          let got = ""
          const fives: Array<number> = []
          for (let i = 0; got.length < 10; i++) {
            // the 2-byte Effect value reused, a 5-byte receive in between
            const chunk = i % 2 === 0 ? yield* two : yield* conn.receive(5)
            assert.isTrue(chunk.length >= 1 && chunk.length <= (i % 2 === 0 ? 2 : 5))
            if (i % 2 === 1) fives.push(chunk.length)
            got += text(chunk)
          }
          assert.strictEqual(got, "abcdefghij")
          // one 10-byte write arrives as one segment on loopback: a 5-byte receive got more than 2
          assert.isTrue(Math.max(...fives) > 2, `5-byte receives returned ${fives.join(", ")}`)
          const invalid = yield* Effect.flip(conn.receive(0))
          assert.strictEqual(invalid._tag, "InvalidArgument")
          assert.strictEqual((yield* Effect.flip(two))._tag, "EndOfStream")
        }),
      ),
    )

    it.live("receive never returns an empty chunk and respects maxBytes", () =>
      run(
        Effect.gen(function* () {
          const listener = yield* transport.listen
          yield* Effect.forkScoped(
            listener.serve((c) => Effect.zipRight(c.send(new Uint8Array(1000).fill(7)), c.sendEof)),
          )
          const conn = yield* transport.connect(listener)
          let total = 0
          while (true) {
            const chunk = yield* Effect.catchTag(conn.receive(100), "EndOfStream", () => Effect.succeed(undefined))
            if (chunk === undefined) break
            assert.isTrue(chunk.length >= 1 && chunk.length <= 100, `chunk of ${chunk.length}`)
            total += chunk.length
          }
          assert.strictEqual(total, 1000)
        }),
      ),
    )

    it.live("receive after the peer closed fails with EndOfStream, every time", () =>
      run(
        Effect.gen(function* () {
          const listener = yield* transport.listen
          yield* Effect.forkScoped(listener.serve((c) => c.send(bytes("bye"))))
          const conn = yield* transport.connect(listener)
          assert.strictEqual(text(yield* readAll(conn)), "bye")
          const e1 = yield* Effect.flip(conn.receive())
          const e2 = yield* Effect.flip(conn.receive())
          assert.strictEqual(e1._tag, "EndOfStream")
          assert.strictEqual(e2._tag, "EndOfStream")
        }),
      ),
    )

    it.live("after a local close, receive and send fail with ClosedResource", () =>
      run(
        Effect.gen(function* () {
          const listener = yield* transport.listen
          yield* Effect.forkScoped(listener.serve(echo))
          const conn = yield* transport.connect(listener)
          yield* conn.close
          yield* conn.close // idempotent
          const r = yield* Effect.flip(conn.receive())
          const s = yield* Effect.flip(conn.send(bytes("x")))
          const e = yield* Effect.flip(conn.sendEof)
          assert.strictEqual(r._tag, "ClosedResource")
          assert.strictEqual(s._tag, "ClosedResource")
          assert.strictEqual(e._tag, "ClosedResource")
        }),
      ),
    )

    it.live("a close from another fiber wakes a pending receive with ClosedResource", () =>
      run(
        Effect.gen(function* () {
          const listener = yield* transport.listen
          const hold = yield* Deferred.make<void>()
          yield* Effect.forkScoped(listener.serve(() => Deferred.await(hold)))
          const conn = yield* transport.connect(listener)
          const pending = yield* Effect.fork(Effect.flip(conn.receive()))
          yield* Effect.yieldNow()
          yield* conn.close
          const error = yield* Fiber.join(pending)
          assert.strictEqual(error._tag, "ClosedResource")
          yield* Deferred.succeed(hold, undefined)
        }),
      ),
    )

    it.live("a second concurrent receive fails with BusyResource, the first still gets the data", () =>
      run(
        Effect.gen(function* () {
          const listener = yield* transport.listen
          const go = yield* Deferred.make<void>()
          yield* Effect.forkScoped(listener.serve((c) => Effect.zipRight(Deferred.await(go), c.send(bytes("data")))))
          const conn = yield* transport.connect(listener)
          const first = yield* Effect.fork(conn.receive())
          yield* Effect.yieldNow()
          const second = yield* Effect.flip(conn.receive())
          assert.strictEqual(second._tag, "BusyResource")
          yield* Deferred.succeed(go, undefined)
          assert.strictEqual(text(yield* Fiber.join(first)), "data")
        }),
      ),
    )

    /**
     * Fills the connection until a forked writer's send waits for drain (the
     * peer does not read yet): an empty send fails with BusyResource exactly
     * while another fiber's send waits, and writes nothing otherwise.
     * Returns the writer and how many bytes its completed sends handed over.
     */
    const stallWriter = (conn: SocketStream.SocketStream, chunk: Uint8Array) =>
      Effect.gen(function* () {
        const completed = yield* Ref.make(0)
        const writer = yield* Effect.fork(
          Effect.forever(
            Effect.uninterruptibleMask((restore) =>
              Effect.zipRight(
                restore(conn.send(chunk)),
                Ref.update(completed, (n) => n + chunk.length),
              ),
            ),
          ),
        )
        const empty = new Uint8Array(0)
        while (true) {
          const probe = yield* Effect.either(conn.send(empty))
          if (probe._tag === "Left") {
            assert.strictEqual(probe.left._tag, "BusyResource")
            return { writer, completed }
          }
          yield* Effect.yieldNow()
        }
      })

    it.live.skipIf(transport.sendWaitsForKernel === true)(
      "a send waiting for drain, interrupted, hands over all its bytes or none; later sends work",
      () =>
        run(
          Effect.gen(function* () {
            const listener = yield* transport.listen
            const go = yield* Deferred.make<void>()
            const received = yield* Deferred.make<Uint8Array>()
            yield* Effect.forkScoped(
              listener.serve((c) =>
                Effect.zipRight(
                  Deferred.await(go),
                  Effect.flatMap(readAll(c), (all) => Deferred.succeed(received, all)),
                ),
              ),
            )
            const conn = yield* transport.connect(listener)
            const chunk = new Uint8Array(64 * 1024).fill(1)
            const { writer, completed } = yield* stallWriter(conn, chunk)
            // a second fiber's send while one waits
            assert.strictEqual((yield* Effect.flip(conn.send(bytes("busy"))))._tag, "BusyResource")
            yield* Fiber.interrupt(writer)
            yield* Deferred.succeed(go, undefined)
            // the interrupted send leaves no send in progress behind
            yield* conn.send(bytes("end"))
            yield* conn.sendEof
            const all = yield* Deferred.await(received)
            const done = yield* Ref.get(completed)
            const body = all.length - 3
            assert.strictEqual(text(all.subarray(body)), "end")
            assert.isTrue(
              body === done || body === done + chunk.length,
              `received ${body} bytes before the end, completed sends ${done}`,
            )
            assert.isTrue(
              all.subarray(0, body).every((b) => b === 1),
              "only whole chunks of the writer before the end",
            )
          }),
        ),
    )

    it.live("interrupting a pending receive loses no data", () =>
      run(
        Effect.gen(function* () {
          const listener = yield* transport.listen
          const go = yield* Deferred.make<void>()
          yield* Effect.forkScoped(listener.serve(sendOnceReleased(go, "kept")))
          const conn = yield* transport.connect(listener)
          const pending = yield* Effect.fork(conn.receive())
          yield* Effect.yieldNow()
          yield* Fiber.interrupt(pending)
          yield* Deferred.succeed(go, undefined)
          assert.strictEqual(text(yield* readAll(conn)), "kept")
        }),
      ),
    )

    it.live("receives that timed out leave none in progress: the next one gets the bytes", () =>
      run(
        Effect.gen(function* () {
          const listener = yield* transport.listen
          const go = yield* Deferred.make<void>()
          yield* Effect.forkScoped(listener.serve(sendOnceReleased(go, "after")))
          const conn = yield* transport.connect(listener)
          for (let i = 0; i < 3; i++) {
            const error = yield* Effect.flip(Effect.timeout(conn.receive(), "5 millis"))
            assert.strictEqual(error._tag, "TimeoutException")
          }
          yield* Deferred.succeed(go, undefined)
          assert.strictEqual(text(yield* readAll(conn)), "after")
        }),
      ),
    )

    it.live("the fiber whose receive was interrupted can receive again while it winds down", () =>
      run(
        Effect.gen(function* () {
          const listener = yield* transport.listen
          const go = yield* Deferred.make<void>()
          yield* Effect.forkScoped(listener.serve(sendOnceReleased(go, "late")))
          const conn = yield* transport.connect(listener)
          const parked = yield* Deferred.make<void>()
          const late = yield* Deferred.make<Exit.Exit<Uint8Array, unknown>>()
          // the interrupted fiber's own finalizer receives: the same fiber
          // that parked asks again, so its first receive is over (not busy)
          const pending = yield* Effect.fork(
            Deferred.succeed(parked, undefined).pipe(
              Effect.zipRight(conn.receive()),
              Effect.onInterrupt(() =>
                Effect.flatMap(Effect.exit(readAll(conn)), (exit) => Deferred.succeed(late, exit)),
              ),
            ),
          )
          yield* Deferred.await(parked)
          yield* Effect.yieldNow()
          const interrupting = yield* Effect.fork(Fiber.interrupt(pending))
          yield* Deferred.succeed(go, undefined)
          const exit = yield* Deferred.await(late)
          assert.isTrue(Exit.isSuccess(exit), `the finalizer's receive failed: ${String(exit)}`)
          if (Exit.isSuccess(exit)) assert.strictEqual(text(exit.value), "late")
          assert.isTrue(Exit.isInterrupted(yield* Fiber.join(interrupting)))
        }),
      ),
    )

    it.live("many interrupted receives racing arriving data lose no byte", () =>
      run(
        Effect.gen(function* () {
          const listener = yield* transport.listen
          const count = 200
          yield* Effect.forkScoped(
            listener.serve((c) =>
              Effect.gen(function* () {
                for (let i = 0; i < count; i++) yield* c.send(Uint8Array.of(i & 0xff))
                yield* c.sendEof
              }),
            ),
          )
          const conn = yield* transport.connect(listener)
          const got: Array<number> = []
          let done = false
          for (let i = 0; !done; i++) {
            // a receive interrupted at once, after a yield, or after a short
            // wait: whatever it had not returned must come out of a later one
            const fiber = yield* Effect.fork(conn.receive(1))
            if (i % 3 === 1) yield* Effect.yieldNow()
            if (i % 3 === 2) yield* Effect.sleep("1 millis")
            const exit = yield* Fiber.interrupt(fiber)
            if (Exit.isSuccess(exit)) got.push(...exit.value)
            else if (!Exit.isInterrupted(exit)) done = true
          }
          assert.strictEqual(got.length, count)
          assert.deepStrictEqual(
            got,
            Array.from({ length: count }, (_, i) => i & 0xff),
          )
        }),
      ),
    )

    it.live("maxBytes that is not an integer >= 1 gives InvalidArgument and loses nothing", () =>
      run(
        Effect.gen(function* () {
          const listener = yield* transport.listen
          yield* Effect.forkScoped(listener.serve((c) => Effect.zipRight(c.send(bytes("abc")), c.sendEof)))
          const conn = yield* transport.connect(listener)
          for (const bad of [0, -1, 1.5, Number.NaN]) {
            const e = yield* Effect.flip(conn.receive(bad))
            assert.strictEqual(e._tag, "InvalidArgument")
          }
          assert.strictEqual(text(yield* readAll(conn)), "abc")
        }),
      ),
    )

    it.live("send of something that is no bytes (plain JavaScript) gives InvalidArgument and sends nothing", () =>
      run(
        Effect.gen(function* () {
          const listener = yield* transport.listen
          yield* Effect.forkScoped(listener.serve((c) => Effect.flatMap(readAll(c), (all) => c.send(all))))
          const conn = yield* transport.connect(listener)
          // what the types forbid and a JavaScript caller can still pass
          const bad: ReadonlyArray<unknown> = ["abc", null, undefined, 42, [bytes("x"), "y"], [null], { length: 3 }]
          for (const data of bad) {
            const e = yield* Effect.flip(conn.send(data as Uint8Array))
            assert.strictEqual(e._tag, "InvalidArgument", String(data))
          }
          yield* conn.send([bytes("o"), bytes("k")])
          yield* conn.sendEof
          assert.strictEqual(text(yield* readAll(conn)), "ok")
        }),
      ),
    )

    it.live("sendEof: the peer sees end of stream and can still reply", () =>
      run(
        Effect.gen(function* () {
          const listener = yield* transport.listen
          yield* Effect.forkScoped(
            listener.serve((c) =>
              Effect.gen(function* () {
                const request = yield* readAll(c)
                yield* c.send(bytes(`got ${text(request)}`))
                yield* c.sendEof
              }),
            ),
          )
          const conn = yield* transport.connect(listener)
          yield* conn.send(bytes("question"))
          yield* conn.sendEof
          yield* conn.sendEof // idempotent
          const sendAfter = yield* Effect.flip(conn.send(bytes("more")))
          assert.strictEqual(sendAfter._tag, "ClosedResource")
          assert.strictEqual(text(yield* readAll(conn)), "got question")
        }),
      ),
    )

    it.live("a peer reset gives BrokenResource with the errno code", () =>
      run(
        Effect.gen(function* () {
          const listener = yield* transport.listen
          const reset = yield* Deferred.make<void>()
          yield* Effect.forkScoped(
            listener.serve((c) =>
              // read one byte, then close with the rest unread: the system resets the connection
              Effect.zipRight(c.receive(1), Deferred.succeed(reset, undefined)),
            ),
          )
          const conn = yield* transport.connect(listener)
          const sent = yield* Effect.either(conn.send(new Uint8Array(4 * 1024 * 1024).fill(1)))
          yield* Deferred.await(reset)
          const error =
            sent._tag === "Left" && transport.sendWaitsForKernel === true
              ? sent.left
              : yield* Effect.zipRight(sent, conn.receive().pipe(Effect.forever, Effect.flip))
          assert.strictEqual(error._tag, "BrokenResource", `got ${error._tag}`)
          if (error._tag === "BrokenResource")
            assert.include(transport.resetCodes ?? ["ECONNRESET", "EPIPE"], error.code)
        }),
      ),
    )

    it.live("serve: a peer that resets its connection is logged at Debug, not Error, naming the operation", () => {
      const logs: Array<{ level: string; message: unknown }> = []
      const logger = Logger.make(({ logLevel, message }) => {
        logs.push({ level: logLevel.label, message })
      })
      return run(
        Effect.gen(function* () {
          const listener = yield* transport.listen
          const seen = yield* Deferred.make<unknown>()
          yield* Effect.forkScoped(
            listener.serve((c) =>
              // more than the socket buffers hold, so the handler is still sending (or then
              // receiving) when the peer resets
              Effect.zipRight(c.send(new Uint8Array(8 * 1024 * 1024).fill(7)), Effect.forever(c.receive())).pipe(
                Effect.tapError((e) => Deferred.succeed(seen, e)),
              ),
            ),
          )
          const conn = yield* transport.connect(listener)
          yield* conn.receive(1)
          // close with bytes unread: the system resets the connection
          yield* conn.close
          const error = yield* Deferred.await(seen)
          assert.instanceOf(error, BrokenResource)
          if (error instanceof BrokenResource) {
            assert.include(["send", "receive"], error.operation)
            assert.include(transport.resetCodes ?? ["ECONNRESET", "EPIPE"], error.code)
          }
          yield* eventually(() => logs.some((l) => l.level === "DEBUG"), "a Debug line for the reset")
          assert.deepStrictEqual(
            logs.filter((l) => l.level === "ERROR"),
            [],
          )
        }).pipe(
          Effect.provide(Logger.replace(Logger.defaultLogger, logger)),
          Logger.withMinimumLogLevel(LogLevel.Debug),
        ),
      )
    })

    it.live("serve idleTimeout: a connection that receives nothing is closed, its handler interrupted", () =>
      run(
        Effect.gen(function* () {
          const listener = yield* transport.listen
          const interrupted = yield* Deferred.make<void>()
          yield* Effect.forkScoped(
            listener.serve(
              (c) =>
                Effect.gen(function* () {
                  yield* c.send(bytes("hi"))
                  // the handler keeps sending: sends do not count as activity
                  while (true) {
                    yield* c.receive(1).pipe(Effect.timeout("20 millis"), Effect.ignore)
                    yield* c.send(bytes("."))
                  }
                }).pipe(Effect.onInterrupt(() => Deferred.succeed(interrupted, undefined))),
              { idleTimeout: "150 millis" },
            ),
          )
          const conn = yield* transport.connect(listener)
          // the server closes the idle connection: the client reads to the end
          const all = yield* readAll(conn)
          assert.strictEqual(text(all).slice(0, 2), "hi")
          yield* Deferred.await(interrupted)
          const bad = yield* Effect.flip(listener.serve(echo, { idleTimeout: 0 }))
          assert.strictEqual(bad._tag, "InvalidArgument")
        }),
      ),
    )

    it.live("closing the scope closes the socket: the peer reads EndOfStream", () =>
      run(
        Effect.gen(function* () {
          const listener = yield* transport.listen
          const result = yield* Deferred.make<string>()
          yield* Effect.forkScoped(
            listener.serve((c) => Effect.flatMap(readAll(c), (all) => Deferred.succeed(result, text(all)))),
          )
          yield* Effect.scoped(Effect.flatMap(transport.connect(listener), (conn) => conn.send(bytes("last words"))))
          assert.strictEqual(yield* Deferred.await(result), "last words")
        }),
      ),
    )

    it.live("pull with backpressure: an idle reader holds back a 64 MiB writer with bounded memory", () =>
      run(
        Effect.gen(function* () {
          const total = Math.round(64 * 1024 * 1024 * (env.bulkScale ?? 1))
          const chunkSize = 64 * 1024
          const listener = yield* transport.listen
          const accepted = yield* Ref.make(0)
          yield* Effect.forkScoped(
            listener.serve((c) =>
              Effect.gen(function* () {
                for (let sent = 0; sent < total; sent += chunkSize) {
                  // fresh arrays: unbounded buffering would show as memory growth
                  yield* c.send(new Uint8Array(chunkSize).fill(sent & 0xff))
                  yield* Ref.set(accepted, sent + chunkSize)
                }
                yield* c.sendEof
                yield* readAll(c)
              }),
            ),
          )
          const rssBefore = env.rss?.()
          const conn = yield* transport.connect(listener)
          // wait until the writer stalls (accepted stops growing)
          let last = -1
          let stable = 0
          while (stable < 10) {
            yield* Effect.sleep("20 millis")
            const now = yield* Ref.get(accepted)
            stable = now === last ? stable + 1 : 0
            last = now
          }
          assert.isBelow(last, total / 2, `writer got ${last} bytes accepted without a reader`)
          if (rssBefore !== undefined && env.rss !== undefined) {
            const growth = env.rss() - rssBefore
            assert.isBelow(growth, 48 * 1024 * 1024, `memory grew by ${growth} bytes`)
          }
          let received = 0
          while (true) {
            const chunk = yield* Effect.catchTag(conn.receive(), "EndOfStream", () => Effect.succeed(undefined))
            if (chunk === undefined) break
            received += chunk.length
          }
          assert.strictEqual(received, total)
          assert.strictEqual(yield* Ref.get(accepted), total)
        }),
      ),
    )

    it.live("serve: a failing or dying handler closes only its connection and is logged with the peer", () => {
      const logs: Array<{ level: string; message: unknown; annotations: Record<string, unknown> }> = []
      const logger = Logger.make(({ logLevel, message, annotations }) => {
        const record: Record<string, unknown> = {}
        for (const [k, v] of annotations) record[k] = v
        logs.push({ level: logLevel.label, message, annotations: record })
      })
      return run(
        Effect.gen(function* () {
          const listener = yield* transport.listen
          yield* Effect.forkScoped(
            listener.serve((c) =>
              Effect.gen(function* () {
                while (true) {
                  const cmd = text(yield* c.receive())
                  if (cmd === "fail") return yield* Effect.fail("handler failed on purpose")
                  if (cmd === "die") return yield* Effect.die("handler died on purpose")
                  yield* c.send(bytes(`ok ${cmd}`))
                }
              }).pipe(Effect.catchTag("EndOfStream", () => Effect.void)),
            ),
          )
          const good = yield* transport.connect(listener)
          yield* good.send(bytes("one"))
          assert.strictEqual(text(yield* good.receive()), "ok one")
          for (const cmd of ["fail", "die"]) {
            const bad = yield* transport.connect(listener)
            yield* bad.send(bytes(cmd))
            const e = yield* Effect.flip(bad.receive())
            assert.include(["EndOfStream", "BrokenResource"], e._tag)
          }
          // the good connection still works
          yield* good.send(bytes("two"))
          assert.strictEqual(text(yield* good.receive()), "ok two")
          yield* eventually(() => logs.filter((l) => l.level === "ERROR").length >= 2, "two error logs")
          const errors = logs.filter((l) => l.level === "ERROR")
          for (const e of errors) assert.isString(e.annotations.peer)
        }).pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger))),
      )
    })

    it.live("interrupting serve closes the listener and every live connection", () =>
      run(
        Effect.gen(function* () {
          const listener = yield* transport.listen
          const started = yield* Ref.make(0)
          const fiber = yield* Effect.forkScoped(
            listener.serve(() =>
              Effect.zipRight(
                Ref.update(started, (n) => n + 1),
                Effect.never,
              ),
            ),
          )
          const a = yield* transport.connect(listener)
          const b = yield* transport.connect(listener)
          yield* eventually(() => Effect.runSync(Ref.get(started)) === 2, "two handlers")
          yield* Fiber.interrupt(fiber)
          assert.include(["EndOfStream", "BrokenResource"], (yield* Effect.flip(a.receive()))._tag)
          assert.include(["EndOfStream", "BrokenResource"], (yield* Effect.flip(b.receive()))._tag)
          const again = yield* Effect.flip(listener.accept)
          assert.strictEqual(again._tag, "ClosedResource")
          const refused = yield* Effect.exit(Effect.scoped(transport.connect(listener)))
          assert.isTrue(Exit.isFailure(refused), "connecting to a closed listener must fail")
        }),
      ),
    )

    it.live("maxConnections holds the limit and makes further clients wait, not drop", () =>
      run(
        Effect.gen(function* () {
          const listener = yield* transport.listen
          const active = yield* Ref.make(0)
          const peak = yield* Ref.make(0)
          const release = yield* Deferred.make<void>()
          yield* Effect.forkScoped(
            listener.serve(
              (c) =>
                Effect.gen(function* () {
                  const n = yield* Ref.updateAndGet(active, (x) => x + 1)
                  yield* Ref.update(peak, (p) => Math.max(p, n))
                  const msg = yield* c.receive()
                  yield* Deferred.await(release)
                  yield* c.send(msg)
                }).pipe(Effect.ensuring(Ref.update(active, (x) => x - 1))),
              { maxConnections: 2 },
            ),
          )
          const clients = []
          for (let i = 0; i < 4; i++) {
            const c = yield* transport.connect(listener)
            yield* c.send(bytes(`c${i}`))
            clients.push(c)
          }
          yield* eventually(() => Effect.runSync(Ref.get(active)) === 2, "two active handlers")
          // give the others every chance to (wrongly) start
          yield* Effect.sleep("100 millis")
          assert.strictEqual(yield* Ref.get(active), 2)
          yield* Deferred.succeed(release, undefined)
          const replies = yield* Effect.forEach(clients, (c) => Effect.map(c.receive(), text), {
            concurrency: "unbounded",
          })
          assert.deepStrictEqual(replies, ["c0", "c1", "c2", "c3"])
          assert.strictEqual(yield* Ref.get(peak), 2)
        }),
      ),
    )

    it.live("interrupting accept drops no connection", () =>
      run(
        Effect.gen(function* () {
          const listener = yield* transport.listen
          for (let i = 0; i < 20; i++) {
            const pending = yield* Effect.forkScoped(listener.accept)
            const client = yield* transport.connect(listener)
            if (i % 2 === 0) yield* Effect.yieldNow()
            const exit = yield* Fiber.interrupt(pending)
            const server = Exit.isSuccess(exit) ? exit.value : yield* listener.accept
            yield* client.send(bytes(`n${i}`))
            assert.strictEqual(text(yield* readN(server, `n${i}`.length)), `n${i}`)
            yield* client.close
          }
        }),
      ),
    )

    it.live("incoming: a Stream of connections", () =>
      run(
        Effect.gen(function* () {
          const listener = yield* transport.listen
          yield* Effect.forkScoped(
            listener.incoming.pipe(
              Stream.take(3),
              Stream.runForEach((c) => Effect.forkScoped(Effect.ensuring(echo(c), c.close))),
            ),
          )
          for (let i = 0; i < 3; i++) {
            const c = yield* transport.connect(listener)
            yield* c.send(bytes(`s${i}`))
            yield* c.sendEof
            assert.strictEqual(text(yield* readAll(c)), `s${i}`)
          }
        }),
      ),
    )

    it.live("Stream and Sink views: toStream ends at EndOfStream, toSink half-closes", () =>
      run(
        Effect.gen(function* () {
          const listener = yield* transport.listen
          yield* Effect.forkScoped(listener.serve(echo))
          const conn = yield* transport.connect(listener)
          yield* Stream.make(bytes("a"), bytes("b"), bytes("c")).pipe(Stream.run(SocketStream.toSink(conn)))
          const chunks = yield* SocketStream.toStream(conn).pipe(Stream.runCollect)
          assert.strictEqual(Chunk.toReadonlyArray(chunks).map(text).join(""), "abc")
        }),
      ),
    )

    it.live(
      "SocketStream.pipe returns the bytes copied; interrupted, it leaves unreceived bytes buffered and `to` open",
      () =>
        run(
          Effect.gen(function* () {
            const listener = yield* transport.listen
            const served = yield* Queue.unbounded<SocketStream.SocketStream>()
            yield* Effect.forkScoped(listener.serve((c) => Effect.zipRight(Queue.offer(served, c), Effect.never)))
            // to the end of the stream: the count, then the half-close
            const a = yield* transport.connect(listener)
            const b = yield* Queue.take(served)
            const copying = yield* Effect.fork(SocketStream.pipe(b, b))
            yield* a.send(bytes("abc"))
            yield* a.send(bytes("defg"))
            yield* a.sendEof
            assert.strictEqual(text(yield* readAll(a)), "abcdefg")
            assert.strictEqual(yield* Fiber.join(copying), 7)
            // interrupted while waiting: what arrives next stays in `from`, and `to` is not half-closed
            const c = yield* transport.connect(listener)
            const d = yield* Queue.take(served)
            const copying2 = yield* Effect.fork(SocketStream.pipe(d, d))
            yield* c.send(bytes("x"))
            assert.strictEqual(text(yield* readN(c, 1)), "x")
            yield* Fiber.interrupt(copying2)
            yield* c.send(bytes("yz"))
            assert.strictEqual(text(yield* readN(d, 2)), "yz")
            yield* d.send(bytes("still open"))
            assert.strictEqual(text(yield* readN(c, 10)), "still open")
          }),
        ),
    )

    if (env.openFds !== undefined) {
      const openFds = env.openFds
      it.live("no descriptor leaks over 2,000 connect/close cycles", () =>
        run(
          Effect.gen(function* () {
            const listener = yield* transport.listen
            yield* Effect.forkScoped(listener.serve((c) => c.close))
            const cycle = Effect.scoped(Effect.flatMap(transport.connect(listener), (c) => c.close))
            yield* Effect.repeatN(cycle, 49)
            const before = openFds()
            yield* Effect.repeatN(cycle, 1999)
            yield* eventually(() => openFds() <= before + 2, `descriptors back to ${before} (now ${openFds()})`)
            // and many connects interrupted at random points
            for (let i = 0; i < 200; i++) {
              const f = yield* Effect.fork(Effect.scoped(transport.connect(listener)))
              if (i % 2 === 0) yield* Effect.yieldNow()
              yield* Fiber.interrupt(f)
            }
            yield* eventually(
              () => openFds() <= before + 2,
              `descriptors back to ${before} after interrupts (now ${openFds()})`,
            )
          }),
        ),
      )
    }
  })
}
