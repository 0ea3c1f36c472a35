import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import type { RawListener } from "../Driver.ts"
import type { ListenFailed, Unsupported } from "../NetError.ts"
import * as SocketAddress from "../SocketAddress.ts"

/** How often a dual-stack bind on port 0 picks a new port when the first family's port is taken for another. @internal */
export const DUAL_STACK_RETRIES = 16

/**
 * Binds every address on one port (dual stack): the first address fixes the
 * port (the system's choice for port 0) and the others bind the same port,
 * IPv6 sockets with IPV6_V6ONLY when there is more than one address. When
 * the port was the system's choice and it is already taken for a later
 * address (`EADDRINUSE`), everything bound so far is closed and the whole
 * set is tried again on a new port, at most `retries` times.
 *
 * `wildcard`: the addresses are the `0.0.0.0` + `::` wildcard pair, and a
 * machine without IPv6 (`EAFNOSUPPORT`, `EADDRNOTAVAIL` for `::`) still
 * gets its IPv4 half.
 *
 * Each try owns a child scope of the caller's; a failed or interrupted try
 * has its scope (every socket it bound) closed at once.
 *
 * @internal
 */
export const bindAll = (
  addresses: ReadonlyArray<SocketAddress.Ipv4 | SocketAddress.Ipv6>,
  bindOne: (
    address: SocketAddress.Ipv4 | SocketAddress.Ipv6,
    ipv6Only: boolean,
  ) => Effect.Effect<RawListener, ListenFailed | Unsupported, Scope.Scope>,
  options: { readonly wildcard: boolean; readonly retries?: number },
): Effect.Effect<ReadonlyArray<RawListener>, ListenFailed | Unsupported, Scope.Scope> =>
  Effect.gen(function* () {
    const outer = yield* Effect.scope
    const dual = addresses.length > 1
    const requested = addresses[0]?.port ?? 0
    const retries = options.retries ?? DUAL_STACK_RETRIES

    const once: Effect.Effect<
      Either.Either<ReadonlyArray<RawListener>, ListenFailed>,
      ListenFailed | Unsupported,
      Scope.Scope
    > = Effect.gen(function* () {
      const raws: Array<RawListener> = []
      let port = requested
      for (const address of addresses) {
        const bound = yield* Effect.either(
          bindOne(SocketAddress.withPort(address, port), dual && address._tag === "Ipv6"),
        )
        if (Either.isLeft(bound)) {
          const error = bound.left
          if (error._tag === "ListenFailed") {
            if (
              options.wildcard &&
              address._tag === "Ipv6" &&
              (error.code === "EAFNOSUPPORT" || error.code === "EADDRNOTAVAIL")
            )
              continue
            if (requested === 0 && raws.length > 0 && error.code === "EADDRINUSE") {
              return Either.left(error)
            }
          }
          return yield* Effect.fail(error)
        }
        raws.push(bound.right)
        const local = bound.right.address
        if (SocketAddress.isIp(local)) port = local.port
      }
      return Either.right(raws)
    })

    for (let attempt = 0; ; attempt++) {
      const result = yield* Effect.uninterruptibleMask((restore) =>
        Effect.gen(function* () {
          const child = yield* Scope.fork(outer, ExecutionStrategy.sequential)
          const exit = yield* Effect.exit(restore(Scope.extend(once, child)))
          if (Exit.isFailure(exit) || Either.isLeft(exit.value)) yield* Scope.close(child, Exit.void)
          return exit
        }),
      )
      if (Exit.isFailure(result)) return yield* Effect.failCause(result.cause)
      if (Either.isRight(result.value)) return result.value.right
      if (attempt >= retries) return yield* Effect.fail(result.value.left)
    }
  })
