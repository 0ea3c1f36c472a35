import * as dgram from "node:dgram"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import { Worker } from "node:worker_threads"
import { assert, describe, it } from "@effect/vitest"
import { SocketAddress } from "@netfx/core"
import type * as Driver from "@netfx/core/Driver"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as native from "../src/internal/native.ts"
import { NativeReceiver } from "../src/internal/udp.ts"

// The Node UDP adapter receives through the addon in batches (recvmmsg on a
// duplicate of the descriptor) instead of node:dgram's one `message` event
// per datagram. These tests drive NativeReceiver on a real dgram socket.

type Got = { readonly data: Uint8Array; readonly address: SocketAddress.Ipv4 | SocketAddress.Ipv6 }

/** Handlers that record what arrives; `until(n)` resolves once `n` datagrams (or an error) came. */
const recorder = () => {
  const got: Array<Got> = []
  const errors: Array<{ readonly code: string; readonly syscall?: string | undefined }> = []
  const waiting: Array<{ readonly n: number; readonly resolve: () => void }> = []
  const check = () => {
    for (const w of [...waiting])
      if (got.length >= w.n || errors.length > 0) {
        waiting.splice(waiting.indexOf(w), 1)
        w.resolve()
      }
  }
  const handlers: Driver.UdpHandlers = {
    onMessage: (data, address) => {
      got.push({ data, address })
      check()
    },
    onError: (error) => {
      errors.push(error)
      check()
    },
  }
  const until = (n: number) =>
    Effect.promise(
      () =>
        new Promise<void>((resolve) => {
          waiting.push({ n, resolve })
          check()
        }),
    )
  return { got, errors, until, handlers }
}

/** A dgram socket bound on `host`, closed with the scope. */
const socket = (type: "udp4" | "udp6", host: string): Effect.Effect<dgram.Socket, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.async<dgram.Socket>((resume) => {
      const s = dgram.createSocket(type)
      s.bind(0, host, () => resume(Effect.succeed(s)))
    }),
    (s) => Effect.sync(() => s.close()),
  )

const start = (s: dgram.Socket, handlers: Driver.UdpHandlers) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const r = NativeReceiver.start(s, handlers)
      if (r === undefined) throw new Error("the @netfx/native addon with udpRecvStart is needed for this test")
      return r
    }),
    (r) => Effect.sync(() => r.stop()),
  )

const sendAll = (from: dgram.Socket, port: number, host: string, datagrams: Array<Uint8Array>) =>
  Effect.promise(async () => {
    for (const d of datagrams) await new Promise<void>((resolve) => from.send(d, port, host, () => resolve()))
  })

const openFds = () => fs.readdirSync("/proc/self/fd").length

