/**
 * TCP-specific contract tests (on top of the byte-stream contract).
 *
 * @since 0.1.0
 */
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { Network } from "../src/Network.ts"
import * as SocketAddress from "../src/SocketAddress.ts"
import * as SocketStream from "../src/SocketStream.ts"
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

  /** Waits until the environment's open descriptors are back to `before` (nothing where it cannot count). */
  const descriptorsBack = (before: number | undefined) => {
    const openFds = env.openFds
    return before === undefined || openFds === undefined
      ? Effect.void
      : eventually(() => openFds() <= before, `descriptors back to ${before} (now ${openFds()})`)
  }

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
          assert.include(error.message, "nothing is listening there")
        }),
      ),
    )

    it.live("a refused or interrupted connect to a numeric host leaves nothing in the caller's Scope", () =>
      run(
        Effect.gen(function* () {
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

    it.live("a host holding a port, a URL or a path is an InvalidArgument that says so; IPv6 literals pass", () =>
      run(
        Effect.gen(function* () {
          for (const [host, says] of [
            ["127.0.0.1:8080", "holds a port"],
            ["localhost:8080", "holds a port"],
            ["[::1]:8080", "holds a port"],
            ["http://localhost", "is a URL"],
            ["localhost/api", "not a URL or a path"],
            ["1:2::3::4", "neither a host name nor an IP address"],
          ] as const) {
            const connect = yield* Effect.flip(Tcp.connect({ host, port: 1 }))
            const listen = yield* Effect.flip(Tcp.listen({ host, port: 0 }))
            for (const error of [connect, listen]) {
              assert.strictEqual(error._tag, "InvalidArgument", host)
              if (error._tag === "InvalidArgument") {
                assert.strictEqual(error.argument, "host")
                assert.include(error.message, says, host)
              }
            }
          }
          // IPv6 literals, with brackets or a zone, still get as far as the network
          for (const host of ["::1", "[::1]", "::ffff:127.0.0.1"]) {
            const error = yield* Effect.flip(Tcp.connect({ host, port: 1 }))
            assert.notStrictEqual(error._tag, "InvalidArgument", host)
          }
        }),
      ),
    )

    it.live("listening on a busy port fails with ListenFailed EADDRINUSE", () =>
      run(
        Effect.gen(function* () {
          const first = yield* Tcp.listen({ host: "127.0.0.1", port: 0 })
          const error = yield* Effect.flip(Tcp.listen({ host: "127.0.0.1", port: portOf(first.address) }))
          assert.strictEqual(error._tag, "ListenFailed")
          if (error._tag === "ListenFailed") {
            assert.strictEqual(error.code, "EADDRINUSE")
            assert.include(error.message, "or port 0 for any free one")
          }
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
            yield* descriptorsBack(before)
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
            yield* descriptorsBack(before)
            // and a bad timeout is a typed InvalidArgument, nothing opened
            const bad = yield* Effect.flip(Effect.scoped(Tcp.connect({ ...target, timeout: "soon" as "1 second" })))
            assert.strictEqual(bad._tag, "InvalidArgument")
          }),
        ),
      )
    }

    describe("withConnection", () => {
      /** The outcomes of `use` a bracket must close the connection after. */
      const outcomes = ["succeed", "fail", "die", "interrupt"] as const

      it.live("closes the connection when use succeeds, fails, dies or is interrupted: the peer reads EOF", () =>
        run(
          Effect.gen(function* () {
            const listener = yield* Tcp.listen({ host: "127.0.0.1", port: 0 })
            const port = portOf(listener.address)
            const before = env.openFds?.()
            // a numeric host alone connects without any Scope; with a `timeout` the connect has a Scope of its own
            for (const [outcome, options] of outcomes.flatMap((o) => [
              [o, { host: "127.0.0.1", port }] as const,
              [o, { host: "127.0.0.1", port, timeout: "1 minute" }] as const,
            ])) {
              const sent = yield* Deferred.make<void>()
              const client = yield* Effect.fork(
                Tcp.withConnection(options, (conn) =>
                  Effect.gen(function* () {
                    yield* conn.send(bytes(outcome))
                    yield* Deferred.succeed(sent, undefined)
                    if (outcome === "fail") return yield* Effect.fail("use failed" as const)
                    if (outcome === "die") return yield* Effect.dieMessage("use died")
                    if (outcome === "interrupt") return yield* Effect.never
                    return "done" as const
                  }),
                ),
              )
              const server = yield* Scope.extend(listener.accept, yield* Effect.scope)
              yield* Deferred.await(sent)
              if (outcome === "interrupt") yield* Fiber.interrupt(client)
              const exit = yield* Fiber.await(client)
              // everything `use` sent, then EOF: the client end is closed by now
              assert.strictEqual(text(yield* readAll(server)), outcome, outcome)
              if (outcome === "succeed") assert.deepStrictEqual(exit, Exit.succeed("done" as const))
              if (outcome === "fail") assert.deepStrictEqual(exit, Exit.fail("use failed" as const))
              if (outcome === "die") assert.isTrue(Exit.isFailure(exit) && Cause.isDie(exit.cause), "use died")
              if (outcome === "interrupt") assert.isTrue(Exit.isInterrupted(exit), "interrupted")
              yield* server.close
            }
            yield* descriptorsBack(before)
          }),
        ),
      )

      it.live("the connection is closed before withConnection returns; using it afterwards is ClosedResource", () =>
        run(
          Effect.gen(function* () {
            const listener = yield* Tcp.listen({ host: "127.0.0.1", port: 0 })
            const port = portOf(listener.address)
            const kept = yield* Tcp.withConnection({ host: "127.0.0.1", port }, (conn) => Effect.succeed(conn))
            const receive = yield* Effect.flip(kept.receive())
            const send = yield* Effect.flip(kept.send(bytes("late")))
            // the same errors as a connection whose Scope closed
            const scoped = yield* Effect.scoped(Tcp.connect({ host: "127.0.0.1", port }))
            assert.deepStrictEqual(receive, yield* Effect.flip(scoped.receive()))
            assert.deepStrictEqual(send, yield* Effect.flip(scoped.send(bytes("late"))))
            assert.strictEqual(receive._tag, "ClosedResource")
            assert.strictEqual(send._tag, "ClosedResource")
          }),
        ),
      )

      it.live("needs no Scope: the Stream and Sink views work inside use", () =>
        Effect.gen(function* () {
          const scope = yield* Scope.make()
          const listener = yield* Scope.extend(Tcp.listen({ host: "127.0.0.1", port: 0 }), scope)
          yield* Scope.extend(Effect.forkScoped(listener.serve((c) => SocketStream.pipe(c, c))), scope)
          // the program's context is the Network alone
          const program: Effect.Effect<string, unknown, Network> = Tcp.withConnection(
            { host: "127.0.0.1", port: portOf(listener.address) },
            (conn) =>
              Effect.gen(function* () {
                yield* Stream.run(Stream.make(bytes("through "), bytes("the views")), SocketStream.toSink(conn))
                const chunks = yield* Stream.runCollect(SocketStream.toStream(conn))
                return [...chunks].map(text).join("")
              }),
          )
          assert.strictEqual(yield* program, "through the views")
          yield* Scope.close(scope, Exit.void)
        }).pipe(Effect.provide(env.layer)),
      )

      it.live("errors are typed and use never runs: refused, bad port, unresolvable host", () =>
        run(
          Effect.gen(function* () {
            const port = yield* Effect.scoped(
              Effect.map(Tcp.listen({ host: "127.0.0.1", port: 0 }), (l) => portOf(l.address)),
            )
            let used = 0
            const use = () => Effect.sync(() => used++)
            const refused = yield* Effect.flip(Tcp.withConnection({ host: "127.0.0.1", port }, use))
            assert.strictEqual(refused._tag, "ConnectFailed")
            if (refused._tag === "ConnectFailed") {
              assert.strictEqual(refused.attempts[0]?.code, "ECONNREFUSED")
              assert.deepStrictEqual(refused.attempts[0]?.address, SocketAddress.ipv4("127.0.0.1", port))
            }
            const bad = yield* Effect.flip(Tcp.withConnection({ host: "127.0.0.1", port: 70000 }, use))
            assert.strictEqual(bad._tag, "InvalidArgument")
            const unresolvable = yield* Effect.flip(Tcp.withConnection({ host: env.unresolvableHost, port: 80 }, use))
            assert.strictEqual(unresolvable._tag, "ResolveFailed")
            assert.strictEqual(used, 0)
          }),
        ),
      )

      if (blackhole !== undefined) {
        it.live("interrupting it while connecting closes the socket; a `timeout` is ConnectFailed ETIMEDOUT", () =>
          run(
            Effect.gen(function* () {
              const target = yield* blackhole
              const before = env.openFds?.()
              let used = 0
              const use = () => Effect.sync(() => used++)
              const fibers = []
              for (let i = 0; i < 20; i++) fibers.push(yield* Effect.fork(Tcp.withConnection(target, use)))
              yield* Effect.sleep("50 millis")
              for (const f of fibers) assert.isNull(f.unsafePoll(), "connect should still be pending")
              yield* Fiber.interruptAll(fibers)
              const timedOut = yield* Effect.flip(Tcp.withConnection({ ...target, timeout: "100 millis" }, use))
              assert.strictEqual(timedOut._tag === "ConnectFailed" ? timedOut.code : timedOut._tag, "ETIMEDOUT")
              assert.strictEqual(used, 0)
              yield* descriptorsBack(before)
            }),
          ),
        )
      }
    })
  })
}
