import { assert, describe, it } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import * as TestClock from "effect/TestClock"
import type { ListenRequest, RawConnection, RawListener, TcpDriver } from "../src/Driver.ts"
import { interleave } from "../src/internal/connect.ts"
import { ConnectFailed, ListenFailed } from "../src/NetError.ts"
import * as Network from "../src/Network.ts"
import * as Resolver from "../src/Resolver.ts"
import * as SocketAddress from "../src/SocketAddress.ts"
import * as TcpModule from "../src/Tcp.ts"

/** What the fake driver does for one address. */
type Script =
  | { readonly _tag: "hang" }
  | { readonly _tag: "connect"; readonly after: number }
  | { readonly _tag: "refuse"; readonly after: number }

const hang: Script = { _tag: "hang" }
const connectAfter = (after: number): Script => ({ _tag: "connect", after })
const refuseAfter = (after: number): Script => ({ _tag: "refuse", after })

const fakeConnection = (remote: SocketAddress.Ipv4 | SocketAddress.Ipv6, close: () => void): RawConnection => ({
  localAddress: SocketAddress.unixPath(""),
  remoteAddress: remote,
  fd: undefined,
  extra: {},
  start: () => {},
  pause: () => {},
  resume: () => {},
  write: () => true,
  shutdown: () => {},
  close,
})

/** A TcpDriver whose connects follow a script per host and run on Effect's Clock (TestClock). */
const fakeNetwork = (names: Resolver.StaticEntries, scripts: Record<string, Script>) => {
  const starts: Array<{ readonly host: string; readonly at: number }> = []
  const open = new Set<string>()
  const closed: Array<string> = []
  const driver: TcpDriver = {
    // the TcpDriver contract: run uninterruptibly, its waits in `restore`,
    // releasing what it opened when a wait fails or is interrupted
    connect: (request, restore = Effect.interruptible) =>
      Effect.gen(function* () {
        const host = request.address.host
        starts.push({ host, at: yield* Clock.currentTimeMillis })
        open.add(host)
        let released = false
        const release = () => {
          if (released) return
          released = true
          open.delete(host)
          closed.push(host)
        }
        const script = scripts[host] ?? hang
        const waited = yield* Effect.exit(restore(script._tag === "hang" ? Effect.never : Effect.sleep(script.after)))
        if (Exit.isFailure(waited) || script._tag === "refuse") {
          release()
          if (Exit.isFailure(waited)) return yield* Effect.failCause(waited.cause)
          return yield* Effect.fail(
            new ConnectFailed({
              host,
              port: request.address.port,
              attempts: [{ address: request.address, code: "ECONNREFUSED", syscall: "connect" }],
            }),
          )
        }
        return fakeConnection(request.address, release)
      }),
    listen: () => Effect.die("not used"),
  }
  const layer = Layer.succeed(Network.Network, {
    runtime: "fake",
    resolver: Resolver.makeStatic(names),
    tcp: driver,
  })
  return { starts, open, closed, layer }
}

const NAMES = { "multi.test": ["10.0.0.1", "10.0.0.2", "fd00::1", "fd00::2"] }

