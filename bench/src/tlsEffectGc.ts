/**
 * A control for the TLS bulk scenario on Node: one raw `node:tls` client
 * sends to a sink server in a child process, which is one of
 * - `plain`: a raw `node:tls` sink;
 * - `effect`: the same after `import("effect")` (the barrel; nothing of
 *   Effect used);
 * - `netfx-import`: the same after importing `@netfx/core` and `@netfx/node`
 *   and building `NodeNetwork.layer` (what a netfx program loads; nothing of
 *   it runs on the data path);
 * - `netfx`: netfx's own sink (`Tcp.listen` with `tls`, `serve`, a
 *   `receive` loop), as the bench's netfx server.
 * The first three differ only in the module heap loaded (what the garbage
 * collector marks while 16 KiB TLS records, each a fresh buffer outside V8's
 * heap, arrive); `netfx` adds netfx's data path.
 *
 *   node --import tsx bench/src/tlsEffectGc.ts          (from source)
 *   node bench/build.mjs && node bench/dist/src/tlsEffectGc.js   (compiled, as `pnpm bench`)
 *   MIB=1024 (per transfer) ROUNDS=5 (each round runs every variant, in rotating order)
 *   VARIANTS=plain,effect,netfx-import,netfx (which ones)
 *   ALLOC=1 (the server prints the JS heap it allocated per record, by site: V8's sampling heap profiler)
 *   SERVER_FLAGS="--trace-gc ..." (more node flags for the server processes; their output goes to stdout)
 *
 * Per transfer it prints the server's MB/s, its CPU ms per GiB, its garbage
 * collections (minor, major, total pause ms, and the major ones' pause ms) as
 * Node's `gc` performance entries count them, its minor page faults per MiB
 * received (fresh memory touched), the used heap right after the import
 * (after a full GC) and the young generation's size at the end; then the
 * median of each variant.
 */

import { fork } from "node:child_process"
import * as inspector from "node:inspector"
import { constants, PerformanceObserver } from "node:perf_hooks"
import * as tls from "node:tls"
import { fileURLToPath } from "node:url"
import * as v8 from "node:v8"
import { selfSigned } from "./impls/types.ts"

interface Result {
  readonly variant: string
  readonly mbps: number
  readonly cpuMsPerGiB: number
  readonly minor: number
  readonly major: number
  readonly gcMs: number
  readonly majorMs: number
  readonly faultsPerMiB: number
  /** Used heap right after the import, after a full GC (MB). */
  readonly loadedMB: number
  /** The young generation's size at the end (MB). */
  readonly newSpaceMB: number
}

const HOST = "127.0.0.1"
const VARIANTS = ["plain", "effect", "netfx-import", "netfx"]

const MB = 1e6

/** Counts GCs by type from the `gc` performance entries; `measure` brackets one transfer. */
const meter = (variant: string, loadedMB: number) => {
  let minor = 0
  let major = 0
  let gcMs = 0
  let majorMs = 0
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const kind = (entry as PerformanceEntry & { readonly detail?: { readonly kind?: number } }).detail?.kind
      if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) {
        major++
        majorMs += entry.duration
      } else if (kind === constants.NODE_PERFORMANCE_GC_MINOR) minor++
      gcMs += entry.duration
    }
  })
  observer.observe({ entryTypes: ["gc"] })
  return () => {
    if (process.env["ALLOC"] === "1") startSampling()
    minor = major = 0
    gcMs = majorMs = 0
    const cpu0 = process.cpuUsage()
    const faults0 = process.resourceUsage().minorPageFault
    const t0 = performance.now()
    /** Call at the end of the transfer of `bytes`: the result after the last GC entries arrived. */
    return (bytes: number): Promise<Result> => {
      const seconds = (performance.now() - t0) / 1000
      const cpu = process.cpuUsage(cpu0)
      const faults = process.resourceUsage().minorPageFault - faults0
      const newSpace = v8.getHeapSpaceStatistics().find((s) => s.space_name === "new_space")
      if (process.env["ALLOC"] === "1") void stopSampling(variant, bytes / 16384)
      return new Promise((resolve) =>
        // let the observer see the last entries
        setTimeout(() => {
          observer.disconnect()
          resolve({
            variant,
            mbps: bytes / MB / seconds,
            cpuMsPerGiB: (cpu.user + cpu.system) / 1000 / (bytes / 2 ** 30),
            minor,
            major,
            gcMs,
            majorMs,
            faultsPerMiB: faults / (bytes / 2 ** 20),
            loadedMB,
            newSpaceMB: (newSpace?.space_size ?? 0) / MB,
          })
        }, 50),
      )
    }
  }
}

