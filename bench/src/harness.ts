/**
 * The benchmark driver: starts one server and one client worker process per
 * implementation (pinned with taskset), runs every scenario run by run,
 * alternating the implementations within each run, and summarises.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as readline from "node:readline"
import { fileURLToPath } from "node:url"
import type { ClusterImpl, ClusterResult } from "./cluster.ts"
import type { PingPongResult, ServerPorts, Timed } from "./impls/types.ts"
import { quantile, type Summary, summarize } from "./stats.ts"
import { IMPLS, type ImplId, isBun, type Job } from "./worker.ts"

export const BENCH_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
export const BUN = path.resolve(BENCH_DIR, "..", "node_modules", ".bin", "bun")

/**
 * What the worker processes run: `dist`, the compiled bench (bench/dist/src)
 * with the netfx packages' published builds, as `bench/build.mjs` stages them;
 * `src`, the TypeScript sources (tsx on Node, Bun's own transpiler) with the
 * workspace packages' sources.
 */
export type From = "dist" | "src"

/** The file a worker process runs for a bench module (`worker`, `cluster`). */
const entry = (from: From, module: string): string =>
  from === "dist" ? path.join(BENCH_DIR, "dist", "src", `${module}.js`) : path.join(BENCH_DIR, "src", `${module}.ts`)

/** The Node command line that runs a bench module, extra flags first. */
const nodeCommand = (from: From, module: string, flags: ReadonlyArray<string>): Array<string> => [
  process.execPath,
  ...flags,
  ...(from === "src" ? ["--import", "tsx"] : []),
  entry(from, module),
]

/**
 * Builds what `--from=dist` runs (`node bench/build.mjs`: the packages' dist/
 * when stale, bench/dist/src, the staged packages); throws when a build fails.
 */
export const buildForBench = (log: (line: string) => void): void => {
  const r = spawnSync(process.execPath, [path.join(BENCH_DIR, "build.mjs")], {
    cwd: BENCH_DIR,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  })
  // build.mjs writes everything (its children's output too) on stderr, in order
  const lines = `${r.stdout ?? ""}${r.stderr ?? ""}${r.error?.message ?? ""}`.trim().split("\n")
  for (const line of lines) if (line !== "") log(line)
  if (r.status !== 0)
    throw new Error(`the bench's build failed (node bench/build.mjs exited ${r.status ?? r.signal}): ${lines.at(-1)}`)
}

export const SCENARIOS = [
  "bulk",
  "pingpong",
  "many",
  "accept",
  "unix",
  "udp",
  "unixdgram",
  "tls",
  "handshake",
  "http",
  "reuseport",
  "idle",
  "cluster",
] as const
export type Scenario = (typeof SCENARIOS)[number]

export interface Options {
  readonly impls: ReadonlyArray<ImplId>
  readonly scenarios: ReadonlyArray<Scenario>
  /** Bytes streamed per bulk run. */
  readonly bulkBytes: number
  /** Write size in the bulk scenario. */
  readonly chunk: number
  /** Length of each timed run (ping-pong, many, accept). */
  readonly millis: number
  /** Concurrent connections in the "many" scenario. */
  readonly manyConnections: number
  /** Idle connections in the memory scenario. */
  readonly idleConnections: number
  /** Measured runs per scenario and implementation (the warm-up runs come first and are dropped). */
  readonly runs: number
  readonly warmup: number
  /** Idle-memory runs (each starts fresh processes). */
  readonly idleRuns: number
  /** "split": server on CPU 0, client on CPU 1; "same": both on CPU 0; "none": no pinning. */
  readonly pin: "split" | "same" | "none"
  /** What the workers run: compiled JavaScript and the packages' builds (`dist`) or the sources (`src`). */
  readonly from: From
  /** Where the JSON goes (undefined: not written). */
  readonly out: string | undefined
  readonly log: (line: string) => void
}

export interface Row {
  readonly implementation: string
  readonly impl: ImplId
  readonly scenario: Scenario
  readonly metric: string
  readonly unit: string
  readonly better: "higher" | "lower"
  readonly value: number
  readonly median: number
  readonly min: number
  readonly max: number
  readonly runs: ReadonlyArray<number>
  /**
   * median / the raw baseline's median on the same runtime (raw node:net for Node, raw Bun for Bun);
   * for the "cluster" scenario, / `@effect/platform-node`'s NodeClusterSocket.
   */
  readonly ratio: number | undefined
  /** median / raw node:net's median. */
  readonly ratioToRawNode: number | undefined
}

export interface Report {
  readonly date: string
  readonly machine: {
    readonly cpus: number
    readonly cpuModel: string
    readonly node: string
    readonly bun: string | undefined
    readonly loadAverageBefore: ReadonlyArray<number>
    readonly loadAverageAfter: ReadonlyArray<number>
  }
  readonly pinning: string
  readonly options: Omit<Options, "log" | "out">
  readonly rows: ReadonlyArray<Row>
  readonly skipped: ReadonlyArray<{ readonly impl: ImplId; readonly reason: string }>
  /** Scenarios skipped as a whole (e.g. no wrk for the HTTP scenarios). */
  readonly notes: ReadonlyArray<string>
}

export const NAMES: Record<ImplId, string> = {
  "raw-node": "raw node:net",
  "netfx-node": "netfx (Node)",
  "platform-node": "@effect/platform-node NodeSocket",
  "node-http": "node:http",
  "raw-bun": "raw Bun",
  "netfx-bun": "netfx (Bun)",
}

// ---- worker processes ----

