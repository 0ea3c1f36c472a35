import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as TestClock from "effect/TestClock"
import * as Driver from "../src/Driver.ts"
import { ResolveFailed } from "../src/NetError.ts"
import * as Resolver from "../src/Resolver.ts"
import * as SocketAddress from "../src/SocketAddress.ts"

const hosts = (infos: ReadonlyArray<Resolver.AddressInfo>) => infos.map((i) => i.address.host)

/** A static resolver counting the calls that reach it. */
const counting = (entries: Resolver.StaticEntries) => {
  const seen: Array<string> = []
  const inner = Resolver.makeStatic(entries)
  const service = Resolver.make({
    getaddrinfo: (host, port, options) =>
      Effect.suspend(() => {
        seen.push(host)
        return inner.getaddrinfo(host, port, options)
      }),
    getnameinfo: inner.getnameinfo,
  })
  return { seen, service }
}

describe("Resolver.toAscii (IDNA 2008, UTS #46 non-transitional)", () => {
  it("maps non-ASCII names to A-labels, keeping ß and ς (not the IDNA 2003 forms)", () => {
    const cases: Array<[string, string]> = [
      ["straße.de", "xn--strae-oqa.de"],
      ["faß.de", "xn--fa-hia.de"],
      ["Straße.DE", "xn--strae-oqa.de"],
      ["ＡＢＣ.com", "abc.com"],
      ["例え.テスト", "xn--r8jz45g.xn--zckzah"],
      ["café.fr", "xn--caf-dma.fr"],
      ["ςαα.gr", "xn--mxaa3c.gr"],
      ["bücher.example.", "xn--bcher-kva.example."],
    ]
    for (const [input, expected] of cases)
      assert.deepStrictEqual(Resolver.toAscii(input), Either.right(expected), input)
  })

  it("leaves ASCII names alone", () => {
    for (const name of ["localhost", "Example.COM", "xn--strae-oqa.de", "under_score.test", "0x7f.1"]) {
      assert.deepStrictEqual(Resolver.toAscii(name), Either.right(name))
    }
  })

  it("keeps valid ASCII A-labels as written", () => {
    for (const name of ["xn--bcher-kva.example", "XN--BCHER-KVA.example", "www.xn--mxaa3c.gr.", "xn--ls8h.test"]) {
      assert.deepStrictEqual(Resolver.toAscii(name), Either.right(name))
    }
  })

  it("rejects names with no ASCII form, or an invalid A-label, with EAI_IDN_ENCODE", () => {
    for (const name of [
      "a\u200db.de",
      "ß/x",
      "ß x.de",
      "ß%41.de",
      "ß@evil.de",
      "xn--zz",
      "xn--zz.example",
      "www.XN--ZZ.example",
      "xn--a-ecp.example",
      "xn--.example",
      "xn--bcher-kva.example:80",
      "bücher.xn--zz",
    ]) {
      const result = Resolver.toAscii(name)
      assert.isTrue(Either.isLeft(result), name)
      if (Either.isLeft(result)) {
        assert.strictEqual(result.left.code, "EAI_IDN_ENCODE")
        assert.strictEqual(result.left.host, name)
      }
    }
  })
})

