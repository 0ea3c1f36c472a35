// Unix stream sockets the `@netfx/native` addon opens, binds or connects
// with the exact address length (abstract names), then hands to a runtime.
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { NativeAddon, NativeBinding } from "../../NativeDriver.ts"
import { type ConnectFailed, ListenFailed } from "../../NetError.ts"
import type * as SocketAddress from "../../SocketAddress.ts"
import { connectFailed } from "./address.ts"

/** See `Driver.connectUnixNative`. */
export const connectNative = <A, E>(
  addon: NativeAddon,
  binding: NativeBinding,
  address: SocketAddress.UnixPath | SocketAddress.UnixAbstract,
  use: (fd: number) => Effect.Effect<A, E, Scope.Scope>,
): Effect.Effect<A, ConnectFailed | E, Scope.Scope> =>
  withNativeFd(
    binding,
    () => binding.socket(binding.constants.SOCK_STREAM as number),
    (code) => connectFailed(address, code, "socket", undefined),
    (fd) =>
      Effect.gen(function* () {
        const [name, abstract] = nativeName(address)
        let delay = 5
        while (true) {
          const r = binding.connect(fd, name, abstract)
          if (r >= 0) return
          const code = addon.errnoName(r)
          if (code !== "EAGAIN") return yield* Effect.fail(connectFailed(address, code, "connect", undefined))
          // the listener's backlog is full; Linux has no readiness for "room again"
          yield* Effect.sleep(delay)
          delay = Math.min(delay * 2, 100)
        }
      }),
    addon,
    use,
  )

/** See `Driver.listenUnixNative`. */
export const listenNative = <A, E>(
  addon: NativeAddon,
  binding: NativeBinding,
  address: SocketAddress.UnixPath | SocketAddress.UnixAbstract,
  backlog: number,
  use: (fd: number) => Effect.Effect<A, E, Scope.Scope>,
): Effect.Effect<A, ListenFailed | E, Scope.Scope> =>
  withNativeFd(
    binding,
    () => binding.socket(binding.constants.SOCK_STREAM as number),
    (code) => new ListenFailed({ address, code, syscall: "socket" }),
    (fd) => {
      const [name, abstract] = nativeName(address)
      const bound = binding.bind(fd, name, abstract)
      if (bound < 0) return Effect.fail(new ListenFailed({ address, code: addon.errnoName(bound), syscall: "bind" }))
      const listening = binding.listen(fd, backlog)
      if (listening < 0)
        return Effect.fail(new ListenFailed({ address, code: addon.errnoName(listening), syscall: "listen" }))
      return Effect.void
    },
    addon,
    use,
  )

const nativeName = (address: SocketAddress.UnixPath | SocketAddress.UnixAbstract): readonly [string, boolean] =>
  address._tag === "UnixPath" ? [address.path, false] : [address.name, true]

const withNativeFd = <A, E, E2>(
  binding: NativeBinding,
  open: () => number,
  openFailed: (code: string) => E2,
  prepare: (fd: number) => Effect.Effect<void, E2>,
  addon: NativeAddon,
  use: (fd: number) => Effect.Effect<A, E, Scope.Scope>,
): Effect.Effect<A, E | E2, Scope.Scope> =>
  Effect.gen(function* () {
    const fd = open()
    if (fd < 0) return yield* Effect.fail(openFailed(addon.errnoName(fd)))
    let owned = true
    const release = Effect.sync(() => {
      if (owned) binding.close(fd)
      owned = false
    })
    yield* Effect.addFinalizer(() => release)
    yield* Effect.onError(prepare(fd), () => release)
    // handing over must not be cut short: either the runtime owns it or we close it
    return yield* Effect.uninterruptible(
      use(fd).pipe(
        Effect.tap(() =>
          Effect.sync(() => {
            owned = false
          }),
        ),
        Effect.onError(() => release),
      ),
    )
  })
