/**
 * TCP-specific contract tests (on top of the byte-stream contract).
 *
 * @since 0.1.0
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Scope from "effect/Scope"
import { type Network, Network as NetworkTag } from "../src/Network.ts"
import * as SocketAddress from "../src/SocketAddress.ts"
import * as Tcp from "../src/Tcp.ts"
import {
  bytes,
  type ContractEnvironment,
  countingScope,
  eventually,
  portOf,
  readAll,
  type StreamTransport,
  streamContract,
  text,
} from "./StreamContract.ts"

/**
 * Extra facts for the TCP tests.
 *
 * @since 0.1.0
 */
export interface TcpEnvironment extends ContractEnvironment {
  /** A host name the environment's resolver cannot resolve. */
  readonly unresolvableHost: string
  /** An address where `connect` hangs (SYNs dropped), for interruption tests. */
  readonly blackhole?: Effect.Effect<{ readonly host: string; readonly port: number }, never, Scope.Scope>
  /** Whether `::1` can be bound here. */
  readonly ipv6?: boolean
}

/**
 * The TCP transport over a loopback host, for {@link streamContract}.
 *
 * @since 0.1.0
 */
export const tcpTransport = (host = "127.0.0.1"): StreamTransport => ({
  name: `TCP ${host}`,
  listen: Tcp.listen({ host, port: 0 }),
  connect: (listener) => Tcp.connect({ host, port: portOf(listener.address) }),
})

/**
 * Registers the byte-stream contract over TCP plus the TCP-only tests.
 *
 * @since 0.1.0
 */
