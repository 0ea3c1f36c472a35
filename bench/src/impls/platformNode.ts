import * as Socket from "@effect/platform/Socket"
import type * as SocketServer from "@effect/platform/SocketServer"
import * as NodeSocket from "@effect/platform-node/NodeSocket"
import * as NodeSocketServer from "@effect/platform-node/NodeSocketServer"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Queue from "effect/Queue"
import * as Scope from "effect/Scope"
import { type Impl, MAX_SAMPLES, now, type ServerPorts, type Target, unixPath } from "./types.ts"

const HOST = "127.0.0.1"
const ONE = new Uint8Array([1])

const tcpPort = (address: SocketServer.Address): number => (address._tag === "TcpAddress" ? address.port : 0)

/**
 * A connected `NodeSocket` with its reader running: incoming chunks go to an
 * unbounded queue (the handler returns no effect, so no fiber per chunk).
 */
const connected = (target: Target) =>
  Effect.gen(function* () {
    const socket = yield* NodeSocket.makeNet(
      "path" in target
        ? { path: target.path, allowHalfOpen: true }
        : { host: HOST, port: target.port, noDelay: true, allowHalfOpen: true },
    )
    const inbox = yield* Queue.unbounded<Uint8Array>()
    const opened = yield* Deferred.make<void>()
    const reader = yield* Effect.forkScoped(
      socket.run(
        (chunk) => {
          Queue.unsafeOffer(inbox, chunk)
        },
        { onOpen: Deferred.succeed(opened, undefined) },
      ),
    )
    yield* Deferred.await(opened)
    const write = yield* socket.writer
    return { socket, write, inbox, reader }
  })

const pingLoop = (
  conn: Effect.Effect.Success<ReturnType<typeof connected>>,
  deadline: number,
  latencies: Array<number> | undefined,
) =>
  Effect.gen(function* () {
    let count = 0
    while (true) {
      const t0 = now()
      yield* conn.write(ONE)
      yield* Queue.take(conn.inbox)
      const t = now()
      count++
      if (latencies !== undefined && latencies.length < MAX_SAMPLES) latencies.push((t - t0) * 1000)
      if (t >= deadline) return count
    }
  })

/** The loops written with `@effect/platform-node` `NodeSocket` / `NodeSocketServer` (Effect 3). */
export const platformNode: Impl = {
  name: "@effect/platform-node NodeSocket",

  async serve(): Promise<ServerPorts> {
    const scope = await Effect.runPromise(Scope.make())
    const start = <E>(handler: (socket: Socket.Socket) => Effect.Effect<unknown, E>, path?: string) =>
      Effect.runPromise(
        Effect.gen(function* () {
          const server = yield* NodeSocketServer.make(
            path === undefined
              ? { host: HOST, port: 0, allowHalfOpen: true, noDelay: true }
              : { path, allowHalfOpen: true },
          )
          yield* Effect.forkIn(server.run(handler), scope)
          return tcpPort(server.address)
        }).pipe(Scope.extend(scope)),
      )
    const onSink = (socket: Socket.Socket) =>
      Effect.gen(function* () {
        let received = 0
        // ends with the client's EOF; the handler's end closes the connection
        yield* socket.run((chunk) => {
          received += chunk.length
        })
        return received
      })
    const sink = await start(onSink)
    const unixSink = unixPath()
    await start(onSink, unixSink)
    const echo = await start((socket) =>
      Effect.scoped(
        Effect.gen(function* () {
          const write = yield* socket.writer
          yield* socket.run((chunk) => write(chunk))
        }),
      ),
    )
    // accept and close at once: a close event written as soon as the socket is open
    const accept = await start((socket) =>
      Effect.scoped(
        Effect.gen(function* () {
          const write = yield* socket.writer
          yield* Effect.either(socket.run(() => {}, { onOpen: Effect.ignore(write(new Socket.CloseEvent(1000))) }))
        }),
      ),
    )
    return { sink, echo, accept, unixSink }
  },

  bulk: (target, bytes, chunkSize) =>
    Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const conn = yield* connected(target)
          const chunk = new Uint8Array(chunkSize).fill(7)
          const t0 = now()
          // a writer of its own: releasing it half-closes (socket.end())
          yield* Effect.scoped(
            Effect.gen(function* () {
              const write = yield* conn.socket.writer
              let left = bytes
              while (left > 0) {
                const n = Math.min(left, chunkSize)
                left -= n
                yield* write(n === chunkSize ? chunk : chunk.subarray(0, n))
              }
            }),
          )
          // the reader ends with the server's close
          yield* Fiber.await(conn.reader)
          return { count: bytes, seconds: (now() - t0) / 1000 }
        }),
      ),
    ),

  pingPong: (port, millis) =>
    Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const conn = yield* connected({ port })
          const latencies: Array<number> = []
          const t0 = now()
          const count = yield* pingLoop(conn, t0 + millis, latencies)
          return { count, seconds: (now() - t0) / 1000, latencies }
        }),
      ),
    ),

  many: (port, connections, millis) =>
    Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const conns = yield* Effect.forEach(Array.from({ length: connections }), () => connected({ port }), {
            concurrency: "unbounded",
          })
          const t0 = now()
          const counts = yield* Effect.forEach(conns, (c) => pingLoop(c, t0 + millis, undefined), {
            concurrency: "unbounded",
          })
          return { count: counts.reduce((a, b) => a + b, 0), seconds: (now() - t0) / 1000 }
        }),
      ),
    ),

  accept: (port, millis) =>
    Effect.runPromise(
      Effect.gen(function* () {
        const t0 = now()
        const deadline = t0 + millis
        let count = 0
        while (now() < deadline) {
          yield* Effect.scoped(
            Effect.gen(function* () {
              const socket = yield* NodeSocket.makeNet({ host: HOST, port, noDelay: true })
              // runs until the server's close
              yield* Effect.either(socket.run(() => {}))
            }),
          )
          count++
        }
        return { count, seconds: (now() - t0) / 1000 }
      }),
    ),

  async idleServer() {
    const scope = await Effect.runPromise(Scope.make())
    let accepted = 0
    const port = await Effect.runPromise(
      Effect.gen(function* () {
        const server = yield* NodeSocketServer.make({ host: HOST, port: 0, noDelay: true })
        yield* Effect.forkIn(
          server.run((socket) =>
            socket.run(() => {}, {
              onOpen: Effect.sync(() => {
                accepted++
              }),
            }),
          ),
          scope,
        )
        return tcpPort(server.address)
      }).pipe(Scope.extend(scope)),
    )
    return { port, accepted: () => accepted }
  },

  async idleOpen(port, connections) {
    const scope = await Effect.runPromise(Scope.make())
    await Effect.runPromise(
      Effect.forEach(Array.from({ length: connections }), () => connected({ port }), {
        concurrency: 100,
        discard: true,
      }).pipe(Scope.extend(scope)),
    )
    return () => Effect.runPromise(Scope.close(scope, Exit.void))
  },
}
