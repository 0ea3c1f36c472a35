/**
 * The name-resolution contract: the system resolver of a runtime, replacing
 * it with a Layer, IDNA 2008, happy eyeballs over real loopback sockets and
 * dual-stack listeners. Needs `::1` and `127.0.0.1`; never touches outside
 * DNS (names under `.invalid` and static resolvers only).
 *
 * @since 0.1.0
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"
import type * as Scope from "effect/Scope"
import type { Network } from "../src/Network.ts"
import * as Resolver from "../src/Resolver.ts"
import * as SocketAddress from "../src/SocketAddress.ts"
import * as SocketStream from "../src/SocketStream.ts"
import * as Tcp from "../src/Tcp.ts"
import { python } from "./peers.ts"
import { bytes, eventually, text } from "./StreamContract.ts"

/**
 * The runtime under test.
 *
 * @since 0.1.0
 */
export interface ResolverEnvironment {
  /** Shown in test names. */
  readonly name: string
  /** `Network` and `Resolver` with the system resolver (`NodeNetwork.layer`). */
  readonly layer: Layer.Layer<Network | Resolver.Resolver>
  /** `Network` resolving through the `Resolver` in context (`NodeNetwork.layerWithResolver`). */
  readonly layerWithResolver: Layer.Layer<Network, never, Resolver.Resolver>
  /** Counts open descriptors of this process. */
  readonly openFds?: () => number
}

/** The loopback stress tests run long on a loaded machine (Bun's connect abort reads /proc/net/tcp). */
const HEAVY_TIMEOUT = 180_000

const portOf = (address: SocketAddress.SocketAddress): number => (SocketAddress.isIp(address) ? address.port : -1)

/** A static resolver that records every name it is asked for. */
const recording = (entries: Resolver.StaticEntries) => {
  const seen: Array<string> = []
  const inner = Resolver.makeStatic(entries)
  const service = Resolver.make({
    getaddrinfo: (host, port, options) => {
      seen.push(host)
      return inner.getaddrinfo(host, port, options)
    },
    getnameinfo: inner.getnameinfo,
  })
  return { seen, service }
}

/**
 * Registers the resolver tests for one runtime.
 *
 * @since 0.1.0
 */
