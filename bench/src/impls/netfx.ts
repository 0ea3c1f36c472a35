import { type Datagram, type Network, SocketAddress, SocketStream, Tcp, Udp, Unix, UnixDatagram } from "@netfx/core"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Scope from "effect/Scope"
import { type HttpServeOptions, RESPONSE_CLOSE, RequestCounter, responses } from "./http.ts"
import { DATAGRAM_BATCH, type Impl, MAX_SAMPLES, now, type ServerPorts, unixPath } from "./types.ts"

const HOST = "127.0.0.1"
const ONE = new Uint8Array([1])

const portOf = (listener: { readonly address: SocketAddress.SocketAddress }): number =>
  SocketAddress.isIp(listener.address) ? listener.address.port : 0

/** Receives until EOF; `onChunk` sees every chunk. */
const drain = <E>(conn: SocketStream.SocketStream, onChunk: (c: Uint8Array) => Effect.Effect<void, E>) =>
  Effect.gen(function* () {
    while (true) {
      const chunk = yield* Effect.catchTag(conn.receive(), "EndOfStream", () => Effect.succeed(undefined))
      if (chunk === undefined) return
      yield* onChunk(chunk)
    }
  })

/** Ping-pong on one connection until `deadline`; returns the round-trip count. */
const pingLoop = (conn: SocketStream.SocketStream, deadline: number, latencies: Array<number> | undefined) =>
  Effect.gen(function* () {
    let count = 0
    while (true) {
      const t0 = now()
      yield* conn.send(ONE)
      yield* conn.receive()
      const t = now()
      count++
      if (latencies !== undefined && latencies.length < MAX_SAMPLES) latencies.push((t - t0) * 1000)
      if (t >= deadline) return count
    }
  })

/**
 * The datagram sender: `size`-byte datagrams for `millis` in batches of
 * {@link DATAGRAM_BATCH} (`sendMany`, the API for throughput), each batch
 * waiting for the previous one, as the raw senders do.
 */
const sendFor = (socket: Datagram.ConnectedDatagramSocket<unknown>, millis: number, size: number) =>
  Effect.gen(function* () {
    const data = new Uint8Array(size).fill(7)
    const batch = new Array<Uint8Array>(DATAGRAM_BATCH).fill(data)
    const t0 = now()
    const deadline = t0 + millis
    let count = 0
    while (true) {
      yield* socket.sendMany(batch)
      count += DATAGRAM_BATCH
      if (now() >= deadline) break
    }
    return { count, seconds: (now() - t0) / 1000 }
  })

