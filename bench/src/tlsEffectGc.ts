/**
 * A control for the TLS bulk scenario on Node: the same raw `node:tls` sink
 * server, with and without `import("effect")` done first (and nothing of
 * Effect used), against one raw `node:tls` client. No netfx code runs in
 * either process: the difference between the two rows is what loading Effect
 * does to the garbage collector's regime while 16 KiB TLS records arrive
 * (each a fresh buffer outside V8's heap), which every Effect program on Node
 * pays, netfx or not.
 *
 *   node --import tsx bench/src/tlsEffectGc.ts
 *   MIB=1024 (per transfer) ROUNDS=5 (each round runs both variants, in alternating order)
 *
 * Per transfer it prints the server's MB/s, its CPU ms per GiB and its
 * garbage collections (minor, major, total pause ms) as Node's `gc`
 * performance entries count them, and its minor page faults per MiB
 * received (fresh memory touched); then the median of each variant.
 */

import { fork } from "node:child_process"
import { constants, PerformanceObserver } from "node:perf_hooks"
import * as tls from "node:tls"
import { fileURLToPath } from "node:url"
import { selfSigned } from "./impls/types.ts"

interface Result {
  readonly variant: string
  readonly mbps: number
  readonly cpuMsPerGiB: number
  readonly minor: number
  readonly major: number
  readonly gcMs: number
  readonly faultsPerMiB: number
}

const HOST = "127.0.0.1"

const server = async (variant: string, cert: string, key: string): Promise<void> => {
  if (variant === "effect") await import("effect")
  let minor = 0
  let major = 0
  let gcMs = 0
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const kind = (entry as PerformanceEntry & { readonly detail?: { readonly kind?: number } }).detail?.kind
      if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) major++
      else if (kind === constants.NODE_PERFORMANCE_GC_MINOR) minor++
      gcMs += entry.duration
    }
  })
  observer.observe({ entryTypes: ["gc"] })
  const listener = tls.createServer({ cert, key, allowHalfOpen: true }, (socket) => {
    let bytes = 0
    const cpu0 = process.cpuUsage()
    const faults0 = process.resourceUsage().minorPageFault
    const t0 = performance.now()
    socket.on("data", (chunk: Buffer) => {
      bytes += chunk.length
    })
    socket.on("end", () => {
      const seconds = (performance.now() - t0) / 1000
      const cpu = process.cpuUsage(cpu0)
      // let the observer see the last entries
      setTimeout(() => {
        const result: Result = {
          variant,
          mbps: bytes / 1e6 / seconds,
          cpuMsPerGiB: (cpu.user + cpu.system) / 1000 / (bytes / 2 ** 30),
          minor,
          major,
          gcMs,
          faultsPerMiB: (process.resourceUsage().minorPageFault - faults0) / (bytes / 2 ** 20),
        }
        process.send?.(result)
        socket.end()
        listener.close()
        observer.disconnect()
      }, 50)
    })
  })
  listener.listen(0, HOST, () => {
    const address = listener.address()
    if (address !== null && typeof address === "object") process.send?.(address.port)
  })
}

const transfer = async (variant: string, cert: string, key: string, bytes: number): Promise<Result> => {
  const child = fork(fileURLToPath(import.meta.url), ["server", variant], {
    env: { ...process.env, TLS_CERT: cert, TLS_KEY: key },
  })
  const messages: Array<unknown> = []
  let wake: (() => void) | undefined
  child.on("message", (m) => {
    messages.push(m)
    wake?.()
  })
  const next = async (): Promise<unknown> => {
    while (messages.length === 0) await new Promise<void>((resolve) => (wake = resolve))
    return messages.shift()
  }
  const port = (await next()) as number
  const socket = tls.connect({ host: HOST, port, ca: cert, servername: "localhost", allowHalfOpen: true })
  await new Promise<void>((resolve, reject) => {
    socket.once("secureConnect", () => resolve())
    socket.once("error", reject)
  })
  const chunk = Buffer.alloc(64 * 1024, 7)
  let left = bytes
  await new Promise<void>((resolve) => {
    const pump = (): void => {
      while (left > 0) {
        const n = Math.min(left, chunk.length)
        left -= n
        if (!socket.write(n === chunk.length ? chunk : chunk.subarray(0, n))) {
          socket.once("drain", pump)
          return
        }
      }
      socket.end()
      resolve()
    }
    pump()
  })
  socket.resume()
  const result = (await next()) as Result
  socket.destroy()
  child.kill()
  return result
}

const median = (values: Array<number>): number => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] as number
}

const main = async (): Promise<void> => {
  const bytes = Number(process.env["MIB"] ?? "1024") * 2 ** 20
  const rounds = Number(process.env["ROUNDS"] ?? "5")
  const { cert, key } = selfSigned()
  const results: Array<Result> = []
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? ["plain", "effect"] : ["effect", "plain"]
    for (const variant of order) {
      const r = await transfer(variant, cert, key, bytes)
      results.push(r)
      console.log(
        `${variant.padEnd(6)} ${r.mbps.toFixed(0).padStart(5)} MB/s  CPU ${r.cpuMsPerGiB.toFixed(0).padStart(5)} ms/GiB  GCs minor ${r.minor} major ${r.major}, ${r.gcMs.toFixed(0)} ms  page faults ${r.faultsPerMiB.toFixed(0)}/MiB`,
      )
    }
  }
  for (const variant of ["plain", "effect"]) {
    const mine = results.filter((r) => r.variant === variant)
    console.log(
      `median ${variant.padEnd(6)} ${median(mine.map((r) => r.mbps)).toFixed(0)} MB/s, CPU ${median(mine.map((r) => r.cpuMsPerGiB)).toFixed(0)} ms/GiB, major GCs ${median(mine.map((r) => r.major))}, page faults ${median(mine.map((r) => r.faultsPerMiB)).toFixed(0)}/MiB`,
    )
  }
}

if (process.argv[2] === "server") {
  await server(process.argv[3] ?? "plain", process.env["TLS_CERT"] ?? "", process.env["TLS_KEY"] ?? "")
} else {
  await main()
}