class Worker {
  private readonly child: ChildProcess
  private readonly lines: AsyncIterator<string>
  private stderr = ""

  constructor(
    readonly id: ImplId,
    readonly role: string,
    cpu: string | undefined,
    raiseFdLimit: boolean,
    from: From,
    args: ReadonlyArray<string> = [],
  ) {
    // BENCH_NODE_FLAGS: extra node flags for the workers, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"
    const extra = (process.env.BENCH_NODE_FLAGS ?? "").split(" ").filter((f) => f !== "")
    const runtime = isBun(id) ? [BUN, entry(from, "worker")] : nodeCommand(from, "worker", ["--expose-gc", ...extra])
    const command = [...(cpu === undefined ? [] : ["taskset", "-c", cpu]), ...runtime, role, id, ...args]
    // the idle scenario holds 10,000 descriptors: raise the soft limit to the hard one first
    const [file, ...argv] = raiseFdLimit
      ? ["sh", "-c", 'ulimit -n "$(ulimit -Hn)" && exec "$@"', "sh", ...command]
      : command
    this.child = spawn(file as string, argv, { cwd: BENCH_DIR, stdio: ["pipe", "pipe", "pipe"] })
    this.child.stderr?.on("data", (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-4000)
    })
    this.lines = readline.createInterface({ input: this.child.stdout! })[Symbol.asyncIterator]()
  }

  async next(): Promise<unknown> {
    let r = await this.lines.next()
    // The protocol's lines are JSON objects; anything else on stdout comes from the
    // runtime itself (e.g. V8's --trace-gc through BENCH_NODE_FLAGS) and goes to stderr.
    while (!r.done && !r.value.startsWith("{")) {
      process.stderr.write(`[${this.role} ${this.id}] ${r.value}\n`)
      r = await this.lines.next()
    }
    if (r.done)
      throw new Error(`${this.id} ${this.role} exited: ${this.stderr.trim().split("\n").slice(-5).join(" | ")}`)
    return JSON.parse(r.value)
  }

  async request<A>(job: Job): Promise<A> {
    this.child.stdin!.write(`${JSON.stringify(job)}\n`)
    const reply = (await this.next()) as { ok?: A; error?: string }
    if (reply.error !== undefined) throw new Error(`${this.id}: ${reply.error}`)
    return reply.ok as A
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return
    const exited = new Promise((r) => this.child.once("exit", r))
    this.child.stdin!.end()
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 5000)
    await exited
    clearTimeout(timer)
  }
}

const cpus = (pin: Options["pin"]) =>
  pin === "split" ? { server: "0", client: "1" } : pin === "same" ? { server: "0", client: "0" } : {}

// ---- the run ----