describe("Resolver front", () => {
  it.effect("numeric hosts skip the implementation", () =>
    Effect.gen(function* () {
      const { seen, service } = counting({})
      assert.deepStrictEqual(hosts(yield* service.getaddrinfo("10.1.2.3", 1, { type: "stream" })), ["10.1.2.3"])
      assert.deepStrictEqual(hosts(yield* service.getaddrinfo("[::1]", 1, { type: "stream" })), ["::1"])
      const scoped = yield* service.getaddrinfo("fe80::1%3", 1, { type: "stream" })
      assert.deepStrictEqual(scoped[0]?.address, SocketAddress.ipv6("fe80::1%3", 1, { scopeId: 3 }))
      // full-width digits are numeric once mapped
      assert.deepStrictEqual(hosts(yield* service.getaddrinfo("１２７.０.０.１", 1, { type: "stream" })), ["127.0.0.1"])
      assert.deepStrictEqual(seen, [])
    }),
  )

  it.effect("the implementation receives the ASCII form; errors name the host as written", () =>
    Effect.gen(function* () {
      const { seen, service } = counting({ "xn--strae-oqa.de": "192.0.2.1" })
      assert.deepStrictEqual(hosts(yield* service.getaddrinfo("straße.de", 443, { type: "stream" })), ["192.0.2.1"])
      const error = yield* Effect.flip(service.getaddrinfo("faß.de", 443))
      assert.strictEqual(error.host, "faß.de")
      assert.strictEqual(error.code, "ENOTFOUND")
      assert.deepStrictEqual(seen, ["xn--strae-oqa.de", "xn--fa-hia.de"])
    }),
  )

  it.effect("family, AI_V4MAPPED, AI_ALL, socket types and AI_CANONNAME", () =>
    Effect.gen(function* () {
      const service = Resolver.makeStatic({
        "both.test": ["192.0.2.1", "2001:db8::1", "192.0.2.2"],
        "v4.test": "192.0.2.7",
        "www.test": "both.test",
      })
      assert.deepStrictEqual(hosts(yield* service.getaddrinfo("both.test", 1, { family: 4, type: "stream" })), [
        "192.0.2.1",
        "192.0.2.2",
      ])
      assert.deepStrictEqual(hosts(yield* service.getaddrinfo("both.test", 1, { family: 6, type: "stream" })), [
        "2001:db8::1",
      ])
      const noV6 = yield* Effect.flip(service.getaddrinfo("v4.test", 1, { family: 6 }))
      assert.strictEqual(noV6.code, "EAI_ADDRFAMILY")
      assert.deepStrictEqual(
        hosts(yield* service.getaddrinfo("v4.test", 1, { family: 6, type: "stream", flags: Resolver.AI_V4MAPPED })),
        ["::ffff:192.0.2.7"],
      )
      assert.deepStrictEqual(
        hosts(
          yield* service.getaddrinfo("both.test", 1, {
            family: 6,
            type: "stream",
            flags: Resolver.AI_V4MAPPED | Resolver.AI_ALL,
          }),
        ),
        ["2001:db8::1", "::ffff:192.0.2.1", "::ffff:192.0.2.2"],
      )
      const all = yield* service.getaddrinfo("v4.test", 80)
      assert.deepStrictEqual(
        all.map((i) => [i.type, i.protocol]),
        [
          ["stream", 6],
          ["dgram", 17],
        ],
      )
      const canon = yield* service.getaddrinfo("WWW.test.", 80, { type: "stream", flags: Resolver.AI_CANONNAME })
      assert.strictEqual(canon[0]?.canonicalName, "both.test")
      assert.isUndefined(canon[1]?.canonicalName)
      assert.deepStrictEqual(hosts(canon), ["192.0.2.1", "2001:db8::1", "192.0.2.2"])
      const badPort = yield* Effect.flip(service.getaddrinfo("v4.test", 70000))
      assert.strictEqual(badPort.code, "EAI_SERVICE")
    }),
  )

  it.effect("getnameinfo: numeric flags skip the lookup; names come from the static map", () =>
    Effect.gen(function* () {
      const calls: Array<string> = []
      const service = Resolver.make({
        getaddrinfo: (host) => Effect.fail(new ResolveFailed({ host, code: "ENOTFOUND" })),
        getnameinfo: (address) =>
          Effect.sync(() => {
            calls.push(address.host)
            return { host: "host.example", service: "http" }
          }),
      })
      const a = SocketAddress.ipv4("192.0.2.1", 80)
      assert.deepStrictEqual(yield* service.getnameinfo(a, Resolver.NI_NUMERICHOST | Resolver.NI_NUMERICSERV), {
        host: "192.0.2.1",
        service: "80",
      })
      assert.deepStrictEqual(calls, [])
      assert.deepStrictEqual(yield* service.getnameinfo(a, Resolver.NI_NUMERICHOST), {
        host: "192.0.2.1",
        service: "http",
      })
      assert.deepStrictEqual(yield* service.getnameinfo(a, Resolver.NI_NOFQDN), { host: "host", service: "http" })
      const map = Resolver.makeStatic({ "db.test": ["192.0.2.5"] })
      assert.deepStrictEqual(yield* map.getnameinfo(SocketAddress.ipv4("192.0.2.5", 5432)), {
        host: "db.test",
        service: "5432",
      })
    }),
  )

  it.effect("alias loops fail with EAI_FAIL; a fallback answers unknown names", () =>
    Effect.gen(function* () {
      const loop = Resolver.makeStatic({ "a.test": "b.test", "b.test": "a.test" })
      assert.strictEqual((yield* Effect.flip(loop.getaddrinfo("a.test", 1))).code, "EAI_FAIL")
      const withFallback = Resolver.makeStatic(
        { "a.test": "192.0.2.1" },
        { fallback: Resolver.makeStatic({ "b.test": "192.0.2.2" }) },
      )
      assert.deepStrictEqual(hosts(yield* withFallback.getaddrinfo("b.test", 1, { type: "stream" })), ["192.0.2.2"])
    }),
  )
})

