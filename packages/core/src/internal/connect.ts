import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import { type ConnectAttempt, ConnectFailed } from "../NetError.ts"
import type * as SocketAddress from "../SocketAddress.ts"

/** @internal */
export interface ConnectPlan {
  readonly host: string
  readonly port: number
}

/**
 * Tries each address in order until one connects. Every attempt owns a
 * child scope of the caller's: a failed attempt's scope is closed at once
 * (its socket released); the winner's stays open until the caller's closes.
 *
 * @internal
 */
export const connectAddresses = <A>(
  addresses: ReadonlyArray<SocketAddress.Ipv4 | SocketAddress.Ipv6>,
  attempt: (address: SocketAddress.Ipv4 | SocketAddress.Ipv6) => Effect.Effect<A, ConnectFailed, Scope.Scope>,
  plan: ConnectPlan,
): Effect.Effect<A, ConnectFailed, Scope.Scope> =>
  Effect.gen(function* () {
    const outer = yield* Effect.scope
    const failures: Array<ConnectAttempt> = []
    for (const address of addresses) {
      const child = yield* Scope.fork(outer, ExecutionStrategy.sequential)
      const exit = yield* Effect.exit(Scope.extend(attempt(address), child))
      if (Exit.isSuccess(exit)) return exit.value
      yield* Scope.close(child, exit)
      const failure = Cause.failureOption(exit.cause)
      if (failure._tag === "None") return yield* Effect.failCause(exit.cause)
      failures.push(...failure.value.attempts)
    }
    return yield* Effect.fail(new ConnectFailed({ host: plan.host, port: plan.port, attempts: failures }))
  })
