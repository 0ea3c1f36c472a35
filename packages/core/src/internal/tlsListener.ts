import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Runtime from "effect/Runtime"
import * as Scope from "effect/Scope"
import type { ListenerHandlers, RawConnection, RawListener } from "../Driver.ts"
import { TlsFailed } from "../NetError.ts"
import * as SocketAddress from "../SocketAddress.ts"
import type { TlsDriver, TlsServerOptions } from "../Tls.ts"

const DEFAULT_HANDSHAKE_TIMEOUT_MILLIS = 30_000

/**
 * A raw listener whose connections are handed on only after a successful
 * TLS handshake. A failed or timed-out handshake is logged once (with the
 * peer) and the connection closed; the handler never sees it.
 *
 * @internal
 */
class SecureListener implements RawListener {
  readonly address: SocketAddress.SocketAddress
  readonly fd: number | undefined
  private closed = false
  private readonly handshakes = new Set<Fiber.RuntimeFiber<void, never>>()

  constructor(
    readonly inner: RawListener,
    readonly driver: TlsDriver,
    readonly options: TlsServerOptions,
    readonly runtime: Runtime.Runtime<never>,
    readonly maxHandshakes: number,
  ) {
    this.address = inner.address
    this.fd = inner.fd
  }

  start(handlers: ListenerHandlers): void {
    this.inner.start({
      onConnection: (raw) => {
        if (this.closed) return raw.close()
        if (this.handshakes.size >= this.maxHandshakes) {
          // Bounded like the accept queue: a flood of clients that never
          // finish their handshake cannot grow memory without limit.
          raw.close()
          Runtime.runFork(this.runtime)(
            Effect.logWarning("netfx: too many TLS handshakes in progress, connection closed").pipe(
              Effect.annotateLogs({ peer: SocketAddress.format(raw.remoteAddress), limit: this.maxHandshakes }),
            ),
          )
          return
        }
        const fiber = Runtime.runFork(this.runtime)(this.handshake(raw, handlers))
        this.handshakes.add(fiber)
        fiber.addObserver(() => this.handshakes.delete(fiber))
      },
      onError: (error) => handlers.onError(error),
    })
  }

  private handshake(raw: RawConnection, handlers: ListenerHandlers): Effect.Effect<void> {
    const millis = this.options.handshakeTimeoutMillis ?? DEFAULT_HANDSHAKE_TIMEOUT_MILLIS
    const accept = this.driver.accept(raw, this.options).pipe(
      Effect.timeoutFail({
        duration: millis,
        onTimeout: () =>
          new TlsFailed({
            code: "ETIMEDOUT",
            reason: `TLS handshake did not complete within ${millis} ms`,
            address: raw.remoteAddress,
          }),
      }),
    )
    return Effect.uninterruptibleMask((restore) =>
      Effect.gen(this, function* () {
        const scope = yield* Scope.make()
        const exit = yield* Effect.exit(restore(Scope.extend(accept, scope)))
        if (Exit.isSuccess(exit) && !this.closed) {
          // The connection now belongs to the listener (and then to whoever accepts it).
          handlers.onConnection(exit.value)
          return
        }
        yield* Scope.close(scope, exit)
        raw.close()
        if (Exit.isFailure(exit)) {
          const failure = exit.cause._tag === "Fail" ? exit.cause.error : undefined
          if (failure !== undefined) {
            yield* Effect.logWarning("netfx: TLS handshake failed, connection dropped").pipe(
              Effect.annotateLogs({
                peer: SocketAddress.format(raw.remoteAddress),
                code: failure.code,
                reason: failure.reason,
              }),
            )
          }
        }
      }),
    )
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    this.inner.close()
    const fibers = [...this.handshakes]
    if (fibers.length > 0) Effect.runFork(Fiber.interruptAll(fibers))
  }
}

/**
 * Wraps each raw listener so accepted connections complete a TLS handshake
 * before core sees them; at most `maxHandshakes` run at once per listener
 * (further connections are closed and logged).
 *
 * @internal
 */
export const secureListeners = (
  raws: ReadonlyArray<RawListener>,
  driver: TlsDriver,
  options: TlsServerOptions,
  maxHandshakes: number,
): Effect.Effect<ReadonlyArray<RawListener>> =>
  Effect.map(Effect.runtime<never>(), (runtime) =>
    raws.map((raw) => new SecureListener(raw, driver, options, runtime, maxHandshakes)),
  )
