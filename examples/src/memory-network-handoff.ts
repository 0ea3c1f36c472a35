/**
 * Testing descriptor passing with `MemoryNetwork`: a front door accepts TCP
 * connections and hands each one to a worker over a Unix socket
 * (`FdPassing.sendFds`, as pre-forking servers do); the worker adopts the
 * connection (`FdPassing.toByteStream`) and answers the client itself.
 *
 * The same code runs on real sockets (`NodeNetwork`) and on the memory
 * network, where the descriptors are virtual: the test checks the replies,
 * the exact virtual time under 20 ms latency, and that no descriptor is
 * left open afterwards. See examples/test/memory-network.test.ts.
 *
 *   tsx examples/src/memory-network-handoff.ts
 */
import { BufferedStream, FdPassing, type Listener, MemoryNetwork, Tcp } from "@netfx/core"
import { NodeNetwork } from "@netfx/node"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as TestClock from "effect/TestClock"
import * as TestContext from "effect/TestContext"
import { decode, encode, isMain } from "./runtime.ts"

/** The front door: every accepted connection goes to the worker; our copy closes when the handler ends. */
export const frontDoor = (listener: Listener.Listener, toWorker: FdPassing.FdStream) =>
  listener.serve((conn) =>
    conn.fd === undefined
      ? Effect.dieMessage("this runtime gives no descriptor for a TCP connection")
      : toWorker.sendFds(encode("conn"), [conn.fd]),
  )

/** Serves one adopted connection: its line, in upper case. */
const answer = (name: string, fd: number) =>
  Effect.gen(function* () {
    const conn = yield* FdPassing.toByteStream(fd)
    const line = decode(yield* BufferedStream.make(conn).receiveLine())
    yield* conn.send(encode(`${name}: ${line.toUpperCase()}\n`))
  }).pipe(Effect.scoped, Effect.ignore)

/** The worker: adopts each passed connection and answers it in a fiber of its own. */
export const worker = (name: string, fromFrontDoor: FdPassing.FdStream) =>
  Effect.forever(
    Effect.scoped(
      Effect.flatMap(fromFrontDoor.receiveFds(16, 1), (message) =>
        // taking the descriptor and handing it to its fiber happen without a gap an
        // interruption could fall into (an untaken descriptor closes with the scope)
        Effect.uninterruptible(
          Effect.flatMap((message.fds[0] as FdPassing.ReceivedFd).take, (fd) =>
            // a child of the worker's fiber: interrupted with it
            Effect.fork(Effect.interruptible(answer(name, fd))),
          ),
        ),
      ),
    ),
  )

/** Starts the front door and one worker; returns the port clients connect to. */
export const startHandoff = Effect.gen(function* () {
  const listener = yield* Tcp.listen({ host: "127.0.0.1", port: 0 })
  const [frontEnd, workerEnd] = yield* FdPassing.socketpair()
  yield* Effect.forkScoped(frontDoor(listener, frontEnd))
  yield* Effect.forkScoped(worker("worker-1", workerEnd))
  return (listener.address as { readonly port: number }).port
})

/** One client request on a fresh connection. */
export const ask = (port: number, line: string) =>
  Effect.gen(function* () {
    const conn = yield* Tcp.connect({ host: "127.0.0.1", port })
    yield* conn.send(encode(`${line}\n`))
    return decode(yield* BufferedStream.make(conn).receiveLine())
  }).pipe(Effect.scoped)

/**
 * On the memory network under `TestClock` with 20 ms latency: the replies,
 * the virtual time of each request (a connect and a round trip: 80 ms),
 * and the open virtual descriptors before and after. Needs `TestServices`.
 */
export const handoffInMemory = Effect.gen(function* () {
  const fiber = yield* Effect.fork(
    Effect.gen(function* () {
      const control = yield* MemoryNetwork.Control
      const port = yield* startHandoff
      yield* control.setFaults({ latency: "20 millis" })
      const before = yield* control.descriptors
      const replies: Array<{ readonly reply: string; readonly millis: number }> = []
      for (const word of ["hello", "handoff"]) {
        const start = yield* Clock.currentTimeMillis
        const reply = yield* ask(port, word)
        replies.push({ reply, millis: (yield* Clock.currentTimeMillis) - start })
      }
      // the connections are closed by now: wait out the FIN exchange, then count
      yield* Effect.sleep("1 second")
      return { replies, descriptorsBefore: before, descriptorsAfter: yield* control.descriptors }
    }).pipe(Effect.scoped, Effect.provide(MemoryNetwork.layer())),
  )
  yield* TestClock.adjust("1 minute")
  return yield* Fiber.join(fiber)
})

/** The same on real sockets (loopback and a Unix socket pair). */
export const handoffOnNode = Effect.gen(function* () {
  const port = yield* startHandoff
  return [yield* ask(port, "hello"), yield* ask(port, "handoff")]
}).pipe(Effect.scoped, Effect.provide(NodeNetwork.layer))

if (isMain(import.meta.url)) {
  Effect.runPromise(
    Effect.all({
      memory: handoffInMemory.pipe(Effect.provide(TestContext.TestContext)),
      node: handoffOnNode,
    }),
  ).then(
    (results) => console.log(JSON.stringify(results, null, 2)),
    (e) => {
      console.error(e)
      process.exitCode = 1
    },
  )
}