describe("Resolver wrappers", () => {
  it.effect("cached: a maxEntries that is no number (NaN) keeps the default bound, not an unbounded cache", () =>
    Effect.gen(function* () {
      const names: Record<string, Array<string>> = {}
      for (let i = 0; i < 1100; i++) names[`n${i}.test`] = ["192.0.2.1"]
      for (const maxEntries of [Number.NaN, 0.5]) {
        const { seen, service } = counting(names)
        const cached = Resolver.cached(service, { ttl: "1 hour", maxEntries })
        for (let i = 0; i < 1100; i++) yield* cached.getaddrinfo(`n${i}.test`, 80)
        assert.strictEqual(seen.length, 1100)
        // the oldest answer was dropped to keep the bound: asked again, it is looked up again
        yield* cached.getaddrinfo("n0.test", 80)
        assert.strictEqual(seen.length, 1101, `maxEntries ${maxEntries}`)
      }
    }),
  )

  it.effect("cached: answers from the cache until the TTL passes (Effect's Clock), for any port", () =>
    Effect.gen(function* () {
      const { seen, service } = counting({ "a.test": ["192.0.2.1", "2001:db8::1"] })
      const cached = Resolver.cached(service, { ttl: "10 seconds" })
      const first = yield* cached.getaddrinfo("a.test", 80, { type: "stream" })
      const second = yield* cached.getaddrinfo("a.test", 443, { type: "stream" })
      assert.deepStrictEqual(
        second.map((i) => i.address.port),
        [443, 443],
      )
      assert.deepStrictEqual(hosts(first), hosts(second))
      assert.strictEqual(seen.length, 1)
      yield* TestClock.adjust("9 seconds")
      yield* cached.getaddrinfo("a.test", 80, { type: "stream" })
      assert.strictEqual(seen.length, 1)
      yield* TestClock.adjust("2 seconds")
      yield* cached.getaddrinfo("a.test", 80, { type: "stream" })
      assert.strictEqual(seen.length, 2)
      // other options are other entries; failures are not cached
      yield* cached.getaddrinfo("a.test", 80, { type: "stream", family: 4 })
      assert.strictEqual(seen.length, 3)
      yield* Effect.flip(cached.getaddrinfo("b.test", 80))
      yield* Effect.flip(cached.getaddrinfo("b.test", 80))
      assert.strictEqual(seen.length, 5)
    }),
  )

  it.effect("layerCached wraps the Resolver in context", () =>
    Effect.gen(function* () {
      const { seen, service } = counting({ "a.test": "192.0.2.1" })
      const layer = Resolver.layerCached({ ttl: "1 minute" }).pipe(Layer.provide(Resolver.layer(service)))
      yield* Effect.provide(
        Effect.zipRight(Resolver.getaddrinfo("a.test", 1), Resolver.getaddrinfo("a.test", 2)),
        layer,
      )
      assert.deepStrictEqual(seen, ["a.test"])
    }),
  )

  it.effect("logged: every lookup is logged at Debug with its answer", () =>
    Effect.gen(function* () {
      const lines: Array<string> = []
      const logger = Logger.make(({ message }) => {
        lines.push(String(Array.isArray(message) ? message.join(" ") : message))
      })
      const service = Resolver.logged(Resolver.makeStatic({ "a.test": "192.0.2.1" }))
      yield* Effect.gen(function* () {
        yield* service.getaddrinfo("a.test", 80, { type: "stream" })
        yield* Effect.flip(service.getaddrinfo("b.test", 80))
      }).pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger)), Logger.withMinimumLogLevel(LogLevel.Debug))
      assert.strictEqual(lines.length, 2)
      assert.match(lines[0] ?? "", /getaddrinfo a\.test -> 192\.0\.2\.1:80/)
      assert.match(lines[1] ?? "", /getaddrinfo b\.test failed: ENOTFOUND/)
    }),
  )
})

