import * as dgram from "node:dgram"
import * as net from "node:net"
import * as tls from "node:tls"
import {
  type HttpServeOptions,
  nodeHasReusePort,
  noReusePort,
  RESPONSE_CLOSE,
  RequestCounter,
  responses,
} from "./http.ts"
import { pythonUnixDatagram } from "./pythonUnixDatagram.ts"
import {
  DATAGRAM_BATCH,
  type Impl,
  MAX_SAMPLES,
  now,
  type ServerPorts,
  type Target,
  type Timed,
  unixPath,
} from "./types.ts"

const HOST = "127.0.0.1"
const ONE = Buffer.from([1])

const listen = (onSocket: (s: net.Socket) => void, path?: string): Promise<net.Server> =>
  new Promise((resolve, reject) => {
    const server = net.createServer({ allowHalfOpen: true, noDelay: true }, onSocket)
    server.once("error", reject)
    server.listen(path === undefined ? { host: HOST, port: 0, backlog: 511 } : { path, backlog: 511 }, () =>
      resolve(server),
    )
  })

const portOf = (server: net.Server): number => (server.address() as net.AddressInfo).port

const connect = (target: Target): Promise<net.Socket> =>
  new Promise((resolve, reject) => {
    const s =
      "path" in target
        ? net.connect({ path: target.path, allowHalfOpen: true })
        : net.connect({ host: HOST, port: target.port, noDelay: true, allowHalfOpen: true })
    s.once("connect", () => {
      s.off("error", reject)
      resolve(s)
    })
    s.once("error", reject)
  })

/** Ping-pong on one connected socket until `deadline`; resolves the round-trip count. */
const pingLoop = (s: net.Socket, deadline: number, latencies: Array<number> | undefined): Promise<number> =>
  new Promise((resolve, reject) => {
    let count = 0
    let t0 = now()
    s.on("error", reject)
    s.on("data", () => {
      const t = now()
      count++
      if (latencies !== undefined && latencies.length < MAX_SAMPLES) latencies.push((t - t0) * 1000)
      if (t >= deadline) {
        s.removeAllListeners("data")
        resolve(count)
        return
      }
      t0 = t
      s.write(ONE)
    })
    s.write(ONE)
  })

/** The same loops written directly on `node:net`. */

/** Writes `bytes` in `chunkSize` writes (honouring backpressure), half-closes, and waits for the peer's end. */
const streamBytes = async (s: net.Socket, bytes: number, chunkSize: number): Promise<Timed> => {
  const chunk = Buffer.alloc(chunkSize, 7)
  const t0 = now()
  await new Promise<void>((resolve, reject) => {
    s.on("error", reject)
    s.once("end", () => resolve())
    s.resume()
    let left = bytes
    const pump = () => {
      while (left > 0) {
        const n = Math.min(left, chunkSize)
        left -= n
        if (!s.write(n === chunkSize ? chunk : chunk.subarray(0, n))) {
          s.once("drain", pump)
          return
        }
      }
      s.end()
    }
    pump()
  })
  const seconds = (now() - t0) / 1000
  s.destroy()
  return { count: bytes, seconds }
}

/** The HTTP server over raw node:net (reusePort needs Node 22.12+). */
export const rawHttpServe = (options: HttpServeOptions): Promise<number> =>
  options.reusePort && !nodeHasReusePort
    ? noReusePort()
    : new Promise((resolve, reject) => {
        const server = net.createServer({ noDelay: true }, (socket) => {
          const counter = new RequestCounter()
          socket.on("error", () => {})
          socket.on("data", (chunk: Buffer) => {
            const n = counter.feed(chunk)
            if (n === 0) return
            if (options.close) socket.end(RESPONSE_CLOSE)
            else socket.write(responses(n))
          })
        })
        server.once("error", reject)
        server.listen({ host: HOST, port: options.port, ...(options.reusePort ? { reusePort: true } : {}) }, () => {
          const address = server.address()
          resolve(typeof address === "object" && address !== null ? address.port : 0)
        })
      })

