/**
 * Idle-memory accounting: opens N idle connections in this process (both ends,
 * or one end against a raw peer of the same runtime) and prints, per
 * connection, what the JS heap and the RSS gained. Used for the idle-memory
 * sections of bench/README.md.
 *
 * From two heap snapshots (before and after; on Bun, JSC's snapshot in V8's
 * format), self size by constructor or closure name, plus `heapUsed` and RSS
 * after a full GC.
 *
 *   node --expose-gc --import tsx bench/src/idleHeap.ts
 *   bun bench/src/idleHeap.ts          (add --smol to compare Bun's small-heap mode)
 *   IMPL=raw|netfx SIDE=both|server|client N=2000 ROWS=45 KEEP=1 (keeps the snapshots in the temp dir)
 */

import * as fs from "node:fs"
import * as os from "node:os"
import { fullGc, isBun, netfxImpl, rawImpl } from "./impls/thisRuntime.ts"

const N = Number(process.env.N ?? 2000)
const which = process.env.IMPL ?? "netfx"
const side = process.env.SIDE ?? "both"

const gc = fullGc

/** Count and bytes per object kind (constructor, or closure name). */
type Counts = Map<string, { count: number; size: number }>
let shot = 0

/** A heap snapshot in V8's format (Bun writes one too: `Bun.generateHeapSnapshot("v8")`). */
const snapshotText = async (): Promise<string> => {
  const bun = (globalThis as { Bun?: { generateHeapSnapshot(format: "v8"): string } }).Bun
  const text =
    bun !== undefined
      ? bun.generateHeapSnapshot("v8")
      : await import("node:v8").then((v8) => {
          const file = v8.writeHeapSnapshot()
          const t = fs.readFileSync(file, "utf8")
          fs.rmSync(file)
          return t
        })
  if (process.env.KEEP) fs.writeFileSync(`${os.tmpdir()}/netfx-idle-${shot++}.heapsnapshot`, text)
  return text
}

const snapshot = async (): Promise<Counts> => {
  const snap = JSON.parse(await snapshotText())
  const f = snap.snapshot.meta.node_fields as string[]
  const types = snap.snapshot.meta.node_types[0] as string[]
  const nf = f.length
  const iType = f.indexOf("type"),
    iName = f.indexOf("name"),
    iSize = f.indexOf("self_size")
  const nodes = snap.nodes as number[]
  const strings = snap.strings as string[]
  const out: Counts = new Map()
  for (let i = 0; i < nodes.length; i += nf) {
    const t = types[nodes[i + iType]!]!
    let name = t === "object" || t === "closure" || t === "native" ? strings[nodes[i + iName]!]! : `(${t})`
    if (t === "closure") name = `closure ${name}`
    const e = out.get(name) ?? { count: 0, size: 0 }
    e.count++
    e.size += nodes[i + iSize]!
    out.set(name, e)
  }
  return out
}

const settle = async () => {
  for (let i = 0; i < 3; i++) {
    gc()
    await new Promise((r) => setTimeout(r, 20))
  }
}

interface Shot {
  readonly counts: Counts
  readonly heap: number
  readonly rss: number
}

const measure = async (): Promise<Shot> => {
  await settle()
  const m = process.memoryUsage()
  return { counts: await snapshot(), heap: m.heapUsed, rss: m.rss }
}

const main = async () => {
  const raw = await rawImpl()
  const impl = which === "raw" ? raw : await netfxImpl()
  const sImpl = side === "client" ? raw : impl
  const cImpl = side === "server" ? raw : impl
  const srv = await sImpl.idleServer()
  const warm = await cImpl.idleOpen(srv.port, 100)
  const before = await measure()
  const close = await cImpl.idleOpen(srv.port, N)
  while (srv.accepted() < N + 100) await new Promise((r) => setTimeout(r, 10))
  const after = await measure()
  const rows: Array<[string, number, number]> = []
  let total = 0
  for (const [name, a] of after.counts) {
    const b = before.counts.get(name) ?? { count: 0, size: 0 }
    const dc = a.count - b.count,
      ds = a.size - b.size
    total += ds
    if (Math.abs(ds) / N >= 8) rows.push([name, dc / N, ds / N])
  }
  rows.sort((x, y) => y[2] - x[2])
  const perConn = (bytes: number) => `${(bytes / N / 1024).toFixed(1)} KiB`
  console.log(
    `${which} (${side}, ${isBun ? `bun ${process.versions.bun}` : `node ${process.versions.node}`}): ` +
      `heapUsed ${perConn(after.heap - before.heap)}, RSS ${perConn(after.rss - before.rss)} per connection; ` +
      `heap snapshot self size ${(total / N).toFixed(0)} B per connection`,
  )
  for (const [n, c, s] of rows.slice(0, Number(process.env.ROWS ?? 45)))
    console.log(`${s.toFixed(0).padStart(6)} B  ${c.toFixed(2).padStart(6)}x  ${n}`)
  await close()
  await warm()
  process.exit(0)
}
main()
