import type { Socket } from "bun"
import { type HttpServeOptions, RESPONSE_CLOSE, RequestCounter, responses } from "./http.ts"
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
const ONE = new Uint8Array([1])

interface ClientState {
  onData: (data: Uint8Array) => void
  onDrain: () => void
  onClose: () => void
  closed: boolean
}

type ServerSocket = Socket<{ n: number }>

const listen = (
  handlers: {
    open?: (s: ServerSocket) => void
    data?: (s: ServerSocket, d: Uint8Array) => void
    end?: (s: ServerSocket) => void
  },
  path?: string,
): { readonly port: number } => {
  const socket = {
    open(s: ServerSocket) {
      s.data = { n: 0 }
      if (path === undefined) s.setNoDelay(true)
      handlers.open?.(s)
    },
    data(s: ServerSocket, d: Uint8Array) {
      handlers.data?.(s, d)
    },
    end(s: ServerSocket) {
      handlers.end?.(s)
    },
    error() {},
  }
  if (path !== undefined) {
    Bun.listen<{ n: number }>({ unix: path, allowHalfOpen: true, socket })
    return { port: 0 }
  }
  return Bun.listen<{ n: number }>({ hostname: HOST, port: 0, allowHalfOpen: true, socket })
}

const connect = (target: Target): Promise<Socket<ClientState>> => {
  const state: ClientState = { onData: () => {}, onDrain: () => {}, onClose: () => {}, closed: false }
  const socket = {
    open(s: Socket<ClientState>) {
      if (!("path" in target)) s.setNoDelay(true)
    },
    data(s: Socket<ClientState>, d: Uint8Array) {
      s.data.onData(d)
    },
    drain(s: Socket<ClientState>) {
      s.data.onDrain()
    },
    end(s: Socket<ClientState>) {
      // clients never send after the server's EOF
      s.end()
    },
    close(s: Socket<ClientState>) {
      s.data.closed = true
      s.data.onClose()
    },
    error() {},
  }
  return "path" in target
    ? Bun.connect<ClientState>({ unix: target.path, allowHalfOpen: true, data: state, socket })
    : Bun.connect<ClientState>({ hostname: HOST, port: target.port, allowHalfOpen: true, data: state, socket })
}

const pingLoop = (s: Socket<ClientState>, deadline: number, latencies: Array<number> | undefined): Promise<number> =>
  new Promise((resolve) => {
    let count = 0
    let t0 = now()
    s.data.onData = () => {
      const t = now()
      count++
      if (latencies !== undefined && latencies.length < MAX_SAMPLES) latencies.push((t - t0) * 1000)
      if (t >= deadline) {
        s.data.onData = () => {}
        resolve(count)
        return
      }
      t0 = t
      s.write(ONE)
    }
    s.write(ONE)
  })

