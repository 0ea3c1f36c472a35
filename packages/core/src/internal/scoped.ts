import * as Effect from "effect/Effect"
import * as Scope from "effect/Scope"

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
 * Scope instead. Acquiring and registering are one uninterruptible step:
 * either both happened or neither did.
 *
 * @internal
 */
export const acquireSync = <A>(acquire: () => A, release: (a: A) => void): Effect.Effect<A, never, Scope.Scope> =>
  Effect.uninterruptible(
    Effect.flatMap(Effect.scope, (scope) => {
      const a = acquire()
      return Effect.as(
        Scope.addFinalizer(
          scope,
          Effect.sync(() => release(a)),
        ),
        a,
      )
    }),
  )

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
  releaseReady: (handle: H, ready: A) => Effect.Effect<void> = (handle) => Effect.sync(() => release(handle)),
): Effect.Effect<A, E, Scope.Scope> =>
  Effect.uninterruptibleMask((restore) =>
    Effect.flatMap(Effect.scope, (scope) => {
      const handle = open()
      return Effect.matchCauseEffect(restore(wait(handle)), {
        onFailure: (cause) => {
          release(handle)
          return Effect.failCause(cause)
        },
        onSuccess: (a) => Effect.as(Scope.addFinalizer(scope, releaseReady(handle, a)), a),
      })
    }),
  )
