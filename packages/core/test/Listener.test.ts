import { assert, describe, it } from "@effect/vitest"
import { Listener, SocketAddress } from "@netfx/core"
import type * as Driver from "@netfx/core/Driver"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import type * as FiberRefs from "effect/FiberRefs"
import * as Logger from "effect/Logger"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"

/** A raw listener the test drives by hand: it reports what `start` installed. */
const fakeListener = () => {
  let handlers: Driver.ListenerHandlers | undefined
  const raw: Driver.RawListener = {
    address: SocketAddress.ipv4("127.0.0.1", 1),
    fd: undefined,
    start: (h) => {
      handlers = h
    },
    close: () => {},
  }
  return { raw, handlers: () => handlers as Driver.ListenerHandlers }
}

describe("Listener logging", () => {
  it.live("accept failures are logged through the caller's Logger, once per interval", () => {
    const lines: Array<{ level: string; message: unknown; annotations: Record<string, unknown> }> = []
    const logger = Logger.make(({ logLevel, message, annotations }) => {
      const record: Record<string, unknown> = {}
      for (const [k, v] of annotations) record[k] = v
      lines.push({ level: logLevel.label, message, annotations: record })
    })
    return Effect.gen(function* () {
      const fake = fakeListener()
      yield* Listener.make([fake.raw])
      const h = fake.handlers()
      for (let i = 0; i < 1000; i++)
        h.onError({ code: "EMFILE", syscall: "accept", cause: undefined, retryIn: "5 millis" })
      // the log fibers run on the caller's runtime: let them finish
      yield* Effect.yieldNow()
      yield* Effect.sleep("10 millis")
      assert.strictEqual(lines.length, 1, JSON.stringify(lines))
      const [line] = lines
      assert.strictEqual(line?.level, "WARN")
      assert.include(String(line?.message), "EMFILE")
      assert.strictEqual(line?.annotations.code, "EMFILE")
      assert.strictEqual(line?.annotations.retryInMillis, 5)
    }).pipe(Effect.scoped, Effect.provide(Logger.replace(Logger.defaultLogger, logger)))
  })
})

/** A raw connection that records whether it was closed (and can reset itself). */
const fakeConnection = (n: number) => {
  let handlers: Driver.ConnectionHandlers | undefined
  const state = { closed: false, started: false }
  const raw: Driver.RawConnection = {
    localAddress: SocketAddress.ipv4("127.0.0.1", 1),
    remoteAddress: SocketAddress.ipv4("127.0.0.2", 1000 + n),
    fd: undefined,
    extra: {},
    start: (h) => {
      handlers = h
      state.started = true
    },
    pause: () => {},
    resume: () => {},
    write: () => true,
    shutdown: () => {},
    close: () => {
      state.closed = true
    },
  }
  return { raw, state, handlers: () => handlers as Driver.ConnectionHandlers }
}

const collectLogs = () => {
  const lines: Array<{ level: string; message: unknown; peer: unknown }> = []
  const logger = Logger.make(({ logLevel, message, annotations }) => {
    let peer: unknown
    for (const [k, v] of annotations) if (k === "peer") peer = v
    lines.push({ level: logLevel.label, message, peer })
  })
  return { lines, layer: Logger.replace(Logger.defaultLogger, logger) }
}

describe("Listener incoming", () => {
  it.effect("a connection the consumer closed is forgotten; those still open close with the listener", () =>
    Effect.gen(function* () {
      const scope = yield* Scope.make()
      const fake = fakeListener()
      const listener = yield* Scope.extend(Listener.make([fake.raw]), scope)
      const conns = [fakeConnection(0), fakeConnection(1)]
      for (const c of conns) fake.handlers().onConnection(c.raw)
      const taken = yield* Stream.runCollect(Stream.take(listener.incoming, 2))
      const [first, second] = Array.from(taken)
      assert.isTrue(first !== undefined && second !== undefined)
      // the consumer closes one: the listener's close must not touch it again
      yield* first!.close
      assert.deepStrictEqual(
        conns.map((c) => c.state.closed),
        [true, false],
      )
      conns[0]!.state.closed = false
      yield* Scope.close(scope, Exit.void)
      assert.deepStrictEqual(
        conns.map((c) => c.state.closed),
        [false, true],
      )
      const error = yield* Effect.flip(second!.receive())
      assert.strictEqual(error._tag, "ClosedResource")
    }),
  )
})