export const run = async (options: Options): Promise<Report> => {
  const log = options.log
  const pins = cpus(options.pin)
  const loadAverageBefore = os.loadavg()
  const skipped: Array<{ impl: ImplId; reason: string }> = []
  const samples = new Map<string, Array<number>>()
  const record = (impl: ImplId, scenario: Scenario, metric: string, value: number) => {
    const key = `${impl}\u0000${scenario}\u0000${metric}`
    const list = samples.get(key) ?? []
    list.push(value)
    samples.set(key, list)
  }

  const wrk = wrkVersion()
  const wanted = options.scenarios.filter((s) => s !== "idle" && s !== "cluster")
  const timed = wanted.filter((s) => (s !== "http" && s !== "reuseport") || wrk !== undefined)
  const notes: Array<string> = []
  if (timed.length < wanted.length) {
    const note = `${wanted.filter((s) => !timed.includes(s)).join(", ")}: skipped, wrk not found (Debian: apt-get install wrk)`
    notes.push(note)
    log(note)
  }
  // Flags change what a figure means (a young-generation size moves TLS bulk by 2-4x): say them.
  const nodeFlags = (process.env.BENCH_NODE_FLAGS ?? "").trim()
  if (nodeFlags !== "") notes.push(`Node workers ran with BENCH_NODE_FLAGS="${nodeFlags}"`)
  // glibc's malloc tunables change how freed buffers go back to the system (see bench/README.md, TLS bulk)
  const tunables = (process.env.GLIBC_TUNABLES ?? "").trim()
  if (tunables !== "") notes.push(`workers ran with GLIBC_TUNABLES="${tunables}"`)
  // Sources under tsx cost more than what users run (tsx's __name wrappers): say so.
  if (options.from === "src") notes.push("workers ran the TypeScript sources (--from=src: tsx on Node), not the build")
  else buildForBench(log)
  const live: Array<Live> = []
  const reusePortGroups = new Map<string, ReusePortGroup>()
  if (timed.length > 0) {
    for (const id of options.impls) {
      const server = new Worker(id, "server", pins.server, false, options.from)
      const client = new Worker(id, "client", pins.client, false, options.from)
      try {
        const ports = (await server.next()) as ServerPorts
        await client.next()
        live.push({ id, server, client, ports })
      } catch (e) {
        skipped.push({ impl: id, reason: e instanceof Error ? e.message : String(e) })
        log(`skipping ${id}: ${e instanceof Error ? e.message : String(e)}`)
        await server.stop()
        await client.stop()
      }
    }
  }

  try {
    for (const scenario of timed) {
      for (let r = 0; r < options.warmup + options.runs; r++) {
        const warm = r < options.warmup
        for (const w of live) {
          if (w.id === "node-http" && scenario !== "http" && scenario !== "reuseport") continue
          if (scenario === "http" || scenario === "reuseport") {
            if (w.ports.http === undefined) {
              if (r === 0) log(`  ${scenario} ${w.id}: no HTTP server in this implementation; skipped`)
              continue
            }
            try {
              const results =
                scenario === "http"
                  ? await httpRun(w, options, pins)
                  : await reusePortRun(w, options, pins, reusePortGroups)
              const shown = results.map(([metric, value]) => `${metric} ${value.toFixed(metric.includes("÷") ? 2 : 0)}`)
              log(`  ${scenario} ${warm ? "warm-up" : `run ${r - options.warmup + 1}`} ${w.id}: ${shown.join(", ")}`)
              if (!warm) for (const [metric, value] of results) record(w.id, scenario, metric, value)
            } catch (e) {
              log(`  ${scenario} ${w.id}: failed: ${e instanceof Error ? e.message : String(e)}`)
            }
            continue
          }
          if (scenario === "unix" && w.ports.unixSink === undefined) {
            if (r === 0) log(`  unix ${w.id}: no Unix sockets in this implementation; skipped`)
            continue
          }
          if ((scenario === "tls" || scenario === "handshake") && w.ports.tls === undefined) {
            if (r === 0) log(`  ${scenario} ${w.id}: no TLS in this implementation; skipped`)
            continue
          }
          if (scenario === "udp" && w.ports.udp === undefined) {
            if (r === 0) log(`  udp ${w.id}: no UDP in this implementation; skipped`)
            continue
          }
          if (scenario === "unixdgram" && w.ports.unixDatagram === undefined) {
            if (r === 0) log(`  unixdgram ${w.id}: no Unix datagram sockets in this implementation; skipped`)
            continue
          }
          const job: Job =
            scenario === "bulk"
              ? { scenario, target: { port: w.ports.sink }, bytes: options.bulkBytes, chunk: options.chunk }
              : scenario === "unix"
                ? {
                    scenario: "bulk",
                    target: { path: w.ports.unixSink ?? "" },
                    bytes: options.bulkBytes,
                    chunk: options.chunk,
                  }
                : scenario === "tls"
                  ? {
                      scenario,
                      port: w.ports.tls?.sink ?? 0,
                      ca: w.ports.tls?.cert ?? "",
                      bytes: options.bulkBytes,
                      chunk: options.chunk,
                    }
                  : scenario === "handshake"
                    ? { scenario, port: w.ports.tls?.accept ?? 0, ca: w.ports.tls?.cert ?? "", millis: options.millis }
                    : scenario === "udp"
                      ? { scenario, port: w.ports.udp ?? 0, millis: options.millis, size: 64 }
                      : scenario === "unixdgram"
                        ? {
                            scenario: "unixDatagram",
                            path: w.ports.unixDatagram ?? "",
                            millis: options.millis,
                            size: 64,
                          }
                        : scenario === "pingpong"
                          ? { scenario, port: w.ports.echo, millis: options.millis }
                          : scenario === "many"
                            ? {
                                scenario,
                                port: w.ports.echo,
                                connections: options.manyConnections,
                                millis: options.millis,
                              }
                            : { scenario: "accept", port: w.ports.accept, millis: options.millis }
          let result: (Timed | PingPongResult) & { readonly cpuMicros: number }
          let serverCpu: number
          let delivered = 0
          try {
            const count = scenario === "udp" ? "udpCount" : scenario === "unixdgram" ? "unixDatagramCount" : undefined
            const received0 = count === undefined ? 0 : await w.server.request<number>({ scenario: count })
            const server0 = await w.server.request<number>({ scenario: "cpu" })
            result = await w.client.request<(Timed | PingPongResult) & { readonly cpuMicros: number }>(job)
            if (count !== undefined) {
              // datagrams still in flight get a moment to arrive
              await new Promise((r) => setTimeout(r, 200))
              delivered = (await w.server.request<number>({ scenario: count })) - received0
            }
            serverCpu = (await w.server.request<number>({ scenario: "cpu" })) - server0
          } catch (e) {
            log(`  ${scenario} ${w.id}: failed: ${e instanceof Error ? e.message : String(e)}`)
            continue
          }
          if (scenario === "udp" || scenario === "unixdgram") {
            const pps = delivered / result.seconds
            const loss = result.count === 0 ? 0 : 100 * (1 - delivered / result.count)
            log(
              `  ${scenario} ${warm ? "warm-up" : `run ${r - options.warmup + 1}`} ${w.id}: ${pps.toFixed(0)} delivered/s, sent ${(result.count / result.seconds).toFixed(0)}/s, loss ${loss.toFixed(1)}%`,
            )
            if (!warm) {
              record(w.id, scenario, "delivered packets", pps)
              record(w.id, scenario, "sent packets", result.count / result.seconds)
              record(w.id, scenario, "loss", loss)
              record(w.id, scenario, "CPU per op", (result.cpuMicros + serverCpu) / Math.max(1, delivered))
            }
            // Each implementation's own sender sets a different offered load, so the loss
            // rows above do not compare the receivers: the same runtime's raw sender, sending
            // to this implementation's receiver, does.
            const raw =
              scenario === "udp" ? live.find((l) => l.id === (isBun(w.id) ? "raw-bun" : "raw-node")) : undefined
            if (raw === undefined) {
              if (scenario === "udp" && r === 0)
                log(`  udp ${w.id}: no raw sender of its runtime in this run; no equal-load rows`)
              continue
            }
            try {
              const received0 = await w.server.request<number>({ scenario: "udpCount" })
              const server0 = await w.server.request<number>({ scenario: "cpu" })
              const sent = await raw.client.request<Timed & { readonly cpuMicros: number }>(job)
              await new Promise((r) => setTimeout(r, 200))
              const got = (await w.server.request<number>({ scenario: "udpCount" })) - received0
              const receiverCpu = (await w.server.request<number>({ scenario: "cpu" })) - server0
              const lost = sent.count === 0 ? 0 : 100 * (1 - got / sent.count)
              log(
                `  udp ${warm ? "warm-up" : `run ${r - options.warmup + 1}`} ${raw.id} sender -> ${w.id}: ${(got / sent.seconds).toFixed(0)} delivered/s, sent ${(sent.count / sent.seconds).toFixed(0)}/s, loss ${lost.toFixed(1)}%`,
              )
              if (warm) continue
              record(w.id, scenario, "delivered packets, raw sender", got / sent.seconds)
              record(w.id, scenario, "loss, raw sender", lost)
              record(w.id, scenario, "receiver CPU per datagram, raw sender", receiverCpu / Math.max(1, got))
            } catch (e) {
              log(`  udp ${raw.id} sender -> ${w.id}: failed: ${e instanceof Error ? e.message : String(e)}`)
            }
            continue
          }
          if (scenario === "accept" && (w.id === "netfx-node" || w.id === "netfx-bun")) {
            await acceptBracketRun(w, options.millis, warm ? "warm-up" : `run ${r - options.warmup + 1}`, log, (m, v) =>
              record(w.id, scenario, m, v),
            )
          }
          const rate = result.count / result.seconds
          const bulkLike = scenario === "bulk" || scenario === "unix" || scenario === "tls"
          const shown = bulkLike ? `${(rate / 1e6).toFixed(0)} MB/s` : `${rate.toFixed(0)}/s`
          const ops = bulkLike ? result.count / 1e6 : result.count
          const perOp = (cpu: number) => (cpu / ops).toFixed(0)
          log(
            `  ${scenario} ${warm ? "warm-up" : `run ${r - options.warmup + 1}`} ${w.id}: ${shown} (CPU per ${bulkLike ? "MB" : "op"}: client ${perOp(result.cpuMicros)} µs, server ${perOp(serverCpu)} µs)`,
          )
          if (warm) continue
          if (bulkLike) record(w.id, scenario, "throughput", rate / 1e6)
          else if (scenario === "accept") record(w.id, scenario, "accepts", rate)
          else if (scenario === "handshake") record(w.id, scenario, "handshakes", rate)
          else record(w.id, scenario, "round trips", rate)
          // CPU time per operation is far less disturbed by other load than rates are
          record(w.id, scenario, bulkLike ? "CPU per MB" : "CPU per op", (result.cpuMicros + serverCpu) / ops)
          if ("latencies" in result) {
            record(w.id, scenario, "p50 latency", quantile(result.latencies, 0.5))
            record(w.id, scenario, "p99 latency", quantile(result.latencies, 0.99))
          }
        }
      }
    }
  } finally {
    for (const w of live) {
      await w.server.stop()
      await w.client.stop()
    }
    for (const group of reusePortGroups.values()) for (const worker of group.workers) await worker.stop()
  }

  if (options.scenarios.includes("idle")) {
    const idleImpls = options.impls.filter((id) => id !== "node-http" && !skipped.some((s) => s.impl === id))
    for (let r = 0; r < options.idleRuns; r++) {
      for (const id of idleImpls) {
        try {
          const m = await idleOnce(id, options.idleConnections, pins, options.from)
          const kib = (x: number) => (x / 1024).toFixed(1)
          log(
            `  idle run ${r + 1} ${id}: ${kib(m.rss)} KiB RSS, ${kib(m.heap)} KiB heap per connection (server end ${kib(m.serverRss)} KiB RSS, ${kib(m.serverHeap)} KiB heap)` +
              (isBun(id)
                ? ""
                : `; young generation ${kib(m.young)}, old ${kib(m.old)}, RSS without young ${kib(m.rssOwn)} KiB`),
          )
          record(id, "idle", "RSS per connection", m.rss / 1024)
          record(id, "idle", "heap per connection", m.heap / 1024)
          if (!isBun(id)) {
            record(id, "idle", "RSS per connection (young generation excluded)", m.rssOwn / 1024)
            record(id, "idle", "young generation per connection", m.young / 1024)
            record(id, "idle", "old generation per connection", m.old / 1024)
          }
        } catch (e) {
          log(`  idle ${id}: failed: ${e instanceof Error ? e.message : String(e)}`)
        }
      }
    }
  }

  if (options.scenarios.includes("cluster")) {
    const clusterImpls = options.impls.filter((id): id is ClusterImpl => id === "netfx-node" || id === "platform-node")
    for (let r = 0; r < options.warmup + options.runs; r++) {
      const warm = r < options.warmup
      for (const id of clusterImpls) {
        try {
          const m = await clusterOnce(id, options.millis, pins.client, options.from)
          log(
            `  cluster ${warm ? "warm-up" : `run ${r - options.warmup + 1}`} ${id}: ${m.roundTrips.toFixed(0)} round trips/s, ${m.messages.toFixed(0)} messages/s`,
          )
          if (warm) continue
          record(id, "cluster", "round trips", m.roundTrips)
          record(id, "cluster", "messages", m.messages)
          record(
            id,
            "cluster",
            "CPU per op",
            m.cpuMicros / Math.max(1, (m.roundTrips + m.messages) * (options.millis / 1000)),
          )
        } catch (e) {
          log(`  cluster ${id}: failed: ${e instanceof Error ? e.message : String(e)}`)
        }
      }
    }
  }

  const rows = summarise(samples)
  const report: Report = {
    date: new Date().toISOString(),
    machine: {
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model ?? "unknown",
      node: process.version,
      bun: bunVersion(),
      loadAverageBefore,
      loadAverageAfter: os.loadavg(),
    },
    pinning: pinning(options.pin),
    options: {
      impls: options.impls,
      scenarios: options.scenarios,
      bulkBytes: options.bulkBytes,
      chunk: options.chunk,
      millis: options.millis,
      manyConnections: options.manyConnections,
      idleConnections: options.idleConnections,
      runs: options.runs,
      warmup: options.warmup,
      idleRuns: options.idleRuns,
      pin: options.pin,
      from: options.from,
    },
    rows,
    skipped,
    notes,
  }
  if (options.out !== undefined) {
    fs.mkdirSync(path.dirname(options.out), { recursive: true })
    fs.writeFileSync(options.out, `${JSON.stringify(report, null, 2)}\n`)
  }
  return report
}

