/**
 * Smoke test: every scenario runs briefly for every Node implementation (in
 * process), and the whole harness runs once with tiny sizes (worker
 * processes, Bun included when it is installed). No timing assertions:
 * benchmarks are not unit tests; this only keeps the code from rotting.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { BUN, run, SCENARIOS, table } from "../src/harness.ts"
import { selfSigned, until } from "../src/impls/types.ts"
import { parseOptions } from "../src/main.ts"
import { type ImplId, loadImpl } from "../src/worker.ts"

// platform-node first: run after the netfx test in the same vitest worker, its
// imports fail to resolve fast-check's pure-rand (a module-resolution quirk of
// the test runner, not of the code under test; the harness test covers it in
// a plain worker process too)
const NODE_IMPLS: ReadonlyArray<ImplId> = ["platform-node", "raw-node", "netfx-node"]

describe("bench smoke", () => {
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

  it("the harness runs every scenario end to end and writes its JSON", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "netfx-bench-"))
    const out = path.join(dir, "latest.json")
    const impls: Array<ImplId> = ["raw-node", "netfx-node"]
    if (fs.existsSync(BUN)) impls.push("raw-bun")
    const lines: Array<string> = []
    const options = {
      ...parseOptions(["--quick", "--duration=0.1", "--idle=50", `--impls=${impls.join(",")}`, `--out=${out}`], {}),
      log: (line: string) => lines.push(line),
    }
    try {
      const report = await run(options)
      expect(report.skipped).toEqual([])
      for (const scenario of SCENARIOS) {
        for (const impl of impls) {
          // raw Bun has no TLS loop in the harness
          if (impl === "raw-bun" && (scenario === "tls" || scenario === "handshake")) continue
          // the cluster scenario runs @effect/cluster over netfx and over NodeClusterSocket only
          if (scenario === "cluster" && impl !== "netfx-node") continue
          expect(
            report.rows.some((r) => r.scenario === scenario && r.impl === impl),
            `${scenario} ${impl}: ${lines.join("\n")}`,
          ).toBe(true)
        }
      }
      const json = JSON.parse(fs.readFileSync(out, "utf8")) as { rows: Array<{ ratio?: number }> }
      expect(json.rows.length).toBe(report.rows.length)
      expect(table(report)).toContain("| bulk | throughput | netfx (Node) |")
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
    // every scenario starts fresh processes (the cluster scenario one per run and implementation):
    // minutes on a loaded machine
  }, 300_000)
})
