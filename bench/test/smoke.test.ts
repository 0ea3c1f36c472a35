/**
 * Smoke test: every scenario runs briefly for every Node implementation (in
 * process), and the whole harness runs once with tiny sizes (worker
 * processes, Bun included when it is installed). No timing assertions:
 * benchmarks are not unit tests; this only keeps the code from rotting.
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { pathToFileURL } from "node:url"
import { describe, expect, it } from "@effect/vitest"
import { BENCH_DIR, BUN, buildForBench, run, SCENARIOS, table } from "../src/harness.ts"
import { nodeHasReusePort, RESPONSE, RESPONSE_CLOSE } from "../src/impls/http.ts"
import { selfSigned, until } from "../src/impls/types.ts"
import { parseOptions } from "../src/main.ts"
import { type ImplId, loadImpl } from "../src/worker.ts"

// platform-node first: run after the netfx test in the same vitest worker, its
// imports fail to resolve fast-check's pure-rand (a module-resolution quirk of
// the test runner, not of the code under test; the harness test covers it in
// a plain worker process too)
const NODE_IMPLS: ReadonlyArray<ImplId> = ["platform-node", "raw-node", "netfx-node"]

const hasWrk = spawnSync("wrk", ["--version"]).error === undefined

/** Sends `parts` on one connection and collects everything until `expected` bytes arrived or the server closed. */
const exchange = (port: number, parts: ReadonlyArray<string>, expected: number) =>
  new Promise<{ readonly bytes: Buffer; readonly closed: boolean }>((resolve, reject) => {
    const socket = net.connect({ host: "127.0.0.1", port })
    const chunks: Array<Buffer> = []
    let length = 0
    socket.on("error", reject)
    socket.on("connect", async () => {
      // one write per part, apart, so the server sees the requests split across reads
      for (const part of parts) {
        socket.write(part)
        await new Promise((r) => setTimeout(r, 20))
      }
    })
    socket.on("data", (d: Buffer) => {
      chunks.push(d)
      length += d.length
      if (length >= expected) setTimeout(() => finish(false), 50)
    })
    socket.on("end", () => finish(true))
    let done = false
    const finish = (closed: boolean) => {
      if (done) return
      done = true
      socket.destroy()
      resolve({ bytes: Buffer.concat(chunks), closed })
    }
  })