describe("Resolver service names", () => {
  const r = Resolver.makeStatic({ "web.test": ["fd00::8", "10.0.0.8"] })
  const view = (infos: ReadonlyArray<Resolver.AddressInfo>) =>
    infos.map((i) => `${SocketAddress.format(i.address)} ${i.type}`)

  it.effect("a service name is its well-known port, for each socket type that has it", () =>
    Effect.gen(function* () {
      assert.deepStrictEqual(view(yield* Resolver.lookup(r, "web.test", "https", { type: "stream" })), [
        "[fd00::8]:443 stream",
        "10.0.0.8:443 stream",
      ])
      // https exists for TCP and UDP (QUIC): both types, address by address
      assert.deepStrictEqual(view(yield* Resolver.lookup(r, "web.test", "https")), [
        "[fd00::8]:443 stream",
        "[fd00::8]:443 dgram",
        "10.0.0.8:443 stream",
        "10.0.0.8:443 dgram",
      ])
      // ntp is UDP only: the stream results are left out, and asking for streams alone fails
      assert.deepStrictEqual(view(yield* Resolver.lookup(r, "10.0.0.8", "ntp")), ["10.0.0.8:123 dgram"])
      const e = yield* Effect.flip(Resolver.lookup(r, "web.test", "ntp", { type: "stream" }))
      assert.deepStrictEqual([e.code, e.host], ["EAI_SERVICE", "web.test"])
      // aliases; names are case-sensitive, as getservbyname(3)
      assert.deepStrictEqual(view(yield* Resolver.lookup(r, "10.0.0.8", "www", { type: "stream" })), [
        "10.0.0.8:80 stream",
      ])
      assert.strictEqual((yield* Effect.flip(Resolver.lookup(r, "10.0.0.8", "HTTPS"))).code, "EAI_SERVICE")
    }),
  )

  it.effect("numeric services, AI_NUMERICSERV, bad services", () =>
    Effect.gen(function* () {
      assert.deepStrictEqual(view(yield* Resolver.lookup(r, "10.0.0.8", " 8080 ", { type: "stream" })), [
        "10.0.0.8:8080 stream",
      ])
      assert.deepStrictEqual(
        view(yield* Resolver.lookup(r, "10.0.0.8", "8080", { type: "stream", flags: Resolver.AI_NUMERICSERV })),
        ["10.0.0.8:8080 stream"],
      )
      const named = yield* Effect.flip(Resolver.lookup(r, "10.0.0.8", "http", { flags: Resolver.AI_NUMERICSERV }))
      assert.strictEqual(named.code, "EAI_NONAME")
      assert.strictEqual((yield* Effect.flip(Resolver.lookup(r, "10.0.0.8", "70000"))).code, "EAI_SERVICE")
      assert.strictEqual((yield* Effect.flip(Resolver.lookup(r, "10.0.0.8", ""))).code, "EAI_NONAME")
    }),
  )

  it.effect("no host: the loopback addresses, or the wildcards with AI_PASSIVE (getaddrinfo(NULL, ...))", () =>
    Effect.gen(function* () {
      assert.deepStrictEqual(view(yield* Resolver.lookup(r, null, "https", { type: "stream" })), [
        "[::1]:443 stream",
        "127.0.0.1:443 stream",
      ])
      assert.deepStrictEqual(
        view(yield* Resolver.lookup(r, null, 5353, { type: "dgram", flags: Resolver.AI_PASSIVE, family: 4 })),
        ["0.0.0.0:5353 dgram"],
      )
    }),
  )

  it.effect("a resolver's own services database wins; another port per type is looked up per type", () =>
    Effect.gen(function* () {
      const custom = Resolver.make({
        getaddrinfo: r.getaddrinfo,
        getnameinfo: r.getnameinfo,
        getservbyname: (name, protocol) =>
          Effect.succeed(name === "game" ? (protocol === "tcp" ? 7000 : 7001) : undefined),
      })
      assert.deepStrictEqual(view(yield* Resolver.lookup(custom, "web.test", "game")), [
        "[fd00::8]:7000 stream",
        "[fd00::8]:7001 dgram",
        "10.0.0.8:7000 stream",
        "10.0.0.8:7001 dgram",
      ])
      // not in that database: not found, even if the well-known table has it
      assert.strictEqual((yield* Effect.flip(Resolver.lookup(custom, "web.test", "https"))).code, "EAI_SERVICE")
      // the wrappers keep the database
      assert.deepStrictEqual(
        view(
          yield* Resolver.lookup(Resolver.cached(custom, { ttl: "1 minute" }), "10.0.0.8", "game", { type: "dgram" }),
        ),
        ["10.0.0.8:7001 dgram"],
      )
      assert.strictEqual(Resolver.wellKnownService("domain", "udp"), 53)
    }),
  )

  it.effect("the system resolver reads the services database it is given, once, and falls back when it cannot", () =>
    Effect.gen(function* () {
      let reads = 0
      const dns = {
        ADDRCONFIG: 0,
        V4MAPPED: 0,
        ALL: 0,
        lookup: () => {
          throw new Error("no lookup expected")
        },
        lookupService: () => {
          throw new Error("no lookup expected")
        },
      }
      const system = Driver.makeSystemResolver(dns as unknown as Driver.DnsModule, () => {
        reads++
        return Promise.resolve("# local services\nmyapp 9999/tcp app-alias # comment\nhttps 8443/tcp\n")
      })
      assert.deepStrictEqual(view(yield* Resolver.lookup(system, "127.0.0.1", "myapp")), ["127.0.0.1:9999 stream"])
      assert.deepStrictEqual(view(yield* Resolver.lookup(system, "127.0.0.1", "app-alias")), ["127.0.0.1:9999 stream"])
      assert.deepStrictEqual(view(yield* Resolver.lookup(system, "127.0.0.1", "https")), ["127.0.0.1:8443 stream"])
      assert.strictEqual(reads, 1)
      const unreadable = Driver.makeSystemResolver(dns as unknown as Driver.DnsModule, () =>
        Promise.reject(new Error("ENOENT")),
      )
      assert.deepStrictEqual(view(yield* Resolver.lookup(unreadable, "127.0.0.1", "ssh")), ["127.0.0.1:22 stream"])
    }),
  )
})