export const resolverContract = (env: ResolverEnvironment): void => {
  const run = <A, E>(effect: Effect.Effect<A, E, Scope.Scope | Network | Resolver.Resolver>) =>
    effect.pipe(Effect.scoped, Effect.provide(env.layer))
  const withResolver = (service: Resolver.ResolverService) =>
    env.layerWithResolver.pipe(Layer.provideMerge(Resolver.layer(service)))
  const runWith =
    (service: Resolver.ResolverService) =>
    <A, E>(effect: Effect.Effect<A, E, Scope.Scope | Network | Resolver.Resolver>) =>
      effect.pipe(Effect.scoped, Effect.provide(withResolver(service)))

  describe(`Resolver on ${env.name}`, () => {
    it.live("getaddrinfo of localhost: every result with family, type, protocol and address", () =>
      run(
        Effect.gen(function* () {
          const stream = yield* Resolver.getaddrinfo("localhost", 80, { type: "stream" })
          assert.isAbove(stream.length, 0)
          for (const info of stream) {
            assert.strictEqual(info.type, "stream")
            assert.strictEqual(info.protocol, 6)
            assert.strictEqual(info.address.port, 80)
            assert.strictEqual(info.family, info.address._tag === "Ipv6" ? 6 : 4)
          }
          assert.isTrue(
            stream.some((i) => i.address.host === "127.0.0.1" || i.address.host === "::1"),
            JSON.stringify(stream),
          )
          // no type: every address once per socket type, as getaddrinfo(3) answers
          const any = yield* Resolver.getaddrinfo("localhost", 80)
          assert.deepStrictEqual(
            any.map((i) => [i.address.host, i.type, i.protocol]),
            stream.flatMap((i) => [
              [i.address.host, "stream", 6],
              [i.address.host, "dgram", 17],
            ]),
          )
          const v4 = yield* Resolver.getaddrinfo("localhost", 80, { family: 4, type: "stream" })
          assert.isTrue(v4.every((i) => i.family === 4))
          const canon = yield* Resolver.getaddrinfo("localhost", 80, { type: "stream", flags: Resolver.AI_CANONNAME })
          assert.isString(canon[0]?.canonicalName)
        }),
      ),
    )

    it.live("getaddrinfo of a numeric IPv6 address with a scope answers without a lookup", () =>
      Effect.gen(function* () {
        const calls = recording({})
        yield* runWith(calls.service)(
          Effect.gen(function* () {
            const scoped = yield* Resolver.getaddrinfo("fe80::1%lo", 443, { type: "stream" })
            assert.strictEqual(scoped.length, 1)
            assert.strictEqual(scoped[0]?.family, 6)
            assert.strictEqual(scoped[0]?.address.host, "fe80::1%lo")
            assert.strictEqual(scoped[0]?.address.port, 443)
            const numbered = yield* Resolver.getaddrinfo("[fe80::1%2]", 443, { type: "stream" })
            assert.deepStrictEqual(numbered[0]?.address, SocketAddress.ipv6("fe80::1%2", 443, { scopeId: 2 }))
            const v4 = yield* Resolver.getaddrinfo("127.0.0.1", 1, { type: "dgram" })
            assert.deepStrictEqual(
              v4.map((i) => [i.address.host, i.type, i.protocol]),
              [["127.0.0.1", "dgram", 17]],
            )
            const wrongFamily = yield* Effect.flip(Resolver.getaddrinfo("::1", 1, { family: 4 }))
            assert.strictEqual(wrongFamily.code, "EAI_ADDRFAMILY")
          }),
        )
        assert.deepStrictEqual(calls.seen, [])
        // and through the system resolver too
        const system = yield* run(Resolver.getaddrinfo("fe80::1%lo", 443, { type: "stream" }))
        assert.strictEqual(system[0]?.address.host, "fe80::1%lo")
      }),
    )

    it.live("getaddrinfo of an invalid name fails with ResolveFailed, the EAI code and the host", () =>
      run(
        Effect.gen(function* () {
          const error = yield* Effect.flip(Resolver.getaddrinfo("nonexistent.invalid", 80))
          assert.strictEqual(error._tag, "ResolveFailed")
          assert.strictEqual(error.host, "nonexistent.invalid")
          assert.include(["ENOTFOUND", "EAI_NONAME", "EAI_NODATA", "EAI_AGAIN", "EAI_FAIL"], error.code)
          const viaTcp = yield* Effect.flip(Tcp.connect({ host: "nonexistent.invalid", port: 80 }))
          assert.strictEqual(viaTcp._tag, "ResolveFailed")
          const numericOnly = yield* Effect.flip(
            Resolver.getaddrinfo("localhost", 80, { flags: Resolver.AI_NUMERICHOST }),
          )
          assert.strictEqual(numericOnly.code, "EAI_NONAME")
        }),
      ),
    )

    it.live("getnameinfo of 127.0.0.1 with and without the numeric flags", () =>
      run(
        Effect.gen(function* () {
          const address = SocketAddress.ipv4("127.0.0.1", 22)
          const named = yield* Resolver.getnameinfo(address)
          assert.strictEqual(named.host, "localhost")
          assert.strictEqual(named.service, "ssh")
          assert.deepStrictEqual(yield* Resolver.getnameinfo(address, Resolver.NI_NUMERICHOST), {
            host: "127.0.0.1",
            service: "ssh",
          })
          assert.deepStrictEqual(yield* Resolver.getnameinfo(address, Resolver.NI_NUMERICSERV), {
            host: "localhost",
            service: "22",
          })
          assert.deepStrictEqual(
            yield* Resolver.getnameinfo(address, Resolver.NI_NUMERICHOST | Resolver.NI_NUMERICSERV),
            { host: "127.0.0.1", service: "22" },
          )
        }),
      ),
    )

    it.live(
      "service names: getaddrinfo(None, service) and getaddrinfo(host, service) answer as Python's socket module does",
      () =>
        run(
          Effect.gen(function* () {
            // Python's getaddrinfo (the C library, /etc/services) is the reference
            const cases: ReadonlyArray<readonly [string | null, string, number, Resolver.SocketType | undefined]> = [
              [null, "https", 0, undefined],
              [null, "https", Resolver.AI_PASSIVE, undefined],
              [null, "ntp", 0, undefined],
              ["127.0.0.1", "ssh", 0, "stream"],
              ["localhost", "domain", 0, "dgram"],
              [null, "8080", 0, "stream"],
              [null, "ntp", 0, "stream"],
              [null, "HTTPS", 0, "stream"],
              [null, "no-such-service", 0, undefined],
              [null, "https", Resolver.AI_NUMERICSERV, undefined],
            ]
            const py = yield* python(
              [
                "import json,socket,sys",
                "out=[]",
                "for host,service,flags,t in json.loads(sys.argv[1]):",
                "  kind={'stream':socket.SOCK_STREAM,'dgram':socket.SOCK_DGRAM,None:0}[t]",
                "  try:",
                "    r=socket.getaddrinfo(host,service,type=kind,flags=flags)",
                "    out.append(sorted({(a[4][0],a[4][1],'stream' if a[1]==socket.SOCK_STREAM else 'dgram') for a in r}))",
                "  except socket.gaierror as e:",
                "    out.append({socket.EAI_SERVICE:'EAI_SERVICE',socket.EAI_NONAME:'EAI_NONAME'}.get(e.errno,str(e.errno)))",
                "print(json.dumps(out))",
              ].join("\n"),
              [JSON.stringify(cases.map(([h, sv, f, t]) => [h, sv, f, t ?? null]))],
            )
            const expected = JSON.parse(py.firstLine) as ReadonlyArray<unknown>
            for (let i = 0; i < cases.length; i++) {
              const [host, service, flags, type] = cases[i] as (typeof cases)[number]
              const got = yield* Effect.either(
                Resolver.getaddrinfo(host, service, { flags, ...(type === undefined ? {} : { type }) }),
              )
              const mine =
                got._tag === "Left"
                  ? got.left.code
                  : [
                      ...new Set(
                        got.right.map((info) =>
                          JSON.stringify([
                            SocketAddress.isIp(info.address) ? info.address.host : "",
                            portOf(info.address),
                            info.type,
                          ]),
                        ),
                      ),
                    ]
                      .sort()
                      .map((j) => JSON.parse(j) as unknown)
              assert.deepStrictEqual(
                mine,
                expected[i],
                `getaddrinfo(${host}, ${JSON.stringify(service)}, flags ${flags}, ${type})`,
              )
            }
          }),
        ),
    )

    it.live("getnameinfo of an address without a name: numeric, or ENOTFOUND with NI_NAMEREQD", () =>
      runWith(Resolver.makeStatic({ "db.test": "127.0.0.1" }))(
        Effect.gen(function* () {
          const unnamed = SocketAddress.ipv6("::1", 8080)
          assert.deepStrictEqual(yield* Resolver.getnameinfo(unnamed), { host: "::1", service: "8080" })
          const error = yield* Effect.flip(Resolver.getnameinfo(unnamed, Resolver.NI_NAMEREQD))
          assert.strictEqual(error.code, "ENOTFOUND")
          assert.strictEqual((yield* Resolver.getnameinfo(SocketAddress.ipv4("127.0.0.1", 1))).host, "db.test")
        }),
      ),
    )

    it.live("IDNA 2008: a custom resolver sees xn--strae-oqa.de for straße.de, and TCP connects through it", () =>
      Effect.gen(function* () {
        const calls = recording({ "xn--strae-oqa.de": "127.0.0.1", "xn--fa-hia.de": "::1" })
        yield* runWith(calls.service)(
          Effect.gen(function* () {
            const listener = yield* Tcp.listen({ host: "127.0.0.1", port: 0 })
            const server = yield* Effect.fork(
              Effect.scoped(
                Effect.flatMap(listener.accept, (conn) => Effect.flatMap(conn.receive(), (data) => conn.send(data))),
              ),
            )
            const conn = yield* Tcp.connect({ host: "straße.de", port: portOf(listener.address) })
            yield* conn.send(bytes("ß"))
            assert.strictEqual(text(yield* conn.receive()), "ß")
            yield* Fiber.join(server)
            const fass = yield* Resolver.getaddrinfo("faß.de", 1, { type: "stream" })
            assert.strictEqual(fass[0]?.address.host, "::1")
            const bad = yield* Effect.flip(Resolver.getaddrinfo("a\u200db.de", 1))
            assert.strictEqual(bad.code, "EAI_IDN_ENCODE")
            assert.strictEqual(bad.host, "a\u200db.de")
          }),
        )
        assert.deepStrictEqual(calls.seen, ["xn--strae-oqa.de", "xn--fa-hia.de"])
      }),
    )

    it.live("an invalid A-label (xn--) is refused before any lookup, with EAI_IDN_ENCODE", () =>
      Effect.gen(function* () {
        const calls = recording({ "xn--bcher-kva.invalid": "127.0.0.1" })
        const invalid = ["xn--zz", "xn--zz.invalid", "XN--ZZ.invalid", "a.xn--a-ecp.invalid", "xn--.invalid"]
        yield* runWith(calls.service)(
          Effect.gen(function* () {
            for (const host of invalid) {
              const error = yield* Effect.flip(Resolver.getaddrinfo(host, 80))
              assert.strictEqual(error.code, "EAI_IDN_ENCODE", host)
              assert.strictEqual(error.host, host)
            }
            const viaTcp = yield* Effect.flip(Tcp.connect({ host: "xn--zz.invalid", port: 80 }))
            assert.strictEqual(viaTcp._tag, "ResolveFailed")
            if (viaTcp._tag === "ResolveFailed") assert.strictEqual(viaTcp.code, "EAI_IDN_ENCODE")
            // a valid A-label, in any case, goes to the resolver unchanged
            const valid = yield* Resolver.getaddrinfo("XN--BCHER-KVA.invalid", 80, { type: "stream" })
            assert.strictEqual(valid[0]?.address.host, "127.0.0.1")
          }),
        )
        assert.deepStrictEqual(calls.seen, ["XN--BCHER-KVA.invalid"])
        // the system resolver refuses them alike on every runtime, without asking DNS
        yield* run(
          Effect.gen(function* () {
            for (const host of invalid) {
              const error = yield* Effect.flip(Resolver.getaddrinfo(host, 80))
              assert.strictEqual(error.code, "EAI_IDN_ENCODE", host)
            }
          }),
        )
      }),
    )

    it.live("happy eyeballs on loopback: a server on ::1 only, the resolver listing 127.0.0.1 first", () =>
      Effect.gen(function* () {
        const fds = env.openFds?.()
        const port = yield* run(
          Effect.gen(function* () {
            const listener = yield* Tcp.listen({ host: "::1", port: 0 })
            const port = portOf(listener.address)
            yield* runWith(Resolver.makeStatic({ "svc.test": ["127.0.0.1", "::1"] }))(
              Effect.gen(function* () {
                const conn = yield* Tcp.connect({ host: "svc.test", port })
                assert.strictEqual(conn.remoteAddress._tag, "Ipv6")
                // with racing off as well
                const sequential = yield* Tcp.connect({ host: "svc.test", port, happyEyeballsDelay: 0 })
                assert.strictEqual(sequential.remoteAddress._tag, "Ipv6")
              }),
            )
            return port
          }),
        )
        assert.isAbove(port, 0)
        if (fds !== undefined && env.openFds) yield* eventually(() => env.openFds?.() === fds, "fds back to start")
      }),
    )

    it.live("happy eyeballs on loopback: IPv6 refused moves on to IPv4 at once", () =>
      run(
        Effect.gen(function* () {
          const listener = yield* Tcp.listen({ host: "127.0.0.1", port: 0 })
          const port = portOf(listener.address)
          yield* runWith(Resolver.makeStatic({ "svc.test": ["::1", "127.0.0.1"] }))(
            Effect.gen(function* () {
              // a 1 hour attempt delay: only the refusal can have started the IPv4 attempt
              const conn = yield* Tcp.connect({ host: "svc.test", port, happyEyeballsDelay: "1 hour" })
              assert.deepStrictEqual(conn.remoteAddress, SocketAddress.ipv4("127.0.0.1", port))
            }),
          )
        }),
      ),
    )

    it.live("a numeric localHost restricts the attempts to its family", () =>
      run(
        Effect.gen(function* () {
          const listener = yield* Tcp.listen({ port: 0 })
          const port = portOf(listener.address)
          yield* runWith(Resolver.makeStatic({ "svc.test": ["::1", "127.0.0.1"] }))(
            Effect.gen(function* () {
              const v4 = yield* Tcp.connect({ host: "svc.test", port, localHost: "127.0.0.1" })
              assert.strictEqual(v4.remoteAddress._tag, "Ipv4")
              const v6 = yield* Tcp.connect({ host: "svc.test", port, localHost: "::1" })
              assert.strictEqual(v6.remoteAddress._tag, "Ipv6")
            }),
          )
        }),
      ),
    )

    it.live("ConnectFailed lists every attempted address on loopback", () =>
      Effect.gen(function* () {
        // a port nothing listens on, in both families
        const port = yield* run(Effect.map(Tcp.listen({ port: 0 }), (l) => portOf(l.address)))
        const error = yield* runWith(Resolver.makeStatic({ "none.test": ["127.0.0.1", "::1"] }))(
          Effect.flip(Tcp.connect({ host: "none.test", port })),
        )
        assert.strictEqual(error._tag, "ConnectFailed")
        if (error._tag !== "ConnectFailed") return
        assert.deepStrictEqual(
          error.attempts.map((a) => [SocketAddress.format(a.address), a.code]),
          [
            [`[::1]:${port}`, "ECONNREFUSED"],
            [`127.0.0.1:${port}`, "ECONNREFUSED"],
          ],
        )
      }),
    )

    it.live(
      "no descriptor leaks over 500 raced connects (both families accepting)",
      () =>
        Effect.gen(function* () {
          const accepted = yield* Ref.make(0)
          const fdsBefore = env.openFds?.()
          yield* runWith(Resolver.makeStatic({ "race.test": ["::1", "127.0.0.1"] }))(
            Effect.gen(function* () {
              const listener = yield* Tcp.listen({ port: 0 })
              const port = portOf(listener.address)
              yield* Effect.forkScoped(
                listener.serve((conn) =>
                  Effect.zipRight(
                    Ref.update(accepted, (n) => n + 1),
                    Effect.ignore(SocketStream.pipe(conn, conn)),
                  ),
                ),
              )
              const fds = env.openFds?.()
              // attempt delays of about the loopback connect time, so both attempts often run at once
              const delays = [0.001, 0.05, 0.2, 1, 0]
              yield* Effect.forEach(
                Array.from({ length: 500 }, (_, i) => i),
                (i) =>
                  Effect.scoped(
                    Effect.gen(function* () {
                      const conn = yield* Tcp.connect({
                        host: "race.test",
                        port,
                        happyEyeballsDelay: delays[i % delays.length] ?? 0,
                      })
                      yield* conn.send(bytes("x"))
                      assert.strictEqual(text(yield* conn.receive()), "x")
                    }),
                  ),
                { concurrency: 8, discard: true },
              )
              if (fds !== undefined) yield* eventually(() => env.openFds?.() === fds, `fds back to ${fds}`)
            }),
          )
          assert.isAtLeast(yield* Ref.get(accepted), 500)
          if (fdsBefore !== undefined)
            yield* eventually(() => env.openFds?.() === fdsBefore, `fds back to ${fdsBefore}`)
        }),
      HEAVY_TIMEOUT,
    )

    it.live(
      "no descriptor leaks when raced connects are interrupted at random moments",
      () =>
        Effect.gen(function* () {
          yield* runWith(Resolver.makeStatic({ "race.test": ["::1", "127.0.0.1"] }))(
            Effect.gen(function* () {
              const listener = yield* Tcp.listen({ port: 0 })
              const port = portOf(listener.address)
              yield* Effect.forkScoped(listener.serve((conn) => Effect.ignore(SocketStream.pipe(conn, conn))))
              const fds = env.openFds?.()
              yield* Effect.forEach(
                Array.from({ length: 200 }, (_, i) => i),
                (i) =>
                  Effect.scoped(
                    Tcp.connect({ host: "race.test", port, happyEyeballsDelay: 0.05 }).pipe(
                      Effect.timeout(`${(i % 20) * 50} micros`),
                      Effect.ignore,
                    ),
                  ),
                { concurrency: 8, discard: true },
              )
              // about half finish, half are interrupted mid-race (on Node 20 here: about half)
              if (fds !== undefined) yield* eventually(() => env.openFds?.() === fds, `fds back to ${fds}`)
            }),
          )
        }),
      HEAVY_TIMEOUT,
    )

    it.live("a dual-stack listener accepts over 127.0.0.1 and ::1 on the same port", () =>
      run(
        Effect.gen(function* () {
          const check = (listener: { readonly addresses: ReadonlyArray<SocketAddress.SocketAddress> }) =>
            Effect.gen(function* () {
              const families = listener.addresses.map((a) => a._tag).sort()
              assert.deepStrictEqual(families, ["Ipv4", "Ipv6"])
              const ports = new Set(listener.addresses.map(portOf))
              assert.strictEqual(ports.size, 1)
              return [...ports][0] ?? 0
            })
          const exchange = (
            listener: { readonly accept: Effect.Effect<SocketStream.SocketStream, unknown, Scope.Scope> },
            host: string,
            port: number,
          ) =>
            Effect.gen(function* () {
              const client = yield* Tcp.connect({ host, port })
              const server = yield* listener.accept
              yield* client.send(bytes(host))
              assert.strictEqual(text(yield* server.receive()), host)
              assert.strictEqual(server.remoteAddress._tag, client.localAddress._tag)
              if (host !== "localhost")
                assert.strictEqual(server.remoteAddress._tag, host.includes(":") ? "Ipv6" : "Ipv4")
            })
          // wildcard: 0.0.0.0 + ::
          const wildcard = yield* Tcp.listen({ port: 0 })
          const port = yield* check(wildcard)
          yield* exchange(wildcard, "127.0.0.1", port)
          yield* exchange(wildcard, "::1", port)
          // a name with both families (pinned: /etc/hosts may list only one for localhost)
          yield* runWith(Resolver.makeStatic({ localhost: ["::1", "127.0.0.1"] }))(
            Effect.gen(function* () {
              const local = yield* Tcp.listen({ host: "localhost", port: 0 })
              const localPort = yield* check(local)
              assert.deepStrictEqual(local.addresses.map((a) => (a as SocketAddress.Ipv4).host).sort(), [
                "127.0.0.1",
                "::1",
              ])
              yield* exchange(local, "127.0.0.1", localPort)
              yield* exchange(local, "::1", localPort)
              yield* exchange(local, "localhost", localPort)
            }),
          )
          // the system's localhost: every address it resolves to, one port
          const system = yield* Tcp.listen({ host: "localhost", port: 0 })
          assert.strictEqual(new Set(system.addresses.map(portOf)).size, 1)
        }),
      ),
    )
  })
}
