import * as dgram from "node:dgram"
import { assert, describe, it } from "@effect/vitest"
import { SocketAddress } from "@netfx/core"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as native from "../src/internal/native.ts"
import { type DirectSend, NodeUdpSocket } from "../src/internal/udp.ts"

// The Node UDP adapter sends on the descriptor through the addon and falls
// back to node:dgram when the kernel says "not now" (EAGAIN). A loopback
// send hardly ever meets EAGAIN, so these tests stand a recording
// DirectSend in front of the addon's to choose what the kernel says.

const EAGAIN = -11
const EMSGSIZE = -90

const real = (): DirectSend => {
  const a = native.addon()
  const send = a.binding?.sendtoAny
  if (send === undefined) throw new Error(`the @netfx/native addon is needed: ${a.loadError ?? "no sendtoAny"}`)
  return { send: send.bind(a.binding), errnoName: a.errnoName }
}

/** A dgram socket on 127.0.0.1, bound (and connected to `peer` when given), closed with the scope. */
const socket = (peer?: number): Effect.Effect<dgram.Socket, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.async<dgram.Socket>((resume) => {
      const s = dgram.createSocket("udp4")
      s.bind(0, "127.0.0.1", () => {
        if (peer === undefined) resume(Effect.succeed(s))
        else s.connect(peer, "127.0.0.1", () => resume(Effect.succeed(s)))
      })
    }),
    (s) => Effect.sync(() => s.close()),
  )

/** Collects the first byte of the next `n` datagrams `s` receives. */
const collect = (s: dgram.Socket, n: number): Promise<Array<number>> =>
  new Promise((resolve) => {
    const got: Array<number> = []
    s.on("message", (m) => {
      got.push(m[0] as number)
      if (got.length === n) resolve(got)
    })
  })

type Outcome = { readonly code: string; readonly syscall?: string | undefined } | undefined

const send = (raw: NodeUdpSocket, byte: number, to?: SocketAddress.Ipv4): Promise<Outcome> =>
  new Promise((resolve) => raw.send(new Uint8Array([byte]), to, resolve))

describe("Node UDP adapter: sends on the descriptor, node:dgram when the kernel says not now", () => {
  it.scoped("after an EAGAIN, later sends queue behind node:dgram's until it called back: order kept", () =>
    Effect.gen(function* () {
      const receiver = yield* socket()
      const port = receiver.address().port
      const sender = yield* socket(port)
      const through = real()
      const direct: Array<number> = []
      let first = true
      const raw = new NodeUdpSocket(sender, {
        errnoName: through.errnoName,
        send: (fd, data, address) => {
          direct.push(data[0] as number)
          if (first) {
            first = false
            return EAGAIN
          }
          return through.send(fd, data, address)
        },
      })
      const arrived = collect(receiver, 4)
      // 1 meets EAGAIN and goes through node:dgram; 2 and 3 are sent before it
      // called back, so they must not overtake it on the descriptor
      const sent = [send(raw, 1), send(raw, 2), send(raw, 3)]
      assert.deepStrictEqual(yield* Effect.promise(() => Promise.all(sent)), [undefined, undefined, undefined])
      assert.deepStrictEqual(direct, [1])
      // nothing in flight any more: the descriptor again
      assert.strictEqual(yield* Effect.promise(() => send(raw, 4)), undefined)
      assert.deepStrictEqual(direct, [1, 4])
      assert.deepStrictEqual(yield* Effect.promise(() => arrived), [1, 2, 3, 4])
    }),
  )

  it.scoped("a failed direct send reports its errno at once; sendTo goes to the address given", () =>
    Effect.gen(function* () {
      const receiver = yield* socket()
      const to = SocketAddress.ipv4("127.0.0.1", receiver.address().port)
      const through = real()
      let fail = true
      const raw = new NodeUdpSocket(yield* socket(), {
        errnoName: through.errnoName,
        send: (fd, data, address) => (fail ? EMSGSIZE : through.send(fd, data, address)),
      })
      let outcome: Outcome | "pending" = "pending"
      raw.send(new Uint8Array([1]), to, (o) => {
        outcome = o
      })
      // called back before send returned: no tick in between
      const failed = outcome as Outcome | "pending"
      assert.isTrue(failed !== "pending" && failed?.code === "EMSGSIZE" && failed.syscall === "send")
      fail = false
      const arrived = collect(receiver, 1)
      assert.strictEqual(yield* Effect.promise(() => send(raw, 2, to)), undefined)
      assert.deepStrictEqual(yield* Effect.promise(() => arrived), [2])
    }),
  )

  it.scoped("without the addon every datagram goes through node:dgram", () =>
    Effect.gen(function* () {
      const receiver = yield* socket()
      const raw = new NodeUdpSocket(yield* socket(receiver.address().port), undefined)
      const arrived = collect(receiver, 3)
      const sent = [send(raw, 1), send(raw, 2), send(raw, 3)]
      assert.deepStrictEqual(yield* Effect.promise(() => Promise.all(sent)), [undefined, undefined, undefined])
      assert.deepStrictEqual(yield* Effect.promise(() => arrived), [1, 2, 3])
    }),
  )
})