/** The loops written with netfx (`Tcp.listen`/`serve`, `Tcp.connect`, `receive`/`send`), over any runtime layer. */
export const netfx = (name: string, layer: Layer.Layer<Network.Network>): Impl => {
  const runtime = ManagedRuntime.make(layer)
  const run = <A, E>(effect: Effect.Effect<A, E, Network.Network | Scope.Scope>): Promise<A> =>
    runtime.runPromise(Effect.scoped(effect))

  /** Sequential connect cycles for `millis` (accepts, TLS handshakes), each one `cycle()`. */
  const acceptLoop = <E>(millis: number, cycle: () => Effect.Effect<unknown, E, Network.Network>) =>
    run(
      Effect.gen(function* () {
        const t0 = now()
        const deadline = t0 + millis
        let count = 0
        while (now() < deadline) {
          yield* cycle()
          count++
        }
        return { count, seconds: (now() - t0) / 1000 }
      }),
    )

  return {
    name,

    async serve(): Promise<ServerPorts> {
      const scope = await runtime.runPromise(Scope.make())
      const start = <E>(
        handler: (c: SocketStream.SocketStream) => Effect.Effect<unknown, E>,
        path?: string,
      ): Promise<number> =>
        runtime.runPromise(
          Effect.gen(function* () {
            const listener = yield* path === undefined ? Tcp.listen({ host: HOST }) : Unix.listen({ path })
            yield* Effect.forkIn(listener.serve(handler), scope)
            return portOf(listener)
          }).pipe(Scope.extend(scope)),
        )
      const onSink = (conn: SocketStream.SocketStream) =>
        Effect.gen(function* () {
          let received = 0
          yield* drain(conn, (c) => {
            received += c.length
            return Effect.void
          })
          return received
        })
      const sink = await start(onSink)
      // Unix sockets only where the runtime's network has them
      const path = unixPath()
      const unixSink = await start(onSink, path).then(
        () => path,
        () => undefined,
      )
      // the echo as netfx documents it (`SocketStream.pipe`: copies until EOF, then half-closes, as
      // the raw echoes end their side on "end"); ECHO=loop is the hand-written per-chunk loop
      const echo = await start((conn) =>
        process.env.ECHO === "loop" ? drain(conn, (c) => conn.send(c)) : SocketStream.pipe(conn, conn),
      )
      const accept = await start(() => Effect.void)
      return { sink, echo, accept, unixSink }
    },

    bulk: (target, bytes, chunkSize) =>
      run(
        Effect.gen(function* () {
          const conn = yield* "path" in target
            ? Unix.connect({ path: target.path })
            : Tcp.connect({ host: HOST, port: target.port })
          const chunk = new Uint8Array(chunkSize).fill(7)
          const t0 = now()
          let left = bytes
          while (left > 0) {
            const n = Math.min(left, chunkSize)
            left -= n
            yield* conn.send(n === chunkSize ? chunk : chunk.subarray(0, n))
          }
          yield* conn.sendEof
          // the server closes after our EOF
          yield* Effect.either(conn.receive())
          return { count: bytes, seconds: (now() - t0) / 1000 }
        }),
      ),

    pingPong: (port, millis) =>
      run(
        Effect.gen(function* () {
          const conn = yield* Tcp.connect({ host: HOST, port })
          const latencies: Array<number> = []
          const t0 = now()
          const count = yield* pingLoop(conn, t0 + millis, latencies)
          return { count, seconds: (now() - t0) / 1000, latencies }
        }),
      ),

    many: (port, connections, millis) =>
      run(
        Effect.gen(function* () {
          const conns = yield* Effect.forEach(
            Array.from({ length: connections }),
            () => Tcp.connect({ host: HOST, port }),
            { concurrency: "unbounded" },
          )
          const t0 = now()
          const counts = yield* Effect.forEach(conns, (c) => pingLoop(c, t0 + millis, undefined), {
            concurrency: "unbounded",
          })
          return { count: counts.reduce((a, b) => a + b, 0), seconds: (now() - t0) / 1000 }
        }),
      ),

    accept: (port, millis) =>
      acceptLoop(millis, () =>
        Effect.scoped(
          Effect.gen(function* () {
            const conn = yield* Tcp.connect({ host: HOST, port })
            // the server closes at once: wait for its EOF
            yield* Effect.either(conn.receive())
          }),
        ),
      ),

    // the same client as `accept`, written with the bracket connect: no Scope per connection
    acceptBracket: (port, millis) =>
      // the server closes at once: wait for its EOF
      acceptLoop(millis, () => Tcp.withConnection({ host: HOST, port }, (conn) => Effect.either(conn.receive()))),

    async udpSink() {
      let received = 0
      const scope = await runtime.runPromise(Scope.make())
      const socket = await runtime.runPromise(
        Effect.gen(function* () {
          const socket = yield* Udp.bind({ host: HOST, port: 0 })
          // the batched receive: every queued datagram per wake-up
          yield* Effect.forkIn(
            Effect.gen(function* () {
              while (true) received += (yield* socket.receiveMany(1024)).length
            }),
            scope,
          )
          return socket
        }).pipe(Scope.extend(scope)),
      )
      return { port: socket.localAddress.port, received: () => received, dropped: () => Effect.runSync(socket.dropped) }
    },

    async unixDatagramSink(path) {
      let received = 0
      const scope = await runtime.runPromise(Scope.make())
      await runtime.runPromise(
        Effect.gen(function* () {
          const socket = yield* UnixDatagram.bind({ path })
          yield* Effect.forkIn(
            Effect.gen(function* () {
              while (true) received += (yield* socket.receiveMany(1024)).length
            }),
            scope,
          )
        }).pipe(Scope.extend(scope)),
      )
      return { received: async () => received }
    },

    unixDatagramSend: (path, millis, size) =>
      run(Effect.flatMap(UnixDatagram.connect({ path }), (socket) => sendFor(socket, millis, size))),

    udpSend: (port, millis, size) =>
      run(Effect.flatMap(Udp.connect({ host: HOST, port }), (socket) => sendFor(socket, millis, size))),

    async tlsServe(cert, key) {
      const scope = await runtime.runPromise(Scope.make())
      const start = <E>(handler: (c: SocketStream.SocketStream) => Effect.Effect<unknown, E>): Promise<number> =>
        runtime.runPromise(
          Effect.gen(function* () {
            const listener = yield* Tcp.listen({ host: HOST, tls: { cert, key } })
            yield* Effect.forkIn(listener.serve(handler), scope)
            return portOf(listener)
          }).pipe(Scope.extend(scope)),
        )
      const sink = await start((conn) => drain(conn, () => Effect.void))
      const accept = await start(() => Effect.void)
      return { sink, accept }
    },

    tlsBulk: (port, ca, bytes, chunkSize) =>
      run(
        Effect.gen(function* () {
          const conn = yield* Tcp.connect({ host: HOST, port, tls: { ca } })
          const chunk = new Uint8Array(chunkSize).fill(7)
          const t0 = now()
          let left = bytes
          while (left > 0) {
            const n = Math.min(left, chunkSize)
            left -= n
            yield* conn.send(n === chunkSize ? chunk : chunk.subarray(0, n))
          }
          yield* conn.sendEof
          yield* Effect.either(conn.receive())
          return { count: bytes, seconds: (now() - t0) / 1000 }
        }),
      ),

    tlsHandshakes: (port, ca, millis) =>
      acceptLoop(millis, () =>
        Effect.scoped(
          Effect.flatMap(Tcp.connect({ host: HOST, port, tls: { ca } }), (conn) => Effect.either(conn.receive())),
        ),
      ),

    async httpServe(options: HttpServeOptions) {
      const scope = await runtime.runPromise(Scope.make())
      return runtime.runPromise(
        Effect.gen(function* () {
          const listener = yield* Tcp.listen({ host: HOST, port: options.port, reusePort: options.reusePort })
          yield* Effect.forkIn(
            listener.serve((conn) => {
              const counter = new RequestCounter()
              if (options.close) {
                // one request, one answer; serve closes the connection when the handler returns
                return Effect.gen(function* () {
                  while (counter.feed(yield* conn.receive()) === 0) {}
                  yield* conn.send(RESPONSE_CLOSE)
                }).pipe(Effect.catchTags({ EndOfStream: () => Effect.void, BrokenResource: () => Effect.void }))
              }
              return drain(conn, (chunk) => {
                const n = counter.feed(chunk)
                return n === 0 ? Effect.void : conn.send(responses(n))
              }).pipe(
                // wrk resets its connections when it stops: not a server error
                Effect.catchTag("BrokenResource", () => Effect.void),
              )
            }),
            scope,
          )
          return portOf(listener)
        }).pipe(Scope.extend(scope)),
      )
    },

    async idleServer() {
      const scope = await runtime.runPromise(Scope.make())
      let accepted = 0
      const port = await runtime.runPromise(
        Effect.gen(function* () {
          const listener = yield* Tcp.listen({ host: HOST })
          // a typical server: one handler fiber per connection, parked in receive
          yield* Effect.forkIn(
            listener.serve((conn) =>
              Effect.gen(function* () {
                accepted++
                yield* drain(conn, () => Effect.void)
              }),
            ),
            scope,
          )
          return portOf(listener)
        }).pipe(Scope.extend(scope)),
      )
      return { port, accepted: () => accepted }
    },

    async idleOpen(port, connections) {
      const scope = await runtime.runPromise(Scope.make())
      // a typical client: each connection has a fiber parked in receive
      await runtime.runPromise(
        Effect.forEach(
          Array.from({ length: connections }),
          () =>
            Effect.flatMap(Tcp.connect({ host: HOST, port }), (conn) =>
              Effect.forkScoped(drain(conn, () => Effect.void)),
            ),
          { concurrency: 100, discard: true },
        ).pipe(Scope.extend(scope)),
      )
      return () => runtime.runPromise(Scope.close(scope, Exit.void))
    },
  }
}