/** The same loops written directly on `Bun.listen` / `Bun.connect` (run under bun). */
export const rawBun: Impl = {
  ...pythonUnixDatagram,
  name: "raw Bun",

  async serve(): Promise<ServerPorts> {
    const sink = listen({
      data(s, d) {
        s.data.n += d.length
      },
      end(s) {
        s.end()
      },
    })
    const echo = listen({
      // 1-byte messages: a partial write cannot happen, so no drain handling
      data(s, d) {
        s.write(d)
      },
      end(s) {
        s.end()
      },
    })
    const accept = listen({
      open(s) {
        s.end()
      },
    })
    const unixSink = unixPath()
    listen(
      {
        data(s, d) {
          s.data.n += d.length
        },
        end(s) {
          s.end()
        },
      },
      unixSink,
    )
    return { sink: sink.port, echo: echo.port, accept: accept.port, unixSink }
  },

  async bulk(target, bytes, chunkSize): Promise<Timed> {
    const s = await connect(target)
    const chunk = new Uint8Array(chunkSize).fill(7)
    const t0 = now()
    await new Promise<void>((resolve) => {
      s.data.onClose = () => resolve()
      let left = bytes
      let pending: Uint8Array | undefined
      const pump = () => {
        while (pending !== undefined || left > 0) {
          let buf = pending
          if (buf === undefined) {
            const n = Math.min(left, chunkSize)
            left -= n
            buf = n === chunkSize ? chunk : chunk.subarray(0, n)
          }
          const wrote = s.write(buf)
          if (wrote < buf.length) {
            pending = buf.subarray(Math.max(0, wrote))
            return
          }
          pending = undefined
        }
        s.data.onDrain = () => {}
        s.shutdown()
      }
      s.data.onDrain = pump
      pump()
    })
    const seconds = (now() - t0) / 1000
    s.end()
    return { count: bytes, seconds }
  },

  async pingPong(port, millis) {
    const s = await connect({ port })
    const latencies: Array<number> = []
    const t0 = now()
    const count = await pingLoop(s, t0 + millis, latencies)
    const seconds = (now() - t0) / 1000
    s.end()
    return { count, seconds, latencies }
  },

  async many(port, connections, millis) {
    const sockets = await Promise.all(Array.from({ length: connections }, () => connect({ port })))
    const t0 = now()
    const counts = await Promise.all(sockets.map((s) => pingLoop(s, t0 + millis, undefined)))
    const seconds = (now() - t0) / 1000
    for (const s of sockets) s.end()
    return { count: counts.reduce((a, b) => a + b, 0), seconds }
  },

  async accept(port, millis) {
    const t0 = now()
    const deadline = t0 + millis
    let count = 0
    while (now() < deadline) {
      const s = await connect({ port })
      await new Promise<void>((resolve) => {
        if (s.data.closed) resolve()
        else s.data.onClose = resolve
      })
      count++
    }
    return { count, seconds: (now() - t0) / 1000 }
  },

  async udpSink() {
    let received = 0
    const socket = await Bun.udpSocket({
      hostname: HOST,
      port: 0,
      socket: {
        data() {
          received++
        },
      },
    })
    return { port: socket.port, received: () => received }
  },

  async udpSend(port, millis, size) {
    let drained: (() => void) | undefined
    const socket = await Bun.udpSocket({
      connect: { hostname: HOST, port },
      socket: {
        drain() {
          drained?.()
        },
      },
    })
    const data = new Uint8Array(size).fill(7)
    const t0 = now()
    const deadline = t0 + millis
    let count = 0
    // Bun's send is synchronous: false means the kernel buffer is full, wait for drain
    while (true) {
      if (socket.send(data)) count++
      else await new Promise<void>((resolve) => (drained = resolve))
      if (count % DATAGRAM_BATCH === 0) {
        if (now() >= deadline) break
        // a batch sent: let the event loop breathe, as an awaited sendMany would
        await new Promise((r) => setImmediate(r))
      }
    }
    const seconds = (now() - t0) / 1000
    socket.close()
    return { count, seconds }
  },

  async httpServe(options: HttpServeOptions) {
    const listenOptions: Bun.TCPSocketListenOptions<{ counter: RequestCounter }> & { reusePort?: boolean } = {
      hostname: HOST,
      port: options.port,
      socket: {
        open(s) {
          s.data = { counter: new RequestCounter() }
          s.setNoDelay(true)
        },
        data(s, d) {
          const n = s.data.counter.feed(d)
          if (n === 0) return
          if (options.close) s.end(RESPONSE_CLOSE)
          else s.write(responses(n))
        },
        error() {},
      },
    }
    // SO_REUSEPORT: Bun.listen honours it; its typings lack the field
    if (options.reusePort) listenOptions.reusePort = true
    const server = Bun.listen(listenOptions)
    return server.port
  },

  async idleServer() {
    let accepted = 0
    const server = listen({
      open() {
        accepted++
      },
      end(s) {
        s.end()
      },
    })
    return { port: server.port, accepted: () => accepted }
  },

  async idleOpen(port, connections) {
    const clients: Array<Socket<ClientState>> = []
    for (let i = 0; i < connections; i += 100) {
      clients.push(
        ...(await Promise.all(Array.from({ length: Math.min(100, connections - i) }, () => connect({ port })))),
      )
    }
    return async () => {
      for (const c of clients) c.end()
    }
  },
}