describe("Listener serve", () => {
  it.live("every connection is closed and its maxConnections slot freed however its handler ends", () => {
    const logs = collectLogs()
    return Effect.gen(function* () {
      const fake = fakeListener()
      const listener = yield* Listener.make([fake.raw])
      const h = fake.handlers()
      const conns = Array.from({ length: 6 }, (_, i) => fakeConnection(i))
      // two arrive before serve starts: serve takes them from the queue
      h.onConnection(conns[0]!.raw)
      h.onConnection(conns[1]!.raw)
      const go = yield* Deferred.make<void>()
      const started: Array<number> = []
      const endings: Record<number, Effect.Effect<unknown, unknown>> = {
        0: Effect.void,
        1: Effect.fail("handler failed"),
        2: Effect.die("handler died"),
        4: Effect.interrupt,
        5: Effect.never,
      }
      const fiber = yield* Effect.forkScoped(
        listener.serve(
          (c) => {
            const n = (c.remoteAddress as { port: number }).port - 1000
            started.push(n)
            // 3 throws instead of returning an Effect
            if (n === 3) throw new Error("handler threw")
            return Effect.zipRight(Deferred.await(go), endings[n]!)
          },
          { maxConnections: 1 },
        ),
      )
      for (const c of conns.slice(2)) h.onConnection(c.raw)
      yield* Effect.yieldNow()
      // one slot: only the first queued connection runs until go
      assert.deepStrictEqual(started, [0])
      yield* Deferred.succeed(go, undefined)
      yield* eventually(() => started.length === 6, "every handler started in turn")
      assert.deepStrictEqual(started, [0, 1, 2, 3, 4, 5])
      assert.deepStrictEqual(
        conns.map((c) => c.state.closed),
        [true, true, true, true, true, false],
      )
      // a failure, a defect and a throw are logged at Error with their peer; an interruption is not
      const errors = logs.lines.filter((l) => l.level === "ERROR")
      assert.deepStrictEqual(
        errors.map((l) => l.peer),
        ["127.0.0.2:1001", "127.0.0.2:1002", "127.0.0.2:1003"],
      )
      // interrupting serve interrupts the last handler and closes its connection
      yield* Fiber.interrupt(fiber)
      assert.isTrue(conns[5]!.state.closed)
    }).pipe(Effect.scoped, Effect.provide(logs.layer))
  })

  it.live("a long queue of handlers that end at once, one slot at a time, all run (no nested starts)", () =>
    Effect.gen(function* () {
      const fake = fakeListener()
      const n = 5000
      const listener = yield* Listener.make([fake.raw], { backlog: n })
      const h = fake.handlers()
      const conns = Array.from({ length: n }, (_, i) => fakeConnection(i))
      for (const c of conns) h.onConnection(c.raw)
      let ran = 0
      const all = yield* Deferred.make<void>()
      yield* Effect.forkScoped(
        listener.serve(
          () =>
            Effect.suspend(() => {
              ran++
              return ran === n ? Deferred.succeed(all, undefined) : Effect.void
            }),
          { maxConnections: 1 },
        ),
      )
      yield* Deferred.await(all)
      // the last handler's connection closes as its fiber exits
      yield* eventually(() => conns.every((c) => c.state.closed), "every connection closed")
    }).pipe(Effect.scoped),
  )

  it.live("interrupting serve waits until every handler's finalizers have run", () =>
    Effect.gen(function* () {
      const fake = fakeListener()
      const listener = yield* Listener.make([fake.raw])
      const h = fake.handlers()
      const release = yield* Deferred.make<void>()
      const finalized: Array<number> = []
      let running = 0
      const fiber = yield* Effect.forkScoped(
        listener.serve((c) => {
          running++
          const n = (c.remoteAddress as { port: number }).port
          return Effect.never.pipe(
            Effect.onInterrupt(() =>
              Effect.zipRight(
                Deferred.await(release),
                Effect.sync(() => finalized.push(n)),
              ),
            ),
          )
        }),
      )
      const conns = [fakeConnection(1), fakeConnection(2)]
      yield* eventually(() => {
        for (const c of conns) if (!c.state.started) h.onConnection(c.raw)
        return running === 2
      }, "two handlers")
      const interrupting = yield* Effect.fork(Fiber.interrupt(fiber))
      yield* Effect.sleep("20 millis")
      assert.isNull(interrupting.unsafePoll(), "serve ended before its handlers' finalizers ran")
      assert.deepStrictEqual(finalized, [])
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(interrupting)
      assert.deepStrictEqual([...finalized].sort(), [1001, 1002])
      assert.isTrue(conns.every((c) => c.state.closed))
    }).pipe(Effect.scoped),
  )

  it.live("accept on a listener a serve consumes fails with BusyResource; closing the listener ends serve", () =>
    Effect.gen(function* () {
      const fake = fakeListener()
      const listener = yield* Listener.make([fake.raw])
      const first = yield* Effect.forkScoped(listener.serve(() => Effect.never))
      yield* Effect.yieldNow()
      const accept = yield* Effect.flip(Effect.scoped(listener.accept))
      assert.strictEqual(accept._tag, "BusyResource")
      yield* listener.close
      const exit = yield* Fiber.await(first)
      assert.isTrue(
        Exit.isFailure(exit) &&
          Cause.failureOption(exit.cause).pipe((o) => o._tag === "Some" && o.value._tag === "ClosedResource"),
      )
    }).pipe(Effect.scoped),
  )

  it.live("an idleTimeout that is no duration is InvalidArgument from the Effect, not a throw from serve", () =>
    Effect.gen(function* () {
      const listener = yield* Listener.make([fakeListener().raw])
      for (const idleTimeout of ["abc", "5 fortnights", {}, Number.NaN, -1, 0]) {
        const exit = yield* Effect.exit(
          Effect.suspend(() => listener.serve(() => Effect.void, { idleTimeout } as unknown as Listener.ServeOptions)),
        )
        const error = Exit.isFailure(exit) ? Cause.failureOption(exit.cause) : undefined
        assert.strictEqual(
          error?._tag === "Some" ? error.value._tag : String(exit),
          "InvalidArgument",
          `idleTimeout ${String(idleTimeout)}`,
        )
      }
    }).pipe(Effect.scoped),
  )

  it.live("a second serve fails with BusyResource and leaves the listener to the first", () =>
    Effect.gen(function* () {
      const fake = fakeListener()
      const listener = yield* Listener.make([fake.raw])
      const served = yield* Deferred.make<string>()
      const first = yield* Effect.forkScoped(
        listener.serve((conn) => Deferred.succeed(served, SocketAddress.format(conn.remoteAddress))),
      )
      yield* Effect.yieldNow()
      const second = yield* Effect.flip(listener.serve(() => Effect.void))
      assert.strictEqual(second._tag, "BusyResource")
      // the first serve still runs and still gets connections
      assert.isNull(first.unsafePoll())
      const conn = fakeConnection(7)
      fake.handlers().onConnection(conn.raw)
      assert.strictEqual(yield* Deferred.await(served), "127.0.0.2:1007")
      assert.isNull(first.unsafePoll())
    }).pipe(Effect.scoped),
  )
  it.live("handler fibers share one FiberRefs and still see the serve fiber's values as their own copies", () => {
    const level = FiberRef.unsafeMake("unset")
    class Tag extends Context.Tag("test/ServeTag")<Tag, string>() {}
    return Effect.gen(function* () {
      const fake = fakeListener()
      const listener = yield* Listener.make([fake.raw])
      const seen: Array<{ refs: FiberRefs.FiberRefs; level: string; tag: string; after: string; joined: string }> = []
      const done = yield* Deferred.make<void>()
      const first = yield* Deferred.make<void>()
      yield* Effect.forkScoped(
        listener
          .serve((c) =>
            Effect.gen(function* () {
              const n = (c.remoteAddress as { port: number }).port - 1000
              const refs = yield* startRefs
              const before = yield* FiberRef.get(level)
              const tag = yield* Tag
              // the second handler starts only after the first has set its own value
              if (n === 1) yield* Deferred.await(first)
              yield* FiberRef.set(level, `handler ${n}`)
              const after = yield* FiberRef.get(level)
              // a child's change comes back to the handler on join
              const child = yield* Effect.fork(FiberRef.set(level, `child of ${n}`))
              yield* Fiber.join(child)
              const joined = yield* FiberRef.get(level)
              seen.push({ refs, level: before, tag, after, joined })
              if (n === 0) yield* Deferred.succeed(first, undefined)
              if (seen.length === 2) yield* Deferred.succeed(done, undefined)
            }),
          )
          .pipe(Effect.locally(level, "serve"), Effect.provideService(Tag, "service")),
      )
      yield* Effect.yieldNow()
      fake.handlers().onConnection(fakeConnection(0).raw)
      fake.handlers().onConnection(fakeConnection(1).raw)
      yield* Deferred.await(done)
      const [a, b] = seen
      // one FiberRefs object for both (not a copy per fiber) ...
      assert.strictEqual(a?.refs, b?.refs)
      // ... with the serve fiber's values and services in both, and each handler's change its own
      assert.deepStrictEqual(
        seen.map(({ level, tag, after, joined }) => ({ level, tag, after, joined })),
        [
          { level: "serve", tag: "service", after: "handler 0", joined: "child of 0" },
          { level: "serve", tag: "service", after: "handler 1", joined: "child of 1" },
        ],
      )
      // the serve fiber's own value is untouched
      assert.strictEqual(yield* FiberRef.get(level), "unset")
    }).pipe(Effect.scoped)
  })

  it.live("a FiberRef whose fork gives each child its own value gets it in every handler", () => {
    const depth = FiberRef.unsafeMake(0, { fork: (n) => n + 1 })
    return Effect.gen(function* () {
      const fake = fakeListener()
      const listener = yield* Listener.make([fake.raw])
      const seen: Array<{ refs: FiberRefs.FiberRefs; depth: number }> = []
      const done = yield* Deferred.make<void>()
      yield* Effect.forkScoped(
        listener
          .serve(() =>
            Effect.gen(function* () {
              seen.push({ refs: yield* startRefs, depth: yield* FiberRef.get(depth) })
              if (seen.length === 2) yield* Deferred.succeed(done, undefined)
            }),
          )
          .pipe(Effect.locally(depth, 10)),
      )
      yield* Effect.yieldNow()
      fake.handlers().onConnection(fakeConnection(0).raw)
      fake.handlers().onConnection(fakeConnection(1).raw)
      yield* Deferred.await(done)
      // forked from the serve fiber, where it is 10
      assert.deepStrictEqual(
        seen.map((s) => s.depth),
        [11, 11],
      )
      assert.notStrictEqual(seen[0]?.refs, seen[1]?.refs)
    }).pipe(Effect.scoped)
  })
})

/**
 * The FiberRefs a fiber holds before it changes any (Effect 3 keeps them in
 * `_fiberRefs`; `Effect.getFiberRefs` would record the runtime flags first,
 * which makes a new copy).
 */
const startRefs = Effect.withFiberRuntime<FiberRefs.FiberRefs>((fiber) =>
  Effect.succeed((fiber as unknown as { readonly _fiberRefs: FiberRefs.FiberRefs })._fiberRefs),
)

const eventually = (check: () => boolean, what: string) =>
  Effect.gen(function* () {
    for (let i = 0; i < 2500; i++) {
      if (check()) return
      yield* Effect.sleep("2 millis")
    }
    assert.fail(`timed out waiting for: ${what}`)
  })
