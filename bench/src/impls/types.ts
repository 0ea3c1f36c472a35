import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import type { HttpServeOptions } from "./http.ts"

/**
 * The contract every benchmarked implementation fulfils. Each method is the
 * same loop written against one socket API; the harness (`../main.ts`) runs
 * servers and clients in separate worker processes (`../worker.ts`).
 */

/** Ports of the servers one server worker runs for the TCP scenarios. */
export interface ServerPorts {
  /** Counts bytes until the client's EOF, then closes (the client times until it sees that close). */
  readonly sink: number
  /** Echoes every chunk back. */
  readonly echo: number
  /** Accepts and closes at once. */
  readonly accept: number
  /** A sink on a Unix socket path, where the implementation has Unix sockets. */
  readonly unixSink: string | undefined
  /** The UDP receiver's port (added by the server worker where the implementation has UDP). */
  readonly udp?: number | undefined
  /** The Unix datagram receiver's path (added by the server worker where the implementation has one). */
  readonly unixDatagram?: string | undefined
  /**
   * Starts a Unix datagram receiver at `path` counting datagrams (absent: no
   * Unix datagram sockets). `cpuMicros`: CPU spent outside the worker process
   * (a baseline running in a child), added to the worker's.
   */
  unixDatagramSink?(path: string): Promise<{
    readonly received: () => Promise<number>
    readonly cpuMicros?: () => Promise<number>
  }>
  /**
   * Sends `size`-byte datagrams to the connected `path` for `millis`, each
   * send waiting while the receiver's queue is full; count = sent.
   * `cpuMicros`: CPU spent outside the worker process.
   */
  unixDatagramSend?(path: string, millis: number, size: number): Promise<Timed & { readonly cpuMicros?: number }>
  /** TLS sink and accept-and-close servers and the self-signed certificate (added by the server worker). */
  readonly tls?: { readonly sink: number; readonly accept: number; readonly cert: string } | undefined
  /** HTTP/1.1 servers (added by the server worker where the implementation has `httpServe`): keep-alive, and close-after-one-request. */
  readonly http?: { readonly keepAlive: number; readonly close: number } | undefined
}

/** A self-signed P-256 certificate for 127.0.0.1, made with the openssl CLI. */
export const selfSigned = (): { readonly cert: string; readonly key: string } => {
  const dir = fs.mkdtempSync(`${os.tmpdir()}/netfx-bench-tls-`)
  try {
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        `${dir}/key.pem`,
        "-out",
        `${dir}/cert.pem`,
        "-days",
        "2",
        "-subj",
        "/CN=localhost",
        "-addext",
        "subjectAltName=DNS:localhost,IP:127.0.0.1",
      ],
      { stdio: ["ignore", "pipe", "pipe"], timeout: 30_000 },
    )
    return { cert: fs.readFileSync(`${dir}/cert.pem`, "utf8"), key: fs.readFileSync(`${dir}/key.pem`, "utf8") }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

/** Where a bulk client connects: a loopback TCP port or a Unix socket path. */
export type Target = { readonly port: number } | { readonly path: string }

/** A fresh Unix socket path for this process. */
export const unixPath = (name = "stream"): string => {
  const path = `${os.tmpdir()}/netfx-bench-${process.pid}-${name}.sock`
  fs.rmSync(path, { force: true })
  return path
}

export interface Timed {
  /** Operations completed (round trips, accepts). */
  readonly count: number
  readonly seconds: number
}

export interface PingPongResult extends Timed {
  /** Round-trip latencies in microseconds (a sample). */
  readonly latencies: ReadonlyArray<number>
}

/** A server whose handler keeps each accepted connection open and idle (waiting to read). */
export interface IdleServer {
  readonly port: number
  /** Connections accepted so far (opened handlers). */
  readonly accepted: () => number
}