export const pinning = (pin: Options["pin"]): string =>
  pin === "split"
    ? "server taskset -c 0, client taskset -c 1 (separate vCPUs)"
    : pin === "same"
      ? "server and client both taskset -c 0 (one vCPU)"
      : "not pinned"

const bunVersion = (): string | undefined => {
  try {
    return fs.existsSync(BUN)
      ? (
          JSON.parse(fs.readFileSync(path.join(BENCH_DIR, "..", "node_modules", "bun", "package.json"), "utf8")) as {
            version: string
          }
        ).version
      : undefined
  } catch {
    return undefined
  }
}

/** Growth per connection of one idle run, both ends summed unless named `server…` (bytes). */
interface IdleGrowth {
  /** RSS as it grew (the `idle` figure, as in every earlier version of the bench). */
  readonly rss: number
  /** RSS less the change of V8's young generation (Node; equal to `rss` on Bun). */
  readonly rssOwn: number
  readonly heap: number
  /** V8's young generation (new space and new large-object space), resident: 0 on Bun. */
  readonly young: number
  /** Every other V8 space, resident (the connections' objects live here after a full GC): 0 on Bun. */
  readonly old: number
  readonly serverRss: number
  readonly serverHeap: number
}

/**
 * One idle-memory measurement: a server process and a client process (each
 * holding one end of every connection), both measured as growth after a
 * warm-up; the figure per connection is the sum of both ends. On Node the
 * RSS growth is also reported less the change of V8's young generation:
 * after the full collections `settledMemory` forces it holds no live object
 * (V8's full collection promotes every survivor), and its size is a cost of
 * the process that V8 grows with the bytes surviving scavenges while the
 * connections open (more for the process that allocates more per connect),
 * up to a cap that differs between Node versions, and shrinks when
 * allocation goes quiet: divided by N it reads as memory per connection
 * (bench/README.md, `idle24`). `RSS per connection` keeps its meaning
 * across versions; the young generation's change, the old generation's and
 * the RSS without the young generation are rows of their own.
 */
