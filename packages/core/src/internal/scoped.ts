import * as Effect from "effect/Effect"
import * as Effectable from "effect/Effectable"
import type * as Exit from "effect/Exit"
import { identity } from "effect/Function"
import * as Scope from "effect/Scope"
import type { Restore } from "../Driver.ts"

/**
 * The finalizer `Effect.sync(() => release(handle))` as an object of two
 * fields. A closure would keep its whole lexical chain alive for as long
 * as the Scope holds the finalizer (on the connect path: the request, the
 * options, every callback built to connect), and the Effect and closure
 * themselves are ~140 bytes more; a connection keeps its finalizers for as
 * long as it is open. Effect runs it by calling `commit`; a throw from
 * `release` is a defect, as from `Effect.sync`.
 */
class SyncRelease<H> extends Effectable.Class<void> {
  constructor(
    readonly release: (handle: H) => void,
    readonly handle: H,
  ) {
    super()
  }
  commit(): Effect.Effect<void> {
    this.release(this.handle)
    return Effect.void
  }
}

/** What a finalizer entry of {@link releasing} runs, with the release and handle it was bound to. */
function releaseEntry<H>(release: (handle: H) => void, handle: H): Effect.Effect<void> {
  return new SyncRelease(release, handle)
}

/**
 * A Scope's finalizer entry (a function of the exit) that runs
 * `release(handle)`: {@link releaseEntry} bound to the two, so it holds
 * them and nothing of its caller.
 *
 * A bound function, not a closure, for memory on Bun: JSC keeps closures
 * and their scopes in blocks of their own, which the connect path fills
 * with short-lived closures (Effect's continuations), and a closure that
 * stays for as long as its connection is open keeps such a block, mostly
 * empty, alive with it. Measured on Bun 1.4.5 with 5,000 idle connections
 * kept by `Tcp.connect` alone (no fiber per connection): JSC's heap
 * capacity 3.5-3.7 KiB per connection with a closure entry, 2.1 with a
 * bound one, for the same live heap (bench/README.md, "Idle memory on Bun").
 */
const releasing = <H>(release: (handle: H) => void, handle: H): (() => Effect.Effect<void>) => {
  const entry: (release: (handle: H) => void, handle: H) => Effect.Effect<void> = releaseEntry
  return entry.bind(undefined, release, handle)
}

/** A Scope's finalizer entry that runs `finalizer`, holding nothing of its caller. */
const running = (finalizer: Effect.Effect<void>) => (): Effect.Effect<void> => finalizer

/**
 * `Effect.acquireRelease` for a synchronous acquire and a synchronous
 * release that needs nothing from the fiber (no FiberRefs, no services):
 * closing a socket, a timer, a handle.
 *
 * `acquireRelease` snapshots the acquiring fiber's FiberRefs and, when the
 * Scope closes, diffs and patches the closing fiber's FiberRefs around the
 * release (and back), so the release sees the acquirer's logger and
 * annotations. For a release that is a plain `close()` that is pure cost:
 * measured at ~10 µs of CPU per use on the connect path, more than the
 * socket's own `connect(2)`. This registers the release directly in the
 * Scope instead. Acquiring and registering are one step nothing can
 * interrupt: either both happened or neither did (one synchronous step in
 * an open Effect Scope, see `isOpenScope`; an uninterruptible region
 * otherwise).
 *
 * @internal
 */
export const acquireSync = <A>(acquire: () => A, release: (a: A) => void): Effect.Effect<A, never, Scope.Scope> =>
  Effect.flatMap(Effect.scope, (scope) => {
    if (isOpenScope(scope)) {
      // acquire and register in this one synchronous step: nothing can interrupt in between
      const a = acquire()
      return registered(scope, releasing(release, a), a)
    }
    return Effect.uninterruptible(
      Effect.suspend(() => {
        const a = acquire()
        return registered(scope, releasing(release, a), a)
      }),
    )
  })

/**
 * What netfx reads of Effect 3's own Scope (`Scope.make`, `Effect.scoped`,
 * `Scope.fork`): an open scope keeps its finalizers in a `Map` in
 * `state.finalizers`, and closing it runs them in reverse insertion order,
 * exactly what `Scope.addFinalizer` adds to.
 */
interface OpenScope {
  readonly state: {
    readonly _tag: "Open"
    readonly finalizers: Map<unknown, (exit: Exit.Exit<unknown, unknown>) => Effect.Effect<unknown>>
  }
}

/**
 * Whether `scope` is an open Effect Scope whose finalizer can be added
 * synchronously (see {@link OpenScope}). `Scope.addFinalizer` is an Effect
 * of its own (a suspend, a `void`), and a registration that is not part of
 * the acquiring step needs an uninterruptible region around both (two
 * runtime-flag changes and their frames): with the finalizer set directly,
 * acquiring and registering are one synchronous step and need neither,
 * which saves ~8 Effect operations per connect. Any other scope (closed,
 * a user's own `Scope` implementation, a future Effect that keeps its
 * state differently) takes the ordinary path.
 */
const isOpenScope = (scope: Scope.Scope): scope is Scope.Scope & OpenScope => {
  const state = (scope as { readonly state?: { readonly _tag?: unknown; readonly finalizers?: unknown } }).state
  return typeof state === "object" && state !== null && state._tag === "Open" && state.finalizers instanceof Map
}

