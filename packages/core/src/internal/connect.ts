import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Scope from "effect/Scope"
import type { RawConnection, Restore } from "../Driver.ts"
import { type ConnectAttempt, ConnectFailed } from "../NetError.ts"
import type * as SocketAddress from "../SocketAddress.ts"
import type { SocketStream } from "../SocketStream.ts"
import type { SocketStreamImpl } from "./socketStream.ts"

/** The RFC 8305 "Connection Attempt Delay" netfx uses by default. @internal */
export const DEFAULT_HAPPY_EYEBALLS_DELAY = Duration.millis(250)

/** @internal */
export interface ConnectPlan {
  readonly host: string
  readonly port: number
  /**
   * Time between starting one attempt and the next while the earlier ones
   * are still pending (RFC 8305 "Connection Attempt Delay"). Zero: no
   * racing; each attempt runs to its end before the next starts. Default
   * 250 ms.
   */
  readonly delay?: Duration.DurationInput | undefined
}

/**
 * Orders addresses for happy eyeballs (RFC 8305 §4): families interleaved,
 * IPv6 first when there is any, each family keeping the resolver's order.
 *
 * @internal
 */
export const interleave = <A extends SocketAddress.Ipv4 | SocketAddress.Ipv6>(
  addresses: ReadonlyArray<A>,
): ReadonlyArray<A> => {
  const v6 = addresses.filter((a) => a._tag === "Ipv6")
  const v4 = addresses.filter((a) => a._tag === "Ipv4")
  const out: Array<A> = []
  for (let i = 0; i < Math.max(v6.length, v4.length); i++) {
    const a = v6[i]
    const b = v4[i]
    if (a !== undefined) out.push(a)
    if (b !== undefined) out.push(b)
  }
  return out
}

interface Won<A> {
  readonly value: A
  readonly scope: Scope.CloseableScope
}

/**
 * Happy eyeballs (RFC 8305) over already-resolved addresses.
 *
 * Addresses are interleaved by family (IPv6 first). Attempt 0 starts at
 * once; attempt k+1 starts when attempt k has failed or when `delay` has
 * passed since attempt k started, whichever comes first (so a refused
 * connection moves on at once). The first attempt to connect wins; every
 * other attempt is interrupted, and every attempt that lost (failed,
 * interrupted, or connected second) has its scope closed before this
 * returns. Time is Effect's `Clock`, so `TestClock` drives it.
 *
 * Every attempt runs in its own child scope forked from the caller's: the
 * winner's stays open (it closes with the caller's scope); the others are
 * closed at once. Interrupting this effect at any moment interrupts every
 * attempt, closes their scopes and — if one had already won — the winner's
 * too, so nothing it opened stays open.
 *
 * Fails with one `ConnectFailed` listing every attempted address with its
 * error, in the order the attempts started.
 *
 * @internal
 */
export const connectAddresses = <A>(
  addresses: ReadonlyArray<SocketAddress.Ipv4 | SocketAddress.Ipv6>,
  attempt: (address: SocketAddress.Ipv4 | SocketAddress.Ipv6) => Effect.Effect<A, ConnectFailed, Scope.Scope>,
  plan: ConnectPlan,
): Effect.Effect<A, ConnectFailed, Scope.Scope> =>
  addresses.length === 1
    ? connectOne(addresses[0] as SocketAddress.Ipv4 | SocketAddress.Ipv6, attempt, plan)
    : connectMany(addresses, attempt, plan)

/**
 * One address (numeric hosts): nothing to race, so no fibers, no Deferreds
 * and no timers; the attempt runs directly in the caller's Scope (an
 * attempt releases what it opened when it fails: `TcpDriver`).
 */
const connectOne = <A>(
  address: SocketAddress.Ipv4 | SocketAddress.Ipv6,
  attempt: (address: SocketAddress.Ipv4 | SocketAddress.Ipv6) => Effect.Effect<A, ConnectFailed, Scope.Scope>,
  plan: ConnectPlan,
): Effect.Effect<A, ConnectFailed, Scope.Scope> =>
  // the attempt's own ConnectFailed already names the host when the host is this address
  address.host === plan.host && address.port === plan.port
    ? attempt(address)
    : Effect.catchAllCause(attempt(address), (cause) => failedWith(cause, plan))

