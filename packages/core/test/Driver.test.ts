import { assert, describe, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import type * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Scope from "effect/Scope"
import * as Driver from "../src/Driver.ts"
import * as SocketAddress from "../src/SocketAddress.ts"

describe("driver tier helpers shared by the Node and Bun adapters", () => {
  it("addressFromRuntime: IPv4, IPv6 by family or colon, zone as scope id, Unix when no host", () => {
    assert.deepStrictEqual(Driver.addressFromRuntime("127.0.0.1", 80, "IPv4"), SocketAddress.ipv4("127.0.0.1", 80))
    assert.deepStrictEqual(Driver.addressFromRuntime("::1", 443, "IPv6"), SocketAddress.ipv6("::1", 443))
    assert.deepStrictEqual(Driver.addressFromRuntime("::1", 443), SocketAddress.ipv6("::1", 443))
    assert.deepStrictEqual(
      Driver.addressFromRuntime("fe80::1%2", 53, 6),
      SocketAddress.ipv6("fe80::1", 53, { scopeId: 2 }),
    )
    assert.deepStrictEqual(Driver.addressFromRuntime(undefined, undefined), SocketAddress.unixPath(""))
    assert.deepStrictEqual(Driver.addressFromRuntime("", 0), SocketAddress.unixPath(""))
    assert.deepStrictEqual(Driver.ipFromRuntime("::", 9, true), SocketAddress.ipv6("::", 9))
  })

  it("brokenFrom and errnoWithCause keep the errno facts and the cause", () => {
    const cause = Object.assign(new Error("reset"), { code: "ECONNRESET", syscall: "read" })
    const broken = Driver.brokenFrom("receive", cause, SocketAddress.ipv4("127.0.0.1", 1))
    assert.strictEqual(broken._tag, "BrokenResource")
    assert.strictEqual(broken.code, "ECONNRESET")
    assert.strictEqual(broken.syscall, "read")
    assert.strictEqual(broken.operation, "receive")
    assert.strictEqual(broken.cause, cause)
    assert.deepStrictEqual(Driver.errnoWithCause(cause), { code: "ECONNRESET", syscall: "read", cause })
  })

  it("fdOf accepts only non-negative numbers", () => {
    assert.strictEqual(Driver.fdOf({ fd: 0 }), 0)
    assert.strictEqual(Driver.fdOf({ fd: 12 }), 12)
    assert.strictEqual(Driver.fdOf({ fd: -1 }), undefined)
    assert.strictEqual(Driver.fdOf({ fd: "3" }), undefined)
    assert.strictEqual(Driver.fdOf({}), undefined)
    assert.strictEqual(Driver.fdOf(undefined), undefined)
  })

  it("nodeHasReusePort: from Node 22.12 and 23.1", () => {
    for (const v of ["22.12.0", "22.20.1", "23.1.0", "24.0.0", "25.2.1"]) assert.isTrue(Driver.nodeHasReusePort(v), v)
    for (const v of ["20.18.1", "22.11.0", "23.0.0", "21.7.3"]) assert.isFalse(Driver.nodeHasReusePort(v), v)
  })
})

describe("acquireSync and acquireUntilReady register in the caller's Scope", () => {
  /** A Scope of the user's own making: finalizers in an array, run last-in first-out. */
  const ownScope = () => {
    const finalizers: Array<Scope.Scope.Finalizer> = []
    const inner = Effect.runSync(Scope.make())
    const scope: Scope.Scope = {
      [Scope.ScopeTypeId]: Scope.ScopeTypeId,
      strategy: inner.strategy,
      fork: (strategy: ExecutionStrategy.ExecutionStrategy) => Scope.fork(inner, strategy),
      addFinalizer: (finalizer: Scope.Scope.Finalizer) => Effect.sync(() => void finalizers.push(finalizer)),
      pipe(this: Scope.Scope) {
        return this
      },
    } as Scope.Scope
    const close = Effect.suspend(() => Effect.forEach(finalizers.reverse(), (f) => f(Exit.void), { discard: true }))
    return { scope, close, finalizers }
  }

  it.effect("acquireSync: released when the Scope closes, in order with the Scope's other finalizers", () =>
    Effect.gen(function* () {
      const log: Array<string> = []
      const scope = yield* Scope.make()
      yield* Scope.addFinalizer(
        scope,
        Effect.sync(() => log.push("first")),
      )
      const a = yield* Driver.acquireSync(
        () => "handle",
        (h) => log.push(`release ${h}`),
      ).pipe(Scope.extend(scope))
      yield* Scope.addFinalizer(
        scope,
        Effect.sync(() => log.push("last")),
      )
      assert.strictEqual(a, "handle")
      assert.deepStrictEqual(log, [])
      yield* Scope.close(scope, Exit.void)
      assert.deepStrictEqual(log, ["last", "release handle", "first"])
    }),
  )

  it.effect("acquireSync: a closed Scope releases at once", () =>
    Effect.gen(function* () {
      const log: Array<string> = []
      const scope = yield* Scope.make()
      yield* Scope.close(scope, Exit.void)
      yield* Driver.acquireSync(
        () => "handle",
        (h) => log.push(`release ${h}`),
      ).pipe(Scope.extend(scope))
      assert.deepStrictEqual(log, ["release handle"])
    }),
  )

  it.effect(
    "acquireSync and acquireUntilReady: a Scope of the user's own making gets the finalizer through addFinalizer",
    () =>
      Effect.gen(function* () {
        const log: Array<string> = []
        const own = ownScope()
        yield* Driver.acquireSync(
          () => "a",
          (h) => log.push(`release ${h}`),
        ).pipe(Scope.extend(own.scope))
        yield* Driver.acquireUntilReady(
          () => "b",
          (h) => Effect.succeed(h),
          (h) => log.push(`release ${h}`),
        ).pipe(Scope.extend(own.scope))
        assert.strictEqual(own.finalizers.length, 2)
        yield* own.close
        assert.deepStrictEqual(log, ["release b", "release a"])
      }),
  )

  it.effect("acquireUntilReady: a ready handle is released by releaseReady when the Scope closes", () =>
    Effect.gen(function* () {
      const log: Array<string> = []
      const scope = yield* Scope.make()
      const ready = yield* Driver.acquireUntilReady(
        () => "handle",
        (h) => Effect.succeed(`${h} ready`),
        (h) => log.push(`release ${h}`),
        (h, r) => Effect.sync(() => log.push(`close ${h} (${r})`)),
      ).pipe(Scope.extend(scope))
      assert.strictEqual(ready, "handle ready")
      assert.deepStrictEqual(log, [])
      yield* Scope.close(scope, Exit.void)
      assert.deepStrictEqual(log, ["close handle (handle ready)"])
    }),
  )

  it.effect("acquireUntilReady: a failed or interrupted wait releases at once and registers nothing", () =>
    Effect.gen(function* () {
      const log: Array<string> = []
      const scope = yield* Scope.make()
      const failed = yield* Driver.acquireUntilReady(
        () => "refused",
        () => Effect.fail("ECONNREFUSED"),
        (h) => log.push(`release ${h}`),
      ).pipe(Scope.extend(scope), Effect.flip)
      assert.strictEqual(failed, "ECONNREFUSED")
      const waiting = yield* Deferred.make<void>()
      const fiber = yield* Driver.acquireUntilReady(
        () => "hanging",
        () => Effect.zipRight(Deferred.succeed(waiting, undefined), Effect.never),
        (h) => log.push(`release ${h}`),
      ).pipe(Scope.extend(scope), Effect.fork)
      yield* Deferred.await(waiting)
      yield* Fiber.interrupt(fiber)
      assert.deepStrictEqual(log, ["release refused", "release hanging"])
      yield* Scope.close(scope, Exit.void)
      // nothing was left in the Scope: closing it releases nothing again
      assert.deepStrictEqual(log, ["release refused", "release hanging"])
    }),
  )
})
