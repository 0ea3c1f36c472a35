// The life of a Unix socket file: binding with netfx's path rules (a stale
// file is replaced, a live one never stolen, other files left alone), its
// mode, and its removal when the listener closes. (Keeping it through a
// runtime's own close is `Driver.closeKeepingFile`.)
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { UnixDriver } from "../../Driver.ts"
import { InvalidArgument, ListenFailed } from "../../NetError.ts"
import type * as SocketAddress from "../../SocketAddress.ts"

const listenFailed = (address: SocketAddress.UnixPath | SocketAddress.UnixAbstract, code: string, syscall: string) =>
  new ListenFailed({ address, code, syscall })

/**
 * Binds at a Unix address with netfx's path rules: a stale socket file is
 * replaced, a live one is not stolen, other files are left alone; applies
 * `mode` and registers the removal of the socket file.
 */
export const bindAt = <A>(
  unix: UnixDriver,
  address: SocketAddress.UnixPath | SocketAddress.UnixAbstract,
  bindOnce: Effect.Effect<A, ListenFailed, Scope.Scope>,
  probe: Effect.Effect<"alive" | "stale" | "unknown">,
  options: { readonly mode?: number | undefined; readonly removeOnClose?: boolean | undefined },
): Effect.Effect<A, ListenFailed, Scope.Scope> =>
  Effect.gen(function* () {
    const bound = yield* Effect.catchTag(bindOnce, "ListenFailed", (error) => {
      if (error.code !== "EADDRINUSE" || address._tag !== "UnixPath") return Effect.fail(error)
      return Effect.flatMap(unix.pathKind(address.path), (kind) => {
        if (kind._tag !== "Socket") return Effect.fail(error)
        // A socket file: is anybody using it?
        return Effect.flatMap(probe, (state) => {
          if (state === "alive") return Effect.fail(listenFailed(address, "EADDRINUSE", "bind"))
          if (state !== "stale") return Effect.fail(error)
          return Effect.zipRight(unix.unlink(address.path), bindOnce)
        })
      })
    })
    if (address._tag === "UnixPath") {
      const created = yield* unix.pathKind(address.path)
      if (options.removeOnClose ?? true) {
        yield* Effect.addFinalizer(() =>
          Effect.flatMap(unix.pathKind(address.path), (now) =>
            now._tag === "Socket" && created._tag === "Socket" && now.ino === created.ino
              ? unix.unlink(address.path)
              : Effect.void,
          ),
        )
      }
      if (options.mode !== undefined) yield* unix.chmod(address.path, options.mode)
    }
    return bound
  })

/** `InvalidArgument` unless `mode` is absent or permission bits. */
export const validateMode = (mode: number | undefined): Effect.Effect<void, InvalidArgument> =>
  mode !== undefined && !(Number.isInteger(mode) && mode >= 0 && mode <= 0o7777)
    ? Effect.fail(
        new InvalidArgument({ argument: "mode", reason: "must be permission bits in 0..0o7777", value: mode }),
      )
    : Effect.void