interface SamplingNode {
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number }
  readonly selfSize: number
  readonly children: ReadonlyArray<SamplingNode>
}

const session = new inspector.Session()
const post = <A>(method: string, params?: object) =>
  new Promise<A>((resolve, reject) =>
    session.post(method, params, (error, result) => (error ? reject(error) : resolve(result as A))),
  )

/** ALLOC=1: V8's sampling heap profiler over the transfer, garbage included. */
const startSampling = (): void => {
  session.connect()
  void post("HeapProfiler.startSampling", {
    samplingInterval: 1024,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  })
}

/** Prints the JS heap allocated per 16 KiB record, by site. */
const stopSampling = async (variant: string, records: number): Promise<void> => {
  const { profile } = await post<{ profile: { head: SamplingNode } }>("HeapProfiler.stopSampling")
  const bySite = new Map<string, number>()
  let total = 0
  const walk = (node: SamplingNode) => {
    const f = node.callFrame
    const site = `${f.functionName || "(anonymous)"} ${f.url.replace(/.*\/(packages|dist\/esm|lib)\//, "")}:${f.lineNumber + 1}`
    total += node.selfSize
    bySite.set(site, (bySite.get(site) ?? 0) + node.selfSize)
    for (const child of node.children) walk(child)
  }
  walk(profile.head)
  console.log(`${variant}: ${(total / records).toFixed(0)} B of JS heap allocated per 16 KiB record (sampled)`)
  for (const [site, bytes] of [...bySite].sort((a, b) => b[1] - a[1]).slice(0, 20))
    console.log(`  ${(bytes / records).toFixed(0).padStart(5)} B ${site}`)
}

/** The used heap after a full GC (the process runs with `--expose-gc`). */
const usedAfterGc = (): number => {
  ;(globalThis as unknown as { gc?: () => void }).gc?.()
  return v8.getHeapStatistics().used_heap_size / MB
}

const server = async (variant: string, cert: string, key: string): Promise<void> => {
  if (variant === "effect") await import("effect")
  if (variant === "netfx-import" || variant === "netfx") {
    await import("@netfx/core")
    await import("@netfx/node")
  }
  const start = meter(variant, usedAfterGc())
  if (variant === "netfx") return netfxServer(start, cert, key)
  const listener = tls.createServer({ cert, key, allowHalfOpen: true }, (socket) => {
    let bytes = 0
    const finish = start()
    socket.on("data", (chunk: Buffer) => {
      bytes += chunk.length
    })
    socket.on("end", () => {
      void finish(bytes).then((result) => {
        process.send?.(result)
        socket.end()
        listener.close()
      })
    })
  })
  listener.listen(0, HOST, () => {
    const address = listener.address()
    if (address !== null && typeof address === "object") process.send?.(address.port)
  })
}

