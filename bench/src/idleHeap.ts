/**
 * Idle-memory accounting: opens N idle connections in this process (both ends,
 * or one end against a raw node:net peer) and prints, per connection, what
 * the JS heap gained, by constructor, from two heap snapshots (before and
 * after). Used for the idle-memory section of bench/README.md.
 *
 *   node --expose-gc --import tsx bench/src/idleHeap.ts
 *   IMPL=raw|netfx SIDE=both|server|client N=2000 KEEP=1 (keeps the snapshots in the temp dir)
 */

import * as fs from "node:fs"
import * as os from "node:os"
import * as v8 from "node:v8"
import { NodeNetwork } from "@netfx/node"
import { netfx } from "./impls/netfx.ts"
import { rawNode } from "./impls/rawNode.ts"

const N = Number(process.env.N ?? 2000)
const which = process.env.IMPL ?? "netfx"
const side = process.env.SIDE ?? "both"
const impl = which === "raw" ? rawNode : netfx("netfx", NodeNetwork.layer)
const gc = (globalThis as unknown as { gc: () => void }).gc

type Counts = Map<string, { count: number; size: number }>
let shot = 0
const snapshot = (): Counts => {
  const file = v8.writeHeapSnapshot()
  if (process.env.KEEP) fs.copyFileSync(file, `${os.tmpdir()}/netfx-idle-${shot++}.heapsnapshot`)
  const snap = JSON.parse(fs.readFileSync(file, "utf8"))
  fs.rmSync(file)
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

const main = async () => {
  const sImpl = side === "client" ? rawNode : impl
  const cImpl = side === "server" ? rawNode : impl
  const srv = await sImpl.idleServer()
  const warm = await cImpl.idleOpen(srv.port, 100)
  for (let i = 0; i < 3; i++) {
    gc()
    await new Promise((r) => setTimeout(r, 20))
  }
  const before = snapshot()
  const close = await cImpl.idleOpen(srv.port, N)
  while (srv.accepted() < N + 100) await new Promise((r) => setTimeout(r, 10))
  for (let i = 0; i < 3; i++) {
    gc()
    await new Promise((r) => setTimeout(r, 20))
  }
  const after = snapshot()
  const rows: Array<[string, number, number]> = []
  let total = 0
  for (const [name, a] of after) {
    const b = before.get(name) ?? { count: 0, size: 0 }
    const dc = a.count - b.count,
      ds = a.size - b.size
    total += ds
    if (Math.abs(ds) / N >= 8) rows.push([name, dc / N, ds / N])
  }
  rows.sort((x, y) => y[2] - x[2])
  console.log(`${which} (${side}): heap snapshot self size ${(total / N).toFixed(0)} B per connection`)
  for (const [n, c, s] of rows.slice(0, 45))
    console.log(`${s.toFixed(0).padStart(6)} B  ${c.toFixed(2).padStart(6)}x  ${n}`)
  await close()
  await warm()
  process.exit(0)
}
main()