const idleOnce = async (
  id: ImplId,
  connections: number,
  pins: { server?: string; client?: string },
  from: From,
): Promise<IdleGrowth> => {
  const server = new Worker(id, "idle-server", pins.server, true, from)
  const client = new Worker(id, "idle-client", pins.client, true, from)
  try {
    const { port } = (await server.next()) as { port: number }
    await client.next()
    type Mem = { rss: number; heap: number; young: number; old: number }
    // warm-up: the first connections pay one-off costs (code, pools)
    await client.request({ scenario: "open", port, connections: 100 })
    await server.request({ scenario: "wait", connections: 100 })
    await client.request({ scenario: "closeAll" })
    await new Promise((r) => setTimeout(r, 300))
    const s0 = await server.request<Mem>({ scenario: "mem" })
    const c0 = await client.request<Mem>({ scenario: "mem" })
    await client.request({ scenario: "open", port, connections })
    await server.request({ scenario: "wait", connections: connections + 100 })
    const s1 = await server.request<Mem>({ scenario: "mem" })
    const c1 = await client.request<Mem>({ scenario: "mem" })
    const grown = (key: keyof Mem) => (s1[key] - s0[key] + c1[key] - c0[key]) / connections
    return {
      rss: grown("rss"),
      rssOwn: grown("rss") - grown("young"),
      heap: grown("heap"),
      young: grown("young"),
      old: grown("old"),
      serverRss: (s1.rss - s0.rss) / connections,
      serverHeap: (s1.heap - s0.heap) / connections,
    }
  } finally {
    await client.stop()
    await server.stop()
  }
}

/**
 * One cluster measurement (bench/src/cluster.ts): two @effect/cluster runners
 * in one fresh process, messages over loopback TCP.
 */
const clusterOnce = (id: ClusterImpl, millis: number, cpu: string | undefined, from: From): Promise<ClusterResult> =>
  new Promise((resolve, reject) => {
    const command = [
      ...(cpu === undefined ? [] : ["taskset", "-c", cpu]),
      ...nodeCommand(from, "cluster", []),
      id,
      String(millis),
    ]
    const child = spawn(command[0] as string, command.slice(1), { cwd: BENCH_DIR, stdio: ["ignore", "pipe", "pipe"] })
    let out = ""
    let err = ""
    child.stdout?.on("data", (d: Buffer) => {
      out += d.toString()
    })
    child.stderr?.on("data", (d: Buffer) => {
      err = (err + d.toString()).slice(-2000)
    })
    child.once("exit", (code) => {
      if (code === 0) resolve(JSON.parse(out.trim().split("\n").pop() ?? "") as ClusterResult)
      else reject(new Error(`cluster ${id} exited (${code}): ${err.trim().split("\n").slice(-3).join(" | ")}`))
    })
  })