/** A failed attempt as the connect's failure: its `ConnectFailed` for the whole plan, or the cause as it is. */
const failedWith = (cause: Cause.Cause<ConnectFailed>, plan: ConnectPlan): Effect.Effect<never, ConnectFailed> => {
  const failure = Cause.failureOption(cause)
  return failure._tag === "Some"
    ? Effect.fail(new ConnectFailed({ host: plan.host, port: plan.port, attempts: failure.value.attempts }))
    : Effect.failCause(cause)
}

const connectMany = <A>(
  addresses: ReadonlyArray<SocketAddress.Ipv4 | SocketAddress.Ipv6>,
  attempt: (address: SocketAddress.Ipv4 | SocketAddress.Ipv6) => Effect.Effect<A, ConnectFailed, Scope.Scope>,
  plan: ConnectPlan,
): Effect.Effect<A, ConnectFailed, Scope.Scope> =>
  Effect.gen(function* () {
    const outer = yield* Effect.scope
    const delay = Duration.decode(plan.delay ?? DEFAULT_HAPPY_EYEBALLS_DELAY)
    const racing = Duration.greaterThan(delay, Duration.zero)
    const ordered = interleave(addresses)
    const failures: Array<ReadonlyArray<ConnectAttempt> | undefined> = ordered.map(() => undefined)
    const winner = yield* Deferred.make<Won<A>>()
    const fibers: Array<Fiber.RuntimeFiber<void>> = []
    const dones: Array<Deferred.Deferred<void>> = []

    const run = (index: number, address: SocketAddress.Ipv4 | SocketAddress.Ipv6, done: Deferred.Deferred<void>) =>
      Effect.uninterruptibleMask((restore) =>
        Effect.gen(function* () {
          const child = yield* Scope.fork(outer, ExecutionStrategy.sequential)
          const exit = yield* Effect.exit(restore(Scope.extend(attempt(address), child)))
          if (Exit.isSuccess(exit)) {
            const first = yield* Deferred.succeed(winner, { value: exit.value, scope: child })
            if (!first) yield* Scope.close(child, Exit.void)
          } else {
            yield* Scope.close(child, exit)
            const failure = Cause.failureOption(exit.cause)
            if (failure._tag === "Some") {
              failures[index] = failure.value.attempts
            } else if (!Cause.isInterruptedOnly(exit.cause)) {
              // a defect in a driver: make it the winner's problem, not a hang
              yield* Deferred.die(winner, Cause.squash(exit.cause))
            }
          }
          yield* Deferred.succeed(done, undefined)
        }),
      )

    const closeAll = Effect.suspend(() => Fiber.interruptAll(fibers))

    const race = Effect.gen(function* () {
      for (let index = 0; index < ordered.length; index++) {
        if (yield* Deferred.isDone(winner)) break
        const address = ordered[index] as SocketAddress.Ipv4 | SocketAddress.Ipv6
        const done = yield* Deferred.make<void>()
        dones.push(done)
        fibers.push(yield* Effect.fork(run(index, address, done)))
        if (index === ordered.length - 1) break
        // Next attempt: when this one ends, when the delay passes, or never (someone won).
        const waits: Array<Effect.Effect<void>> = [Deferred.await(done), Effect.asVoid(Deferred.await(winner))]
        if (racing) waits.push(Effect.sleep(delay))
        yield* Effect.raceAll(waits)
      }
      // Every attempt started: wait for a winner or for all of them to end.
      yield* Effect.raceFirst(
        Effect.either(Deferred.await(winner)),
        Effect.as(Effect.forEach(dones, Deferred.await, { discard: true }), undefined),
      )
      yield* closeAll
      const won = yield* Deferred.poll(winner)
      if (won._tag === "Some") return yield* won.value.pipe(Effect.map((w) => w.value))
      const attempts = failures.flatMap((f) => f ?? [])
      return yield* Effect.fail(new ConnectFailed({ host: plan.host, port: plan.port, attempts }))
    })

    return yield* race.pipe(
      Effect.onExit((exit) =>
        Exit.isSuccess(exit)
          ? Effect.void
          : Effect.gen(function* () {
              yield* closeAll
              const won = yield* Deferred.poll(winner)
              if (won._tag === "Some") {
                const w = yield* Effect.either(won.value)
                if (w._tag === "Right") yield* Scope.close(w.right.scope, exit)
              }
            }),
      ),
    )
  })