describe("bench smoke", () => {
  for (const id of ["raw-node", "netfx-node", "node-http"] as const) {
    it(`${id}: the HTTP servers answer pipelined, split requests and close when asked`, async () => {
      const impl = await loadImpl(id)
      const port = await impl.httpServe!({ port: 0, reusePort: false, close: false })
      const get = "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
      // three requests: the first split inside its terminator, the next two in one write
      const keepAlive = await exchange(port, [get.slice(0, -3), get.slice(-3) + get + get], 3 * RESPONSE.length)
      expect(keepAlive.closed).toBe(false)
      const text = keepAlive.bytes.toString()
      expect(text.match(/HTTP\/1\.1 200 OK/g)?.length).toBe(3)
      expect(text.match(/Hello, world!/g)?.length).toBe(3)
      const closing = await impl.httpServe!({ port: 0, reusePort: false, close: true })
      const once = await exchange(closing, [get], RESPONSE_CLOSE.length + 1)
      expect(once.closed).toBe(true)
      expect(once.bytes.toString()).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*Connection: close\r\n[\s\S]*Hello, world!$/i)
    })
  }

  for (const id of NODE_IMPLS) {
    it(`${id}: every scenario runs`, async () => {
      const impl = await loadImpl(id)
      const ports = await impl.serve()
      const bulk = await impl.bulk({ port: ports.sink }, 1 << 20, 65536)
      expect(bulk.count).toBe(1 << 20)
      expect(bulk.seconds).toBeGreaterThan(0)
      expect(ports.unixSink).toBeDefined()
      const unix = await impl.bulk({ path: ports.unixSink ?? "" }, 1 << 20, 65536)
      expect(unix.count).toBe(1 << 20)
      const ping = await impl.pingPong(ports.echo, 100)
      expect(ping.count).toBeGreaterThan(0)
      expect(ping.latencies.length).toBe(ping.count)
      const many = await impl.many(ports.echo, 5, 100)
      expect(many.count).toBeGreaterThanOrEqual(5)
      const accept = await impl.accept(ports.accept, 100)
      expect(accept.count).toBeGreaterThan(0)
      // netfx's accept client written with Tcp.withConnection
      if (id === "netfx-node") expect((await impl.acceptBracket?.(ports.accept, 100))?.count).toBeGreaterThan(0)
      if (impl.udpSink !== undefined && impl.udpSend !== undefined) {
        const sink = await impl.udpSink()
        const sent = await impl.udpSend(sink.port, 100, 64)
        expect(sent.count).toBeGreaterThan(0)
        await until(() => sink.received() > 0, 10_000)
      }
      if (impl.unixDatagramSink !== undefined && impl.unixDatagramSend !== undefined) {
        const dgramPath = `${ports.unixSink ?? ""}.${id}.dgram`
        const sink = await impl.unixDatagramSink(dgramPath)
        const sent = await impl.unixDatagramSend(dgramPath, 100, 64)
        expect(sent.count).toBeGreaterThan(0)
        // a Unix datagram sender waits instead of dropping: everything sent arrives
        let delivered = await sink.received()
        for (let i = 0; i < 500 && delivered < sent.count; i++) {
          await new Promise((r) => setTimeout(r, 10))
          delivered = await sink.received()
        }
        expect(delivered).toBe(sent.count)
      }
      if (impl.tlsServe !== undefined && impl.tlsBulk !== undefined && impl.tlsHandshakes !== undefined) {
        const { cert, key } = selfSigned()
        const tls = await impl.tlsServe(cert, key)
        expect((await impl.tlsBulk(tls.sink, cert, 1 << 20, 65536)).count).toBe(1 << 20)
        expect((await impl.tlsHandshakes(tls.accept, cert, 100)).count).toBeGreaterThan(0)
      }
      const idle = await impl.idleServer()
      const close = await impl.idleOpen(idle.port, 20)
      await until(() => idle.accepted() >= 20, 10_000)
      expect(idle.accepted()).toBe(20)
      await close()
    })
  }

  it("the compiled bench resolves @netfx/* to the packages' published builds", () => {
    const lines: Array<string> = []
    buildForBench((line) => lines.push(line))
    const dist = path.join(BENCH_DIR, "dist")
    for (const pkg of ["core", "node", "bun", "cluster"]) {
      const manifest = (dir: string) =>
        JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")) as {
          exports: unknown
          publishConfig: { exports: unknown }
        }
      const staged = manifest(path.join(dist, "node_modules", "@netfx", pkg))
      expect(staged.exports).toEqual(manifest(path.join(BENCH_DIR, "..", "packages", pkg)).publishConfig.exports)
    }
    // what a worker (bench/dist/src/*.js) gets for each bare specifier, in each runtime
    const resolve = (runtime: string, specifiers: ReadonlyArray<string>) => {
      const probe = path.join(dist, "src", `resolve-probe-${process.pid}.js`)
      fs.writeFileSync(
        probe,
        `console.log(JSON.stringify(${JSON.stringify(specifiers)}.map((s) => import.meta.resolve(s))))\n`,
      )
      try {
        const r = spawnSync(runtime, [probe], { encoding: "utf8" })
        expect(r.status, r.stderr).toBe(0)
        return JSON.parse(r.stdout) as Array<string>
      } finally {
        fs.rmSync(probe)
      }
    }
    const staged = (pkg: string, file: string) =>
      pathToFileURL(path.join(dist, "node_modules", "@netfx", pkg, file)).href
    expect(resolve(process.execPath, ["@netfx/core", "@netfx/node", "@netfx/cluster"])).toEqual([
      staged("core", "dist/src/index.js"),
      staged("node", "dist/index.js"),
      staged("cluster", "dist/index.js"),
    ])
    if (fs.existsSync(BUN))
      expect(resolve(BUN, ["@netfx/core", "@netfx/bun"])).toEqual([
        staged("core", "dist/src/index.js"),
        staged("bun", "dist/index.js"),
      ])
  }, 120_000)

  it("the harness runs every scenario end to end and writes its JSON", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "netfx-bench-"))
    const out = path.join(dir, "latest.json")
    const impls: Array<ImplId> = ["raw-node", "netfx-node", "node-http"]
    if (fs.existsSync(BUN)) impls.push("raw-bun")
    const lines: Array<string> = []
    const options = {
      ...parseOptions(["--quick", "--duration=0.1", "--idle=50", `--impls=${impls.join(",")}`, `--out=${out}`], {}),
      log: (line: string) => lines.push(line),
    }
    try {
      const report = await run(options)
      expect(report.skipped).toEqual([])
      if (!hasWrk) expect(report.notes.join("\n")).toContain("http, reuseport: skipped, wrk not found")
      for (const scenario of SCENARIOS) {
        for (const impl of impls) {
          // raw Bun has no TLS loop in the harness
          if (impl === "raw-bun" && (scenario === "tls" || scenario === "handshake")) continue
          // the cluster scenario runs @effect/cluster over netfx and over NodeClusterSocket only
          if (scenario === "cluster" && impl !== "netfx-node") continue
          // the HTTP scenarios need wrk
          if ((scenario === "http" || scenario === "reuseport") && !hasWrk) continue
          // node:http takes part in the HTTP scenarios only
          if (impl === "node-http" && scenario !== "http" && scenario !== "reuseport") continue
          expect(
            report.rows.some((r) => r.scenario === scenario && r.impl === impl),
            `${scenario} ${impl}: ${lines.join("\n")}`,
          ).toBe(true)
        }
      }
      // every UDP receiver is also measured under its runtime's raw sender (equal offered load)
      for (const impl of impls.filter((i) => i !== "node-http"))
        expect(
          report.rows.some((r) => r.scenario === "udp" && r.impl === impl && r.metric === "loss, raw sender"),
          `udp ${impl}: ${lines.join("\n")}`,
        ).toBe(true)
      if (hasWrk) {
        // node:net binds with SO_REUSEPORT from Node 22.12 on; before, only the one-process rows
        for (const impl of ["raw-node", "node-http"] as const) {
          const metrics = report.rows.filter((r) => r.scenario === "reuseport" && r.impl === impl).map((r) => r.metric)
          expect(metrics).toContain("accepts, 1 process")
          expect(metrics.includes("accepts, 2 processes")).toBe(nodeHasReusePort)
        }
      }
      // netfx's accept client written with Tcp.withConnection: rows of its own, compared with raw's
      const bracket = report.rows.find((r) => r.impl === "netfx-node" && r.metric === "accepts (withConnection)")
      expect(bracket?.scenario).toBe("accept")
      expect(bracket?.ratio).toBeGreaterThan(0)
      const json = JSON.parse(fs.readFileSync(out, "utf8")) as { rows: Array<{ ratio?: number }> }
      expect(json.rows.length).toBe(report.rows.length)
      expect(table(report)).toContain("| bulk | throughput | netfx (Node) |")
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
    // the whole harness: worker start-ups, every scenario (the cluster scenario starts fresh processes
    // per run and implementation) and wrk's whole-second runs
  }, 300_000)
})