// ---- the HTTP scenarios (driven by wrk) ----

interface Live {
  readonly id: ImplId
  readonly server: Worker
  readonly client: Worker
  readonly ports: ServerPorts
}

/**
 * The accept loop again with netfx's bracket connect (`Tcp.withConnection`),
 * right after the `Effect.scoped` one in the same run: its rows have
 * metrics of their own, compared with raw's `accepts` and `CPU per op`
 * (`BASE_METRIC`), and the `Effect.scoped` rows stay as they were.
 */
const acceptBracketRun = async (
  w: Live,
  millis: number,
  label: string,
  log: (line: string) => void,
  record: (metric: string, value: number) => void,
): Promise<void> => {
  try {
    const server0 = await w.server.request<number>({ scenario: "cpu" })
    const result = await w.client.request<Timed & { readonly cpuMicros: number }>({
      scenario: "acceptBracket",
      port: w.ports.accept,
      millis,
    })
    const serverCpu = (await w.server.request<number>({ scenario: "cpu" })) - server0
    const rate = result.count / result.seconds
    const perOp = (result.cpuMicros + serverCpu) / Math.max(1, result.count)
    log(`  accept (withConnection) ${label} ${w.id}: ${rate.toFixed(0)}/s (CPU per op ${perOp.toFixed(0)} µs)`)
    if (label === "warm-up") return
    record("accepts (withConnection)", rate)
    record("CPU per op (withConnection)", perOp)
  } catch (e) {
    log(`  accept (withConnection) ${w.id}: failed: ${e instanceof Error ? e.message : String(e)}`)
  }
}

/** Metrics compared with another metric of the baseline (raw has no bracket row of its own). */
const BASE_METRIC: Readonly<Record<string, string>> = {
  "accepts (withConnection)": "accepts",
  "CPU per op (withConnection)": "CPU per op",
}

/** reusePort configurations that could not start (e.g. no SO_REUSEPORT in node:net before Node 22.12). */
const groupFailures = new Map<string, Error>()

/** The server processes of one reusePort configuration (one or two processes sharing the ports). */
interface ReusePortGroup {
  readonly workers: ReadonlyArray<Worker>
  readonly ports: { readonly keepAlive: number; readonly close: number }
}

const wrkVersion = (): string | undefined => {
  const r = spawnSync("wrk", ["--version"], { encoding: "utf8" })
  if (r.error !== undefined) return undefined
  return `${r.stdout}${r.stderr}`.split("\n")[0]
}

/** Connections wrk keeps open in the http scenario and the keep-alive half of reuseport. */
const HTTP_CONNECTIONS = 50
/** Concurrent connect-request-close loops in the accept half of reuseport. */
const CLOSE_CONNECTIONS = 16

interface WrkResult {
  readonly requests: number
  readonly seconds: number
  readonly p99Micros: number
  readonly errors: string | undefined
}

const UNIT_SECONDS: Record<string, number> = { us: 1e-6, ms: 1e-3, s: 1, m: 60 }

const micros = (value: string, unit: string): number =>
  Number(value) * (unit === "us" ? 1 : unit === "ms" ? 1000 : unit === "s" ? 1e6 : Number.NaN)

/** Runs wrk against 127.0.0.1:port (GET /), pinned like a client. */
const wrkRun = (port: number, connections: number, millis: number, cpu: string | undefined): Promise<WrkResult> =>
  new Promise((resolve, reject) => {
    // wrk takes whole seconds
    const seconds = Math.max(1, Math.round(millis / 1000))
    const args = ["-t1", `-c${connections}`, `-d${seconds}s`, "--latency", `http://127.0.0.1:${port}/`]
    const [file, ...argv] = cpu === undefined ? ["wrk", ...args] : ["taskset", "-c", cpu, "wrk", ...args]
    const child = spawn(file as string, argv, { stdio: ["ignore", "pipe", "pipe"] })
    let out = ""
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString()
    })
    child.stderr.on("data", (d: Buffer) => {
      out += d.toString()
    })
    child.once("error", reject)
    child.once("exit", (code) => {
      const total = /(\d+) requests in ([\d.]+)(us|ms|s|m)/.exec(out)
      const p99 = /^\s*99%\s+([\d.]+)(us|ms|s)\s*$/m.exec(out)
      if (code !== 0 || total === null || p99 === null) return reject(new Error(`wrk failed: ${out.trim()}`))
      const errors = /Socket errors:.*|Non-2xx or 3xx responses:.*/.exec(out)?.[0]
      resolve({
        requests: Number(total[1]),
        seconds: Number(total[2]) * (UNIT_SECONDS[total[3] as string] ?? Number.NaN),
        p99Micros: micros(p99[1] as string, p99[2] as string),
        errors,
      })
    })
  })

/** The http scenario: wrk with HTTP_CONNECTIONS keep-alive connections against one server process. */
const httpRun = async (
  w: Live,
  options: Options,
  pins: { server?: string; client?: string },
): Promise<Array<[string, number]>> => {
  const port = w.ports.http?.keepAlive ?? 0
  const cpu0 = await w.server.request<number>({ scenario: "cpu" })
  const r = await wrkRun(port, HTTP_CONNECTIONS, options.millis, pins.client)
  const cpu = (await w.server.request<number>({ scenario: "cpu" })) - cpu0
  if (r.errors !== undefined) options.log(`  http ${w.id}: wrk: ${r.errors}`)
  return [
    ["requests", r.requests / r.seconds],
    ["p99 latency", r.p99Micros],
    ["server CPU per request", cpu / Math.max(1, r.requests)],
  ]
}