export const rawNode: Impl = {
  ...pythonUnixDatagram,
  name: "raw node:net",

  async serve(): Promise<ServerPorts> {
    const onSink = (s: net.Socket) => {
      s.on("data", () => {})
      s.on("end", () => {
        s.end()
      })
      s.on("error", () => {})
    }
    const sink = await listen(onSink)
    const unixSink = unixPath()
    await listen(onSink, unixSink)
    const echo = await listen((s) => {
      s.on("data", (d: Buffer) => s.write(d))
      s.on("end", () => s.end())
      s.on("error", () => {})
    })
    const accept = await listen((s) => {
      s.on("error", () => {})
      s.destroy()
    })
    return { sink: portOf(sink), echo: portOf(echo), accept: portOf(accept), unixSink }
  },

  async bulk(target, bytes, chunkSize): Promise<Timed> {
    const s = await connect(target)
    return streamBytes(s, bytes, chunkSize)
  },

  async pingPong(port, millis) {
    const s = await connect({ port })
    const latencies: Array<number> = []
    const t0 = now()
    const count = await pingLoop(s, t0 + millis, latencies)
    const seconds = (now() - t0) / 1000
    s.destroy()
    return { count, seconds, latencies }
  },

  async many(port, connections, millis) {
    const sockets = await Promise.all(Array.from({ length: connections }, () => connect({ port })))
    const t0 = now()
    const counts = await Promise.all(sockets.map((s) => pingLoop(s, t0 + millis, undefined)))
    const seconds = (now() - t0) / 1000
    for (const s of sockets) s.destroy()
    return { count: counts.reduce((a, b) => a + b, 0), seconds }
  },

  async accept(port, millis) {
    const t0 = now()
    const deadline = t0 + millis
    let count = 0
    while (now() < deadline) {
      await new Promise<void>((resolve, reject) => {
        const s = net.connect({ host: HOST, port, noDelay: true })
        s.once("error", reject)
        s.once("close", () => resolve())
        s.resume()
      })
      count++
    }
    return { count, seconds: (now() - t0) / 1000 }
  },

  async udpSink() {
    let received = 0
    const socket = dgram.createSocket("udp4")
    socket.on("message", () => {
      received++
    })
    await new Promise<void>((resolve) => socket.bind(0, HOST, () => resolve()))
    return { port: socket.address().port, received: () => received }
  },

  async udpSend(port, millis, size) {
    const socket = dgram.createSocket("udp4")
    await new Promise<void>((resolve) => socket.connect(port, HOST, () => resolve()))
    const data = Buffer.alloc(size, 7)
    const t0 = now()
    const deadline = t0 + millis
    let count = 0
    // batches of DATAGRAM_BATCH, each waiting for the previous one's callbacks (as netfx's sendMany)
    await new Promise<void>((resolve, reject) => {
      let left = 0
      const batch = () => {
        left = DATAGRAM_BATCH
        for (let i = 0; i < DATAGRAM_BATCH; i++) socket.send(data, done)
      }
      const done = (error: Error | null) => {
        if (error) return reject(error)
        count++
        if (--left > 0) return
        if (now() >= deadline) resolve()
        else batch()
      }
      batch()
    })
    const seconds = (now() - t0) / 1000
    socket.close()
    return { count, seconds }
  },

  async tlsServe(cert, key) {
    const listenTls = (onSocket: (s: tls.TLSSocket) => void): Promise<number> =>
      new Promise((resolve, reject) => {
        const server = tls.createServer({ cert, key, allowHalfOpen: true }, onSocket)
        server.once("error", reject)
        server.listen({ host: HOST, port: 0 }, () => resolve((server.address() as net.AddressInfo).port))
      })
    const sink = await listenTls((s) => {
      s.on("data", () => {})
      s.on("end", () => s.end())
      s.on("error", () => {})
    })
    const accept = await listenTls((s) => {
      s.on("error", () => {})
      s.end()
    })
    return { sink, accept }
  },

  async tlsBulk(port, ca, bytes, chunkSize) {
    const s = await new Promise<tls.TLSSocket>((resolve, reject) => {
      const socket = tls.connect({ host: HOST, port, ca, allowHalfOpen: true }, () => resolve(socket))
      socket.once("error", reject)
    })
    return streamBytes(s, bytes, chunkSize)
  },

  async tlsHandshakes(port, ca, millis) {
    const t0 = now()
    const deadline = t0 + millis
    let count = 0
    while (now() < deadline) {
      await new Promise<void>((resolve, reject) => {
        const s = tls.connect({ host: HOST, port, ca })
        s.once("error", reject)
        s.once("close", () => resolve())
        s.resume()
      })
      count++
    }
    return { count, seconds: (now() - t0) / 1000 }
  },

  httpServe: rawHttpServe,

  async idleServer() {
    let accepted = 0
    const server = await listen((s) => {
      s.on("data", () => {})
      s.on("end", () => s.end())
      s.on("error", () => {})
      accepted++
    })
    return { port: portOf(server), accepted: () => accepted }
  },

  async idleOpen(port, connections) {
    const clients: Array<net.Socket> = []
    for (let i = 0; i < connections; i += 100) {
      const batch = await Promise.all(Array.from({ length: Math.min(100, connections - i) }, () => connect({ port })))
      for (const c of batch) {
        c.on("data", () => {})
        c.on("error", () => {})
        clients.push(c)
      }
    }
    return async () => {
      for (const c of clients) c.destroy()
    }
  },
}