/** netfx's sink, as the bench's netfx server runs it (a `receive` loop until `EndOfStream`). */
const netfxServer = async (
  start: () => (bytes: number) => Promise<Result>,
  cert: string,
  key: string,
): Promise<void> => {
  const { SocketAddress, Tcp } = await import("@netfx/core")
  const { NodeNetwork } = await import("@netfx/node")
  const Effect = await import("effect/Effect")
  await Effect.runPromise(
    Effect.scoped(
      Effect.gen(function* () {
        const listener = yield* Tcp.listen({ host: HOST, tls: { cert, key } })
        process.send?.(SocketAddress.isIp(listener.address) ? listener.address.port : 0)
        yield* listener.serve((conn) =>
          Effect.gen(function* () {
            const finish = start()
            let bytes = 0
            while (true) {
              const chunk = yield* Effect.catchTag(conn.receive(), "EndOfStream", () => Effect.succeed(undefined))
              if (chunk === undefined) break
              bytes += chunk.length
            }
            const result = yield* Effect.promise(() => finish(bytes))
            process.send?.(result)
          }),
        )
      }),
    ).pipe(Effect.provide(NodeNetwork.layer)),
  )
}

const transfer = async (variant: string, cert: string, key: string, bytes: number): Promise<Result> => {
  const child = fork(fileURLToPath(import.meta.url), ["server", variant], {
    env: { ...process.env, TLS_CERT: cert, TLS_KEY: key },
    execArgv: [
      ...process.execArgv,
      "--expose-gc",
      ...(process.env["SERVER_FLAGS"] ?? "").split(" ").filter((f) => f !== ""),
    ],
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
  // a clean exit, so that profiles (`SERVER_FLAGS=--cpu-prof`) are written
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => child.kill(), 5_000)
    child.once("exit", () => {
      clearTimeout(timer)
      resolve()
    })
    child.send("exit")
  })
  return result
}

const median = (values: Array<number>): number => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] as number
}

const line = (r: Result): string =>
  `${r.variant.padEnd(12)} ${r.mbps.toFixed(0).padStart(5)} MB/s  CPU ${r.cpuMsPerGiB.toFixed(0).padStart(5)} ms/GiB  GCs minor ${r.minor} major ${r.major}, ${r.gcMs.toFixed(0)} ms (major ${r.majorMs.toFixed(0)})  faults ${r.faultsPerMiB.toFixed(0)}/MiB  heap after import ${r.loadedMB.toFixed(1)} MB, young ${r.newSpaceMB.toFixed(1)} MB`

const main = async (): Promise<void> => {
  const bytes = Number(process.env["MIB"] ?? "1024") * 2 ** 20
  const rounds = Number(process.env["ROUNDS"] ?? "5")
  const variants = (process.env["VARIANTS"] ?? VARIANTS.join(",")).split(",")
  const { cert, key } = selfSigned()
  const results: Array<Result> = []
  for (let round = 0; round < rounds; round++) {
    // rotate the order, so no variant always runs first or after the same one
    const order = variants.map((_, i) => variants[(i + round) % variants.length] as string)
    for (const variant of order) {
      const r = await transfer(variant, cert, key, bytes)
      results.push(r)
      console.log(line(r))
    }
  }
  for (const variant of variants) {
    const mine = results.filter((r) => r.variant === variant)
    const med = (f: (r: Result) => number) => median(mine.map(f))
    console.log(
      `median ${variant.padEnd(12)} ${med((r) => r.mbps).toFixed(0)} MB/s, CPU ${med((r) => r.cpuMsPerGiB).toFixed(0)} ms/GiB, GCs minor ${med((r) => r.minor)} major ${med((r) => r.major)}, ${med((r) => r.gcMs).toFixed(0)} ms (major ${med((r) => r.majorMs).toFixed(0)}), faults ${med((r) => r.faultsPerMiB).toFixed(0)}/MiB, heap after import ${med((r) => r.loadedMB).toFixed(1)} MB`,
    )
  }
}

if (process.argv[2] === "server") {
  process.on("message", (m) => m === "exit" && process.exit(0))
  await server(process.argv[3] ?? "plain", process.env["TLS_CERT"] ?? "", process.env["TLS_KEY"] ?? "")
} else {
  await main()
}