/**
 * The reusePort scenario: the same HTTP servers in one process, then in two
 * processes bound to the same ports with SO_REUSEPORT (the kernel spreads
 * new connections over both). wrk drives keep-alive requests
 * (HTTP_CONNECTIONS connections: the "many" shape) and connection-per-request
 * (CLOSE_CONNECTIONS concurrent connect/request/close loops: the accept
 * shape). One process runs on the server CPU; the second of two on the
 * client CPU, which it shares with wrk.
 */
const reusePortRun = async (
  w: Live,
  options: Options,
  pins: { server?: string; client?: string },
  groups: Map<string, ReusePortGroup>,
): Promise<Array<[string, number]>> => {
  const group = async (n: 1 | 2): Promise<ReusePortGroup> => {
    const key = `${w.id}/${n}`
    const existing = groups.get(key)
    if (existing !== undefined) return existing
    const failed = groupFailures.get(key)
    if (failed !== undefined) throw failed
    // one process binds without SO_REUSEPORT (what a lone server does, and
    // what node:net before 22.12 can do); two bind with it
    const first = new Worker(w.id, "http-server", pins.server, false, options.from, [
      "0",
      "0",
      n === 1 ? "single" : "shared",
    ])
    const workers = [first]
    try {
      const ports = (await first.next()) as { keepAlive: number; close: number }
      if (n === 2) {
        const second = new Worker(w.id, "http-server", pins.client, false, options.from, [
          String(ports.keepAlive),
          String(ports.close),
        ])
        workers.push(second)
        await second.next()
      }
      const g = { workers, ports }
      groups.set(key, g)
      return g
    } catch (e) {
      for (const worker of workers) await worker.stop()
      const error = new Error(`${n} process${n === 1 ? "" : "es"}: ${e instanceof Error ? e.message : String(e)}`)
      groupFailures.set(key, error)
      throw error
    }
  }
  const measure = async (g: ReusePortGroup, port: number, connections: number) => {
    const cpus0 = await Promise.all(g.workers.map((x) => x.request<number>({ scenario: "cpu" })))
    const r = await wrkRun(port, connections, options.millis, pins.client)
    const cpus = await Promise.all(g.workers.map((x) => x.request<number>({ scenario: "cpu" })))
    if (r.errors !== undefined) options.log(`  reuseport ${w.id}: wrk: ${r.errors}`)
    return { rate: r.requests / r.seconds, cpu: cpus.reduce((a, c, i) => a + c - (cpus0[i] ?? 0), 0) }
  }
  const one = await group(1)
  const keep1 = await measure(one, one.ports.keepAlive, HTTP_CONNECTIONS)
  const close1 = await measure(one, one.ports.close, CLOSE_CONNECTIONS)
  let two: ReusePortGroup
  try {
    two = await group(2)
  } catch (e) {
    // the one-process rows stand alone (a server-side accept rate under wrk)
    options.log(`  reuseport ${w.id}: ${e instanceof Error ? e.message : String(e)}; 1-process rows only`)
    return [
      ["requests, 1 process", keep1.rate],
      ["accepts, 1 process", close1.rate],
    ]
  }
  const keep2 = await measure(two, two.ports.keepAlive, HTTP_CONNECTIONS)
  const close2 = await measure(two, two.ports.close, CLOSE_CONNECTIONS)
  return [
    ["requests, 1 process", keep1.rate],
    ["requests, 2 processes", keep2.rate],
    ["requests, 2 ÷ 1 process", keep2.rate / keep1.rate],
    ["accepts, 1 process", close1.rate],
    ["accepts, 2 processes", close2.rate],
    ["accepts, 2 ÷ 1 process", close2.rate / close1.rate],
  ]
}

const UNITS: Record<string, { unit: string; better: "higher" | "lower" }> = {
  messages: { unit: "messages/s", better: "higher" },
  throughput: { unit: "MB/s", better: "higher" },
  "round trips": { unit: "round trips/s", better: "higher" },
  "p50 latency": { unit: "µs", better: "lower" },
  "p99 latency": { unit: "µs", better: "lower" },
  accepts: { unit: "connections/s", better: "higher" },
  "accepts (withConnection)": { unit: "connections/s", better: "higher" },
  handshakes: { unit: "handshakes/s", better: "higher" },
  "delivered packets": { unit: "datagrams/s", better: "higher" },
  "sent packets": { unit: "datagrams/s", better: "higher" },
  loss: { unit: "% of sent", better: "lower" },
  "delivered packets, raw sender": { unit: "datagrams/s", better: "higher" },
  "loss, raw sender": { unit: "% of sent", better: "lower" },
  "receiver CPU per datagram, raw sender": { unit: "µs CPU (server)", better: "lower" },
  "CPU per op": { unit: "µs CPU (client+server)", better: "lower" },
  "CPU per op (withConnection)": { unit: "µs CPU (client+server)", better: "lower" },
  "CPU per MB": { unit: "µs CPU (client+server)", better: "lower" },
  requests: { unit: "requests/s", better: "higher" },
  "server CPU per request": { unit: "µs CPU (server)", better: "lower" },
  "requests, 1 process": { unit: "requests/s", better: "higher" },
  "requests, 2 processes": { unit: "requests/s", better: "higher" },
  "requests, 2 ÷ 1 process": { unit: "×", better: "higher" },
  "accepts, 1 process": { unit: "connections/s", better: "higher" },
  "accepts, 2 processes": { unit: "connections/s", better: "higher" },
  "accepts, 2 ÷ 1 process": { unit: "×", better: "higher" },
  "RSS per connection": { unit: "KiB", better: "lower" },
  "heap per connection": { unit: "KiB", better: "lower" },
  "RSS per connection (young generation excluded)": { unit: "KiB", better: "lower" },
  "young generation per connection": { unit: "KiB", better: "lower" },
  "old generation per connection": { unit: "KiB", better: "lower" },
}