export interface Impl {
  readonly name: string
  /** Starts the sink, echo and accept servers on 127.0.0.1; they run until the process exits. */
  serve(): Promise<ServerPorts>
  /** Streams `bytes` to the sink in `chunk`-byte writes, half-closes, waits for the server's EOF. */
  bulk(target: Target, bytes: number, chunk: number): Promise<Timed>
  /** One connection, 1-byte request/response for `millis`. */
  pingPong(port: number, millis: number): Promise<PingPongResult>
  /** `connections` connections each doing 1-byte ping-pong for `millis`; total round trips. */
  many(port: number, connections: number, millis: number): Promise<Timed>
  /** Sequential connect, wait for the server's close, close; for `millis`. */
  accept(port: number, millis: number): Promise<Timed>
  /**
   * The same loop written with the implementation's bracket connect, which
   * needs no Scope per connection (netfx: `Tcp.withConnection`); absent
   * where there is none. Its rows stand beside `accept`'s, which stay as
   * they were.
   */
  acceptBracket?(port: number, millis: number): Promise<Timed>
  /**
   * Starts a UDP receiver on 127.0.0.1 counting datagrams (absent: no UDP in this implementation);
   * `dropped`: datagrams its own queue dropped (netfx's `dropped`; absent where there is no such queue).
   */
  udpSink?(): Promise<{ readonly port: number; readonly received: () => number; readonly dropped?: () => number }>
  /** Sends `size`-byte datagrams to `port` for `millis`, each send waiting for the previous one; count = sent. */
  udpSend?(port: number, millis: number, size: number): Promise<Timed>
  /**
   * Starts a Unix datagram receiver at `path` counting datagrams (absent: no
   * Unix datagram sockets). `cpuMicros`: CPU spent outside the worker process
   * (a baseline running in a child), added to the worker's.
   */
  unixDatagramSink?(path: string): Promise<{
    readonly received: () => Promise<number>
    readonly cpuMicros?: () => Promise<number>
  }>
  /**
   * Sends `size`-byte datagrams to the connected `path` for `millis`, each
   * send waiting while the receiver's queue is full; count = sent.
   * `cpuMicros`: CPU spent outside the worker process.
   */
  unixDatagramSend?(path: string, millis: number, size: number): Promise<Timed & { readonly cpuMicros?: number }>
  /** TLS sink and accept-and-close servers (absent: no TLS in this implementation). */
  tlsServe?(cert: string, key: string): Promise<{ readonly sink: number; readonly accept: number }>
  /** The bulk loop over TLS (`ca` verifies the server). */
  tlsBulk?(port: number, ca: string, bytes: number, chunk: number): Promise<Timed>
  /** Sequential TLS connect + handshake, wait for the server's close, close; count = handshakes. */
  tlsHandshakes?(port: number, ca: string, millis: number): Promise<Timed>
  /**
   * Starts an HTTP/1.1 server answering every request with the same small
   * response, using the shared minimal parser of `./http.ts` (absent: no
   * HTTP server in this implementation). Resolves the port.
   */
  httpServe?(options: HttpServeOptions): Promise<number>
  /** Starts the idle-memory server. */
  idleServer(): Promise<IdleServer>
  /** Opens `connections` idle connections (reading, as a client would); resolves a function that closes them. */
  idleOpen(port: number, connections: number): Promise<() => Promise<void>>
}

/**
 * Datagrams per batch of the datagram senders (udp, unixdgram): each
 * implementation hands this many to its runtime (netfx: one `sendMany`),
 * then waits until they went before the next batch.
 */
export const DATAGRAM_BATCH = 64

/** How many latency samples a ping-pong run keeps at most. */
export const MAX_SAMPLES = 200_000

export const now = (): number => performance.now()

/** Waits until `pred` holds, polling (benchmark set-up only). */
export const until = async (pred: () => boolean, timeoutMillis = 120_000): Promise<void> => {
  const deadline = now() + timeoutMillis
  while (!pred()) {
    if (now() > deadline) throw new Error("benchmark set-up timed out")
    await new Promise((r) => setTimeout(r, 5))
  }
}

/**
 * Settled memory of a process: RSS, `heapUsed`, and on Node the young
 * generation's resident size (`physical_space_size` of new space and the new
 * large-object space) and the old generation's (every other V8 space), so that a change of the
 * young generation's size, a cost of the process and not of any connection,
 * can be told apart from what the connections hold. Bun reports no spaces:
 * `young` and `old` are 0 there.
 */
export interface Memory {
  readonly rss: number
  readonly heap: number
  readonly young: number
  readonly old: number
}

const YOUNG_SPACES = new Set(["new_space", "new_large_object_space"])

/** Forces full collections and returns the settled memory usage. */
export const settledMemory = async (gc: () => void): Promise<Memory> => {
  for (let i = 0; i < 3; i++) {
    gc()
    await new Promise((r) => setTimeout(r, 20))
  }
  const m = process.memoryUsage()
  let young = 0
  let old = 0
  if ((globalThis as { Bun?: unknown }).Bun === undefined) {
    const v8 = await import("node:v8")
    for (const s of v8.getHeapSpaceStatistics()) {
      if (YOUNG_SPACES.has(s.space_name)) young += s.physical_space_size
      else old += s.physical_space_size
    }
  }
  return { rss: m.rss, heap: m.heapUsed, young, old }
}