export const tcpContract = (env: TcpEnvironment): void => {
  streamContract(env, tcpTransport("127.0.0.1"))
  if (env.ipv6 !== false) streamContract(env, tcpTransport("::1"))

  const run = <A, E>(effect: Effect.Effect<A, E, Scope.Scope | Network>) =>
    effect.pipe(Effect.scoped, Effect.provide(env.layer))

  describe(`TCP contract on ${env.name}`, () => {
    it.live("reusePort lets two listeners share a port, both accept, and a plain listen is refused", () =>
      run(
        Effect.gen(function* () {
          const a = yield* Tcp.listen({ host: "127.0.0.1", port: 0, reusePort: true })
          const port = portOf(a.address)
          const b = yield* Tcp.listen({ host: "127.0.0.1", port, reusePort: true })
          assert.strictEqual(portOf(b.address), port)
          const plain = yield* Effect.flip(Effect.scoped(Tcp.listen({ host: "127.0.0.1", port })))
          assert.strictEqual(plain._tag === "ListenFailed" ? plain.code : plain._tag, "EADDRINUSE")
          yield* Effect.forkScoped(a.serve((c) => c.send(bytes("a"))))
          yield* Effect.forkScoped(b.serve((c) => c.send(bytes("b"))))
          const seen = new Set<string>()
          // the kernel spreads connections by hash: some go to each listener
          for (let i = 0; i < 200 && seen.size < 2; i++) {
            const reply = yield* Effect.scoped(
              Effect.flatMap(Tcp.connect({ host: "127.0.0.1", port }), (c) => Effect.map(readAll(c), text)),
            )
            seen.add(reply)
          }
          assert.deepStrictEqual([...seen].sort(), ["a", "b"])
        }),
      ),
    )

    it.live("connect to a closed port fails with ConnectFailed carrying ECONNREFUSED", () =>
      run(
        Effect.gen(function* () {
          const port = yield* Effect.scoped(
            Effect.map(Tcp.listen({ host: "127.0.0.1", port: 0 }), (l) => portOf(l.address)),
          )
          const error = yield* Effect.flip(Tcp.connect({ host: "127.0.0.1", port }))
          assert.strictEqual(error._tag, "ConnectFailed")
          if (error._tag !== "ConnectFailed") return
          assert.strictEqual(error.attempts.length, 1)
          assert.strictEqual(error.attempts[0]?.code, "ECONNREFUSED")
          assert.deepStrictEqual(error.attempts[0]?.address, SocketAddress.ipv4("127.0.0.1", port))
          assert.include(error.message, "ECONNREFUSED")
        }),
      ),
    )

    it.live("a refused or interrupted connect to a numeric host leaves nothing in the caller's Scope", () =>
      run(
        Effect.gen(function* () {
          const network = yield* NetworkTag
          if (network.tcp?.releasesOnFailure !== true) return
          const port = yield* Effect.scoped(
            Effect.map(Tcp.listen({ host: "127.0.0.1", port: 0 }), (l) => portOf(l.address)),
          )
          const { scope: counting, outer, calls } = yield* countingScope
          for (let i = 0; i < 20; i++) {
            const error = yield* Effect.flip(Scope.extend(Tcp.connect({ host: "127.0.0.1", port }), counting))
            assert.strictEqual(error._tag, "ConnectFailed")
          }
          const pending = yield* Effect.fork(Scope.extend(Tcp.connect({ host: "127.0.0.1", port }), counting))
          yield* Fiber.interrupt(pending)
          // a retry loop in a long-lived Scope must not accumulate anything
          // (nor fork a child Scope per attempt on this fast path)
          assert.strictEqual(calls(), 0)
          // a connect that succeeds is registered
          const listener = yield* Tcp.listen({ host: "127.0.0.1", port: 0 })
          yield* Scope.extend(Tcp.connect({ host: "127.0.0.1", port: portOf(listener.address) }), counting)
          assert.isAbove(calls(), 0)
          yield* Scope.close(outer, Exit.void)
        }),
      ),
    )

    it.live("connect to an unresolvable name fails with ResolveFailed", () =>
      run(
        Effect.gen(function* () {
          const error = yield* Effect.flip(Tcp.connect({ host: env.unresolvableHost, port: 80 }))
          assert.strictEqual(error._tag, "ResolveFailed")
          if (error._tag === "ResolveFailed") {
            assert.strictEqual(error.host, env.unresolvableHost)
            assert.isString(error.code)
          }
        }),
      ),
    )

    it.live("ports outside 0..65535 give InvalidArgument", () =>
      run(
        Effect.gen(function* () {
          for (const port of [-1, 65536, 1.5]) {
            const c = yield* Effect.flip(Tcp.connect({ host: "127.0.0.1", port }))
            assert.strictEqual(c._tag, "InvalidArgument")
            const l = yield* Effect.flip(Tcp.listen({ host: "127.0.0.1", port }))
            assert.strictEqual(l._tag, "InvalidArgument")
          }
          const lp = yield* Effect.flip(Tcp.connect({ host: "127.0.0.1", port: 1, localPort: 70000 }))
          assert.strictEqual(lp._tag, "InvalidArgument")
        }),
      ),
    )

    it.live("listening on a busy port fails with ListenFailed EADDRINUSE", () =>
      run(
        Effect.gen(function* () {
          const first = yield* Tcp.listen({ host: "127.0.0.1", port: 0 })
          const error = yield* Effect.flip(Tcp.listen({ host: "127.0.0.1", port: portOf(first.address) }))
          assert.strictEqual(error._tag, "ListenFailed")
          if (error._tag === "ListenFailed") assert.strictEqual(error.code, "EADDRINUSE")
        }),
      ),
    )

    it.live("the local and remote addresses of both ends agree", () =>
      run(
        Effect.gen(function* () {
          const listener = yield* Tcp.listen({ host: "127.0.0.1", port: 0 })
          const client = yield* Tcp.connect({ host: "127.0.0.1", port: portOf(listener.address) })
          const server = yield* listener.accept
          assert.deepStrictEqual(client.remoteAddress, listener.address)
          assert.deepStrictEqual(server.remoteAddress, client.localAddress)
          assert.deepStrictEqual(server.localAddress, client.remoteAddress)
          assert.strictEqual(client.family, "ipv4")
        }),
      ),
    )

    const blackhole = env.blackhole
    if (blackhole !== undefined) {
      it.live("interrupting a hanging connect closes its socket", () =>
        run(
          Effect.gen(function* () {
            const target = yield* blackhole
            const before = env.openFds?.()
            const fibers = []
            for (let i = 0; i < 20; i++) fibers.push(yield* Effect.fork(Effect.scoped(Tcp.connect(target))))
            yield* Effect.sleep("50 millis")
            for (const f of fibers) assert.isNull(f.unsafePoll(), "connect should still be pending")
            yield* Fiber.interruptAll(fibers)
            if (before !== undefined && env.openFds !== undefined) {
              const openFds = env.openFds
              yield* eventually(() => openFds() <= before, `descriptors back to ${before} (now ${openFds()})`)
            }
          }),
        ),
      )

      it.live("a connect with `timeout` fails with ConnectFailed ETIMEDOUT and leaves no descriptor", () =>
        run(
          Effect.gen(function* () {
            const target = yield* blackhole
            const before = env.openFds?.()
            const errors = yield* Effect.forEach(
              [1, 2, 3, 4, 5],
              // not scoped: the sockets must close on timeout, not when the test's Scope closes
              () => Effect.flip(Tcp.connect({ ...target, timeout: "200 millis" })),
              { concurrency: "unbounded" },
            )
            for (const e of errors) {
              assert.strictEqual(e._tag, "ConnectFailed")
              if (e._tag !== "ConnectFailed") continue
              assert.strictEqual(e.code, "ETIMEDOUT")
              assert.strictEqual(e.port, target.port)
              assert.deepStrictEqual(
                e.attempts.map((a) => a.code),
                ["ETIMEDOUT"],
              )
              assert.include(e.message, "timed out after 200ms")
            }
            // the same limit bounds a TLS connect (the TCP connect is what hangs here)
            const tls = yield* Effect.flip(
              Tcp.connect({ ...target, timeout: "200 millis", tls: { serverName: "localhost" } }),
            )
            if (tls._tag !== "Unsupported") assert.strictEqual(tls._tag, "ConnectFailed")
            if (before !== undefined && env.openFds !== undefined) {
              const openFds = env.openFds
              yield* eventually(() => openFds() <= before, `descriptors back to ${before} (now ${openFds()})`)
            }
            // and a bad timeout is a typed InvalidArgument, nothing opened
            const bad = yield* Effect.flip(Effect.scoped(Tcp.connect({ ...target, timeout: "soon" as "1 second" })))
            assert.strictEqual(bad._tag, "InvalidArgument")
          }),
        ),
      )
    }
  })
}