const summarise = (samples: Map<string, Array<number>>): Array<Row> => {
  const stats = new Map<string, Summary>()
  for (const [key, values] of samples) stats.set(key, summarize(values))
  const rows: Array<Row> = []
  for (const scenario of SCENARIOS) {
    for (const metric of Object.keys(UNITS)) {
      for (const impl of IMPLS) {
        const s = stats.get(`${impl}\u0000${scenario}\u0000${metric}`)
        if (s === undefined) continue
        const base = (b: ImplId) => stats.get(`${b}\u0000${scenario}\u0000${BASE_METRIC[metric] ?? metric}`)?.median
        const rawNode = base("raw-node")
        // the cluster scenario has no raw baseline: its ratio is to NodeClusterSocket
        const same = base(scenario === "cluster" ? "platform-node" : isBun(impl) ? "raw-bun" : "raw-node")
        const u = UNITS[metric] as { unit: string; better: "higher" | "lower" }
        rows.push({
          implementation: NAMES[impl],
          impl,
          scenario,
          metric,
          unit: u.unit,
          better: u.better,
          value: s.median,
          median: s.median,
          min: s.min,
          max: s.max,
          runs: s.runs,
          ratio: same === undefined || same === 0 ? undefined : s.median / same,
          ratioToRawNode: rawNode === undefined || rawNode === 0 ? undefined : s.median / rawNode,
        })
      }
    }
  }
  return rows
}

// ---- presentation ----

const fmt = (x: number): string =>
  Number.isNaN(x) ? "n/a" : Math.abs(x) >= 100 ? Math.round(x).toLocaleString("en-US") : x.toFixed(1)
const fmtRatio = (x: number | undefined): string => (x === undefined ? "" : `${x.toFixed(2)}×`)

/** The targets of issue 9 (netfx on Node against raw node:net). */
export const TARGETS: ReadonlyArray<{ scenario: Scenario; metric: string; bound: number; text: string }> = [
  { scenario: "bulk", metric: "throughput", bound: 0.95, text: "bulk ≥ 0.95× raw" },
  { scenario: "pingpong", metric: "round trips", bound: 0.75, text: "ping-pong ≥ 0.75× raw" },
  { scenario: "accept", metric: "accepts", bound: 0.8, text: "accepts/s ≥ 0.8× raw" },
  { scenario: "idle", metric: "RSS per connection", bound: 1.3, text: "idle RSS ≤ 1.3× raw" },
  { scenario: "udp", metric: "delivered packets", bound: 0.8, text: "UDP packets/s ≥ 0.8× raw dgram" },
]

/** A Markdown table of the report (also what `pnpm bench` prints). */
export const table = (report: Report): string => {
  const out: Array<string> = []
  out.push("| scenario | metric | implementation | median | min | max | unit | × raw (same runtime) | × raw node:net |")
  out.push("|---|---|---|---:|---:|---:|---|---:|---:|")
  for (const r of report.rows) {
    out.push(
      `| ${r.scenario} | ${r.metric} | ${r.implementation} | ${fmt(r.median)} | ${fmt(r.min)} | ${fmt(r.max)} | ${r.unit} | ${fmtRatio(r.ratio)} | ${fmtRatio(r.ratioToRawNode)} |`,
    )
  }
  const lines = [out.join("\n"), ""]
  const verdicts: Array<string> = []
  for (const t of TARGETS) {
    const row = report.rows.find((r) => r.impl === "netfx-node" && r.scenario === t.scenario && r.metric === t.metric)
    if (row?.ratio === undefined) continue
    const ok = row.better === "higher" ? row.ratio >= t.bound : row.ratio <= t.bound
    verdicts.push(`- ${t.text}: netfx (Node) ${row.ratio.toFixed(2)}× — ${ok ? "meets" : "MISSES"}`)
  }
  for (const row of report.rows.filter((r) => r.impl === "netfx-node")) {
    const p = report.rows.find(
      (r) => r.impl === "platform-node" && r.scenario === row.scenario && r.metric === row.metric,
    )
    if (p === undefined) continue
    const ahead = row.better === "higher" ? row.median > p.median : row.median < p.median
    verdicts.push(
      `- ${row.scenario} ${row.metric}: netfx (Node) ${fmt(row.median)} vs NodeSocket ${fmt(p.median)} ${row.unit} — ${ahead ? "ahead" : "BEHIND"}`,
    )
  }
  if (verdicts.length > 0) lines.push("Targets:", ...verdicts, "")
  if (report.skipped.length > 0) lines.push(...report.skipped.map((s) => `Skipped ${s.impl}: ${s.reason}`), "")
  if (report.notes.length > 0) lines.push(...report.notes, "")
  lines.push(
    `Machine: ${report.machine.cpus} × ${report.machine.cpuModel}, Node ${report.machine.node}, Bun ${report.machine.bun ?? "n/a"}; ${report.pinning}; load average before ${report.machine.loadAverageBefore.map((x) => x.toFixed(2)).join(" ")}, after ${report.machine.loadAverageAfter.map((x) => x.toFixed(2)).join(" ")}`,
  )
  return lines.join("\n")
}