/**
 * Runs `effect` in a child of the caller's Scope that is closed at once
 * when it fails or is interrupted, so whatever it opened is released
 * before the failure is seen (not when the caller's Scope closes); on
 * success the child stays open and closes with the caller's Scope.
 *
 * @internal
 */
export const releasingOnFailure = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R | Scope.Scope> =>
  Effect.flatMap(Effect.scope, (outer) =>
    Effect.uninterruptibleMask((restore) =>
      Effect.gen(function* () {
        const child = yield* Scope.fork(outer, ExecutionStrategy.sequential)
        const exit = yield* Effect.exit(restore(Scope.extend(effect, child)))
        if (Exit.isFailure(exit)) yield* Scope.close(child, exit)
        return yield* exit
      }),
    ),
  )

/**
 * Bounds a connect with `timeout`: when it passes the connect is
 * interrupted (the interruption is awaited), every socket it opened is
 * closed ({@link releasingOnFailure}), and the result is a `ConnectFailed`
 * with code `ETIMEDOUT` listing `attempts()` as they stood.
 *
 * @internal
 */
export const withConnectTimeout =
  <A, E, R>(
    connect: Effect.Effect<A, E, R>,
    timeout: Duration.Duration,
    attempts: () => ReadonlyArray<ConnectAttempt>,
  ) =>
  (host: string, port: number): Effect.Effect<A, E | ConnectFailed, R | Scope.Scope> =>
    releasingOnFailure(
      Effect.timeoutFail(connect, {
        duration: timeout,
        onTimeout: () => new ConnectFailed({ host, port, attempts: attempts(), code: "ETIMEDOUT", timeout }),
      }),
    )

/**
 * The release of a connection a `TcpDriver` connect handed over, as a
 * Scope's finalizer (module-level: it holds nothing of the connect).
 *
 * @internal
 */
export const closeRaw = (raw: RawConnection): void => raw.close()

/**
 * The one release of a connected stream and its socket: the stream's
 * close (a reset when bytes were left unread), then the socket's own,
 * which still closes it after the stream handed it on (STARTTLS) — what
 * the two finalizers `Tcp.connect` registered before did, in their order.
 *
 * @internal
 */
export const closeWithRaw = (stream: SocketStreamImpl): void => {
  stream.closeNow()
  stream.raw.close()
}

/**
 * A bracket over a connection `acquire` hands over (a `TcpDriver` connect,
 * whose waits are in `restore`), made a stream by `wrap` in the step that
 * receives it: `acquire` runs uninterruptibly and `use`
 * as interruptibly as the caller was, so the stream is either never made
 * or closed by {@link closeWithRaw} when `use` ends, however it ends (what
 * `Effect.acquireUseRelease` does, with the mask's `restore` also given to
 * `acquire`). No Scope.
 *
 * @internal
 */
export const withOwnedStream = <H, A, E, R, E2, R2>(
  acquire: (restore: Restore) => Effect.Effect<H, E2, R2>,
  wrap: (handle: H) => SocketStreamImpl,
  use: (conn: SocketStream) => Effect.Effect<A, E, R>,
): Effect.Effect<A, E | E2, R | R2> =>
  Effect.uninterruptibleMask((restore) =>
    Effect.flatMap(acquire(restore), (handle) => {
      const stream = wrap(handle)
      return Effect.flatMap(Effect.exit(restore(Effect.suspend(() => use(stream)))), (exit) => {
        closeWithRaw(stream)
        return exit
      })
    }),
  )

/**
 * A bracket over a scoped `connect`: it runs in a Scope of its own that
 * `use` does not see, closed with `use`'s exit when `use` ends (the
 * finalizers `connect` registered run as `Effect.scoped` would run them:
 * TLS `close_notify`, then the socket).
 *
 * @internal
 */
export const withPrivateScope = <C, A, E, R, E2, R2>(
  connect: Effect.Effect<C, E2, R2 | Scope.Scope>,
  use: (conn: C) => Effect.Effect<A, E, R>,
): Effect.Effect<A, E | E2, R | Exclude<R2, Scope.Scope>> =>
  Effect.acquireUseRelease(
    Scope.make(),
    (scope) => Effect.flatMap(Scope.extend(connect, scope), use),
    (scope, exit) => Scope.close(scope, exit),
  )