describe("happy eyeballs (RFC 8305) in Tcp.connect", () => {
  it("interleaves families, IPv6 first, keeping each family's order", () => {
    const list = ["10.0.0.1", "10.0.0.2", "fd00::1", "10.0.0.3", "fd00::2"].map((h) => SocketAddress.ip(h, 1))
    assert.deepStrictEqual(
      interleave(list).map((a) => a.host),
      ["fd00::1", "10.0.0.1", "fd00::2", "10.0.0.2", "10.0.0.3"],
    )
  })

  it.scoped(
    "starts attempts at exactly 0, 250, 500 ms while earlier ones hang; keeps the winner, closes the rest",
    () =>
      Effect.gen(function* () {
        const fake = fakeNetwork(NAMES, { "fd00::1": hang, "10.0.0.1": hang, "fd00::2": connectAfter(100) })
        const fiber = yield* Effect.fork(
          TcpModule.connect({ host: "multi.test", port: 80 }).pipe(Effect.provide(fake.layer)),
        )
        yield* TestClock.adjust("1 second")
        const conn = yield* Fiber.join(fiber)
        assert.deepStrictEqual(fake.starts, [
          { host: "fd00::1", at: 0 },
          { host: "10.0.0.1", at: 250 },
          { host: "fd00::2", at: 500 },
        ])
        assert.deepStrictEqual(conn.remoteAddress, SocketAddress.ipv6("fd00::2", 80))
        assert.deepStrictEqual([...fake.open], ["fd00::2"])
        assert.deepStrictEqual(fake.closed.sort(), ["10.0.0.1", "fd00::1"])
      }),
  )

  it.scoped("a failure starts the next attempt at once", () =>
    Effect.gen(function* () {
      const fake = fakeNetwork(NAMES, {
        "fd00::1": refuseAfter(100),
        "10.0.0.1": hang,
        "fd00::2": connectAfter(10),
      })
      const fiber = yield* Effect.fork(
        TcpModule.connect({ host: "multi.test", port: 80 }).pipe(Effect.provide(fake.layer)),
      )
      yield* TestClock.adjust("1 second")
      const conn = yield* Fiber.join(fiber)
      // 0: fd00::1; 100: it is refused -> 10.0.0.1 at once; 350: the delay passed -> fd00::2
      assert.deepStrictEqual(
        fake.starts.map((s) => [s.host, s.at]),
        [
          ["fd00::1", 0],
          ["10.0.0.1", 100],
          ["fd00::2", 350],
        ],
      )
      assert.strictEqual((conn.remoteAddress as SocketAddress.Ipv6).host, "fd00::2")
      assert.deepStrictEqual([...fake.open], ["fd00::2"])
    }),
  )

  it.scoped("an earlier attempt that connects first wins; the later one is closed", () =>
    Effect.gen(function* () {
      const fake = fakeNetwork(NAMES, {
        "fd00::1": connectAfter(300),
        "10.0.0.1": connectAfter(100),
      })
      const fiber = yield* Effect.fork(
        TcpModule.connect({ host: "multi.test", port: 80 }).pipe(Effect.provide(fake.layer)),
      )
      yield* TestClock.adjust("2 seconds")
      const conn = yield* Fiber.join(fiber)
      // fd00::1 would connect at 300; 10.0.0.1 (started at 250) connects at 350 -> fd00::1 wins
      assert.strictEqual((conn.remoteAddress as SocketAddress.Ipv6).host, "fd00::1")
      assert.deepStrictEqual(
        fake.starts.map((s) => [s.host, s.at]),
        [
          ["fd00::1", 0],
          ["10.0.0.1", 250],
        ],
      )
      assert.deepStrictEqual([...fake.open], ["fd00::1"])
      assert.deepStrictEqual(fake.closed, ["10.0.0.1"])
    }),
  )

  it.scoped("a later attempt that connects first wins; the pending earlier one is closed", () =>
    Effect.gen(function* () {
      const fake = fakeNetwork(NAMES, {
        "fd00::1": connectAfter(1000),
        "10.0.0.1": connectAfter(10),
      })
      const fiber = yield* Effect.fork(
        TcpModule.connect({ host: "multi.test", port: 80 }).pipe(Effect.provide(fake.layer)),
      )
      yield* TestClock.adjust("2 seconds")
      const conn = yield* Fiber.join(fiber)
      assert.strictEqual((conn.remoteAddress as SocketAddress.Ipv4).host, "10.0.0.1")
      assert.deepStrictEqual([...fake.open], ["10.0.0.1"])
      assert.deepStrictEqual(fake.closed, ["fd00::1"])
      // no further attempt was started after the winner
      assert.strictEqual(fake.starts.length, 2)
    }),
  )

  it.scoped("ConnectFailed lists every attempted address with its error, in start order", () =>
    Effect.gen(function* () {
      const fake = fakeNetwork(NAMES, {
        "fd00::1": refuseAfter(50),
        "10.0.0.1": refuseAfter(400),
        "fd00::2": refuseAfter(1),
        "10.0.0.2": refuseAfter(1),
      })
      const fiber = yield* Effect.fork(
        Effect.flip(TcpModule.connect({ host: "multi.test", port: 80 })).pipe(Effect.provide(fake.layer)),
      )
      yield* TestClock.adjust("5 seconds")
      const error = yield* Fiber.join(fiber)
      assert.strictEqual(error._tag, "ConnectFailed")
      if (error._tag !== "ConnectFailed") return
      assert.strictEqual(error.host, "multi.test")
      assert.deepStrictEqual(
        error.attempts.map((a) => [SocketAddress.format(a.address), a.code]),
        [
          ["[fd00::1]:80", "ECONNREFUSED"],
          ["10.0.0.1:80", "ECONNREFUSED"],
          ["[fd00::2]:80", "ECONNREFUSED"],
          ["10.0.0.2:80", "ECONNREFUSED"],
        ],
      )
      // 0; 50 (refused); 300 (delay); 301 (refused); 10.0.0.1 refused at 450 after everything else
      assert.deepStrictEqual(
        fake.starts.map((s) => s.at),
        [0, 50, 300, 301],
      )
      assert.strictEqual(fake.open.size, 0)
    }),
  )

  it.scoped("happyEyeballsDelay: 0 tries one address at a time", () =>
    Effect.gen(function* () {
      const fake = fakeNetwork(NAMES, { "fd00::1": refuseAfter(2000), "10.0.0.1": connectAfter(5) })
      const fiber = yield* Effect.fork(
        TcpModule.connect({ host: "multi.test", port: 80, happyEyeballsDelay: 0 }).pipe(Effect.provide(fake.layer)),
      )
      yield* TestClock.adjust("5 seconds")
      const conn = yield* Fiber.join(fiber)
      assert.strictEqual((conn.remoteAddress as SocketAddress.Ipv4).host, "10.0.0.1")
      assert.deepStrictEqual(
        fake.starts.map((s) => [s.host, s.at]),
        [
          ["fd00::1", 0],
          ["10.0.0.1", 2000],
        ],
      )
    }),
  )

  it.scoped("happyEyeballsDelay sets the attempt delay", () =>
    Effect.gen(function* () {
      const fake = fakeNetwork(NAMES, { "10.0.0.2": connectAfter(1) })
      const fiber = yield* Effect.fork(
        TcpModule.connect({ host: "multi.test", port: 80, happyEyeballsDelay: "100 millis" }).pipe(
          Effect.provide(fake.layer),
        ),
      )
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(fiber)
      assert.deepStrictEqual(
        fake.starts.map((s) => s.at),
        [0, 100, 200, 300],
      )
      assert.deepStrictEqual([...fake.open], ["10.0.0.2"])
    }),
  )

  it.effect("interrupting connect at any moment leaves nothing open, the winner included", () =>
    Effect.gen(function* () {
      for (const at of [0, 1, 249, 250, 251, 499, 500, 501, 599, 600, 601]) {
        const fake = fakeNetwork(NAMES, { "fd00::1": hang, "10.0.0.1": hang, "fd00::2": connectAfter(100) })
        const scope = yield* Scope.make()
        const fiber = yield* Effect.fork(
          Scope.extend(TcpModule.connect({ host: "multi.test", port: 80 }), scope).pipe(Effect.provide(fake.layer)),
        )
        yield* TestClock.adjust(at)
        const exit = yield* Fiber.interrupt(fiber)
        if (Exit.isSuccess(exit)) {
          // connect had already returned (at >= 600): only the winner is open, and it is the caller's
          assert.isAtLeast(at, 600)
          assert.deepStrictEqual([...fake.open], ["fd00::2"])
        } else {
          assert.isTrue(Exit.isInterrupted(exit), `interrupted at ${at}`)
          assert.strictEqual(fake.open.size, 0, `open after interruption at ${at}: ${[...fake.open]}`)
        }
        yield* Scope.close(scope, Exit.void)
        assert.strictEqual(fake.open.size, 0)
      }
    }),
  )

  it.effect("one address: no race; refusal names the host, interruption closes the socket", () =>
    Effect.gen(function* () {
      const fake = fakeNetwork({ "one.test": "fd00::9", "hang.test": "10.0.0.9" }, { "fd00::9": refuseAfter(5) })
      const refused = yield* Effect.fork(
        Effect.flip(Effect.scoped(TcpModule.connect({ host: "one.test", port: 80 }))).pipe(Effect.provide(fake.layer)),
      )
      yield* TestClock.adjust("1 second")
      const error = yield* Fiber.join(refused)
      assert.strictEqual(error._tag, "ConnectFailed")
      if (error._tag === "ConnectFailed") {
        assert.strictEqual(error.host, "one.test")
        assert.deepStrictEqual(
          error.attempts.map((a) => a.code),
          ["ECONNREFUSED"],
        )
      }
      const scope = yield* Scope.make()
      const hanging = yield* Effect.fork(
        Scope.extend(TcpModule.connect({ host: "hang.test", port: 80 }), scope).pipe(Effect.provide(fake.layer)),
      )
      yield* TestClock.adjust("1 second")
      assert.deepStrictEqual([...fake.open], ["10.0.0.9"])
      assert.isTrue(Exit.isInterrupted(yield* Fiber.interrupt(hanging)))
      assert.strictEqual(fake.open.size, 0)
      yield* Scope.close(scope, Exit.void)
    }),
  )

  it.effect("interrupting during resolution opens nothing", () =>
    Effect.gen(function* () {
      let connects = 0
      const layer = Layer.succeed(Network.Network, {
        runtime: "fake",
        resolver: Resolver.make({
          getaddrinfo: () => Effect.never,
          getnameinfo: () => Effect.never,
        }),
        tcp: {
          connect: () => Effect.sync(() => connects++).pipe(Effect.zipRight(Effect.never)),
          listen: () => Effect.die("not used"),
        },
      })
      const fiber = yield* Effect.fork(
        Effect.scoped(TcpModule.connect({ host: "slow.test", port: 1 })).pipe(Effect.provide(layer)),
      )
      yield* TestClock.adjust("10 seconds")
      const exit = yield* Fiber.interrupt(fiber)
      assert.isTrue(Exit.isInterrupted(exit))
      assert.strictEqual(connects, 0)
    }),
  )
})