describe("Node UDP adapter: batched receive through the addon", () => {
  it.scoped(
    "every datagram in order, bytes intact (empty, around the sharing bound, the largest), senders across batches",
    () =>
      Effect.gen(function* () {
        const receiver = yield* socket("udp4", "127.0.0.1")
        const port = receiver.address().port
        const a = yield* socket("udp4", "127.0.0.1")
        const b = yield* socket("udp4", "127.0.0.1")
        // 150 small datagrams (more than two batches of 64; small enough that
        // the kernel queues them all) queued before the receiver starts,
        // from two senders in runs of uneven length; then larger ones around
        // the sharing bound and the largest, sent once it runs
        const plan: Array<{ from: "a" | "b"; data: Uint8Array }> = []
        const datagram = (i: number, size: number) => {
          const data = new Uint8Array(size)
          for (let k = 0; k < size; k++) data[k] = (i + k) & 0xff
          return data
        }
        for (let i = 0; i < 150; i++) plan.push({ from: i % 7 < 4 ? "a" : "b", data: datagram(i, i % 5 === 0 ? 0 : i) })
        for (const p of plan) yield* sendAll(p.from === "a" ? a : b, port, "127.0.0.1", [p.data])
        const later = [2047, 2048, 2049, 9000, 65507].map((size, i) => ({
          from: i % 2 === 0 ? ("a" as const) : ("b" as const),
          data: datagram(i, size),
        }))
        plan.push(...later)
        const r = recorder()
        // node:dgram's own receiving is stopped: it must see nothing
        let dgramSaw = 0
        receiver.on("message", () => dgramSaw++)
        yield* start(receiver, r.handlers)
        yield* r.until(150)
        // one at a time: the kernel drops a 64 KiB datagram when others still fill the receive buffer
        for (const p of later) {
          yield* sendAll(p.from === "a" ? a : b, port, "127.0.0.1", [p.data])
          yield* r.until(r.got.length + 1)
        }
        assert.strictEqual(r.got.length, plan.length)
        const portOf = { a: a.address().port, b: b.address().port }
        for (let i = 0; i < plan.length; i++) {
          const p = plan[i]!
          const g = r.got[i]!
          assert.deepStrictEqual(Buffer.from(g.data), Buffer.from(p.data), `datagram ${i}`)
          assert.deepStrictEqual(g.address, SocketAddress.ipv4("127.0.0.1", portOf[p.from]), `sender of ${i}`)
        }
        // a sender is one object while it does not change
        assert.strictEqual(r.got[0]!.address, r.got[1]!.address)
        // a large datagram is its own copy, a small one a view of its batch
        const bySize = (n: number) => r.got.find((g) => g.data.length === n)!.data
        assert.strictEqual(bySize(65507).buffer.byteLength, 65507)
        assert.notStrictEqual(bySize(2049).buffer, bySize(2048).buffer)
        assert.strictEqual(bySize(148).buffer, bySize(149).buffer)
        assert.strictEqual(dgramSaw, 0)
        assert.deepStrictEqual(r.errors, [])
      }),
  )

  it.scoped("IPv6: sender addresses as node:dgram gives them", () =>
    Effect.gen(function* () {
      const receiver = yield* socket("udp6", "::1")
      const sender = yield* socket("udp6", "::1")
      const r = recorder()
      yield* start(receiver, r.handlers)
      yield* sendAll(sender, receiver.address().port, "::1", [new Uint8Array([1]), new Uint8Array([2, 3])])
      yield* r.until(2)
      assert.deepStrictEqual(
        r.got.map((g) => [...g.data]),
        [[1], [2, 3]],
      )
      assert.deepStrictEqual(r.got[1]!.address, SocketAddress.ipv6("::1", sender.address().port))
    }),
  )

  it.scoped("an ICMP error on a connected socket arrives as recvmsg ECONNREFUSED; receiving goes on", () =>
    Effect.gen(function* () {
      const receiver = yield* socket("udp4", "127.0.0.1")
      // a port nobody listens on: bind one and close it
      const gone = yield* Effect.promise(
        () =>
          new Promise<number>((resolve) => {
            const s = dgram.createSocket("udp4")
            s.bind(0, "127.0.0.1", () => {
              const p = s.address().port
              s.close(() => resolve(p))
            })
          }),
      )
      yield* Effect.promise(() => new Promise<void>((resolve) => receiver.connect(gone, "127.0.0.1", resolve)))
      const r = recorder()
      yield* start(receiver, r.handlers)
      yield* Effect.promise(() => new Promise<void>((resolve) => receiver.send(new Uint8Array([1]), () => resolve())))
      yield* r.until(1)
      assert.deepStrictEqual(
        r.errors.map((e) => [e.code, e.syscall]),
        [["ECONNREFUSED", "recvmsg"]],
      )
    }),
  )

  it.scoped("stop: no datagram after it, and the duplicate descriptor is closed at once", () =>
    Effect.gen(function* () {
      const receiver = yield* socket("udp4", "127.0.0.1")
      const sender = yield* socket("udp4", "127.0.0.1")
      const before = openFds()
      const r = recorder()
      const native = NativeReceiver.start(receiver, r.handlers)!
      assert.strictEqual(openFds(), before + 1)
      yield* sendAll(sender, receiver.address().port, "127.0.0.1", [new Uint8Array([1])])
      yield* r.until(1)
      native.stop()
      native.stop()
      assert.strictEqual(openFds(), before)
      // node:dgram receives again: the next datagram goes to it, not to the stopped receiver
      const key = Object.getOwnPropertySymbols(receiver).find((k) => k.description === "state symbol")!
      const handle = (receiver as unknown as Record<symbol, { handle: { recvStart(): number } }>)[key]!.handle
      assert.strictEqual(handle.recvStart(), 0)
      const toDgram = new Promise<Buffer>((resolve) => receiver.once("message", resolve))
      yield* sendAll(sender, receiver.address().port, "127.0.0.1", [new Uint8Array([2])])
      assert.deepStrictEqual([...(yield* Effect.promise(() => toDgram))], [2])
      assert.strictEqual(r.got.length, 1)
    }),
  )

  it.live("in a worker thread the addon declines (ENOSYS), so node:dgram receives there", () =>
    Effect.gen(function* () {
      // the addon's readiness state belongs to the environment that loaded it first (this one)
      assert.isDefined(native.addon().binding)
      const addonPath = createRequire(import.meta.url).resolve("@netfx/native")
      const code = `
        const { parentPort } = require("node:worker_threads")
        const a = require(${JSON.stringify(addonPath)})
        const b = a.binding
        const fd = b.socketAny(4, b.constants.SOCK_DGRAM)
        b.bindAny(fd, { family: 4, host: "127.0.0.1", port: 0 })
        const r = b.udpRecvStart(fd, () => {}, new Int32Array(128))
        b.close(fd)
        parentPort.postMessage(typeof r === "number" ? a.errnoName(r) : "started")
      `
      const answer = yield* Effect.async<string, Error>((resume) => {
        const w = new Worker(code, { eval: true })
        w.once("message", (m: string) => resume(Effect.succeed(m)))
        w.once("error", (e) => resume(Effect.fail(e)))
        return Effect.promise(() => w.terminate())
      })
      assert.strictEqual(answer, "ENOSYS")
    }),
  )
})