/**
 * Adds `entry` (a finalizer entry, see {@link releasing} and {@link running})
 * to `scope` and succeeds with `value`. In an open Effect Scope the entry is
 * set directly, in the same synchronous step as the caller's (no Effect
 * operation of its own); any other scope gets it through
 * `Scope.addFinalizer`, so the caller must be uninterruptible there.
 */
const registered = <A>(scope: Scope.Scope, entry: () => Effect.Effect<void>, value: A): Effect.Effect<A> => {
  if (isOpenScope(scope)) {
    // the entry is its own key (a new function per registration, as unique
    // as the `{}` Effect makes): one object less per registration
    scope.state.finalizers.set(entry, entry)
    return Effect.succeed(value)
  }
  return Effect.as(Scope.addFinalizer(scope, Effect.suspend(entry)), value)
}

/**
 * Opens a handle with `open` (synchronous), waits with `wait` (the only
 * interruptible part), and registers `release` in the Scope once `wait`
 * succeeded. When `wait` fails or is interrupted, `release` runs at once
 * and nothing is left in the Scope, so a caller retrying in a long-lived
 * Scope accumulates nothing, and needs no child Scope of its own (forking
 * one and providing it costs ~10 µs of CPU per connect). `wait`'s own
 * canceler, if it has one, runs before `release`; both must tolerate a
 * handle that is already closed. A handle that became ready is released by
 * `releaseReady` when the Scope closes (by default `release`; an Effect
 * when closing a ready handle takes a wait of its own, as a TLS session's
 * graceful close does).
 *
 * @internal
 */
export const acquireUntilReady = <H, A, E>(
  open: () => H,
  wait: (handle: H) => Effect.Effect<A, E>,
  release: (handle: H) => void,
  releaseReady?: (handle: H, ready: A) => Effect.Effect<void>,
): Effect.Effect<A, E, Scope.Scope> =>
  Effect.uninterruptibleMask((restore) =>
    Effect.flatMap(Effect.scope, (scope) => {
      const handle = open()
      return Effect.matchCauseEffect(restore(wait(handle)), {
        onFailure: (cause) => {
          release(handle)
          return Effect.failCause(cause)
        },
        onSuccess: (a) => {
          // still uninterruptible here: registering directly is the same single step
          return registered(
            scope,
            releaseReady === undefined ? releasing(release, handle) : running(releaseReady(handle, a)),
            a,
          )
        },
      })
    }),
  )

/**
 * Opens a handle with `open` (synchronous) and waits with `restore(wait)`
 * for the value the caller will own. When `wait` fails or is interrupted,
 * `release` runs at once and the failure is returned: nothing is left
 * open. No Scope: the caller owns what this returns and releases it itself.
 *
 * The caller runs this **uninterruptibly**, inside
 * `Effect.uninterruptibleMask`, and passes that mask's `restore` (see
 * {@link acquireInScope}), so that between `wait`'s success and the caller
 * taking the value nothing can interrupt, and `wait` is exactly as
 * interruptible as the caller was (not at all inside the caller's own
 * `Effect.uninterruptible`). Run interruptibly, a success could be lost to
 * an interruption arriving in the same instant, with its handle open.
 *
 * @internal
 */
export const acquireOwned = <H, A, E>(
  open: () => H,
  wait: (handle: H) => Effect.Effect<A, E>,
  release: (handle: H) => void,
  restore: Restore = Effect.interruptible,
): Effect.Effect<A, E> =>
  Effect.suspend(() => {
    const handle = open()
    return Effect.catchAllCause(restore(wait(handle)), (cause) => {
      release(handle)
      return Effect.failCause(cause)
    })
  })

/**
 * Runs `acquire` (an owned acquisition, see {@link acquireOwned})
 * uninterruptibly, giving it the `restore` for its waits, and registers
 * `release` of its value in the current Scope in the same step that
 * receives it, so nothing can interrupt in between. What `acquire` opened
 * and did not return it released itself.
 *
 * @internal
 */
export const acquireInScope = <A, E>(
  acquire: (restore: Restore) => Effect.Effect<A, E>,
  release: (a: A) => void,
): Effect.Effect<A, E, Scope.Scope> =>
  Effect.flatMap(Effect.scope, (scope) => acquireInScopeOf(scope, acquire, identity, release))

/**
 * {@link acquireInScope} in a Scope the caller already has (read from its
 * fiber's context: no `Effect.scope` step of its own), with `wrap` making
 * the value (a stream over the acquired connection) in the registering
 * step (no `Effect.map` step of its own).
 *
 * @internal
 */
export const acquireInScopeOf = <H, A, E>(
  scope: Scope.Scope,
  acquire: (restore: Restore) => Effect.Effect<H, E>,
  wrap: (handle: H) => A,
  release: (a: A) => void,
): Effect.Effect<A, E> =>
  Effect.uninterruptibleMask((restore) =>
    Effect.flatMap(acquire(restore), (handle) => {
      const a = wrap(handle)
      return registered(scope, releasing(release, a), a)
    }),
  )