describe("dual-stack Tcp.listen", () => {
  /** A listen driver handing out ports from 40000 on; `taken` ports fail with EADDRINUSE for IPv6. */
  const fakeListen = (takenForIpv6: (port: number) => boolean) => {
    let next = 40000
    const open = new Set<string>()
    const requests: Array<ListenRequest> = []
    const driver: TcpDriver = {
      connect: () => Effect.die("not used"),
      listen: (request) =>
        Effect.gen(function* () {
          requests.push(request)
          const port = request.address.port === 0 ? next++ : request.address.port
          if (request.address._tag === "Ipv6" && takenForIpv6(port)) {
            return yield* Effect.fail(
              new ListenFailed({ address: request.address, code: "EADDRINUSE", syscall: "bind" }),
            )
          }
          const address =
            request.address._tag === "Ipv4"
              ? SocketAddress.ipv4(request.address.host, port)
              : SocketAddress.ipv6(request.address.host, port)
          const key = SocketAddress.format(address)
          yield* Effect.acquireRelease(
            Effect.sync(() => open.add(key)),
            () => Effect.sync(() => open.delete(key)),
          )
          const raw: RawListener = { address, fd: undefined, start: () => {}, close: () => open.delete(key) }
          return raw
        }),
    }
    const layer = Layer.succeed(Network.Network, {
      runtime: "fake",
      resolver: Resolver.makeStatic({ localhost: ["::1", "127.0.0.1"] }),
      tcp: driver,
    })
    return { open, requests, layer }
  }

  it.scoped("binds both families on one port, IPv6 with IPV6_V6ONLY", () =>
    Effect.gen(function* () {
      const fake = fakeListen(() => false)
      const listener = yield* TcpModule.listen({ host: "localhost", port: 0 }).pipe(Effect.provide(fake.layer))
      assert.deepStrictEqual(listener.addresses.map(SocketAddress.format), ["[::1]:40000", "127.0.0.1:40000"])
      assert.deepStrictEqual(
        fake.requests.map((r) => [r.address.host, r.address.port, r.ipv6Only]),
        [
          ["::1", 0, true],
          ["127.0.0.1", 40000, false],
        ],
      )
    }),
  )

  it.scoped("picks a new port when the first family's port is taken for the second", () =>
    Effect.gen(function* () {
      const fake = fakeListen((port) => port < 40003)
      const listener = yield* TcpModule.listen({ port: 0 }).pipe(Effect.provide(fake.layer))
      assert.deepStrictEqual(listener.addresses.map(SocketAddress.format), ["0.0.0.0:40003", "[::]:40003"])
      assert.deepStrictEqual([...fake.open].sort(), ["0.0.0.0:40003", "[::]:40003"])
    }),
  )

  it.scoped("gives up after a bounded number of tries, closing everything", () =>
    Effect.gen(function* () {
      const fake = fakeListen(() => true)
      const error = yield* Effect.flip(TcpModule.listen({ port: 0 }).pipe(Effect.provide(fake.layer)))
      assert.strictEqual(error._tag, "ListenFailed")
      if (error._tag === "ListenFailed") assert.strictEqual(error.code, "EADDRINUSE")
      assert.strictEqual(fake.open.size, 0)
      assert.strictEqual(fake.requests.filter((r) => r.address._tag === "Ipv4").length, 17)
    }),
  )

  it.scoped("a fixed port taken for the second family fails at once", () =>
    Effect.gen(function* () {
      const fake = fakeListen((port) => port === 5000)
      const error = yield* Effect.flip(TcpModule.listen({ port: 5000 }).pipe(Effect.provide(fake.layer)))
      assert.strictEqual(error._tag, "ListenFailed")
      assert.strictEqual(fake.open.size, 0)
      assert.strictEqual(fake.requests.length, 2)
    }),
  )
})
