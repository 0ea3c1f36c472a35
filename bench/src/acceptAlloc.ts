/**
 * JS heap allocated per accept cycle (connect, the server accepts and
 * closes, the client sees the EOF and closes), client and server in this one
 * process: the growth of the used heap over a window in which no GC ran
 * (windows with a GC are dropped). Unlike CPU time, other load on the
 * machine does not disturb it. Used for the server-path section of
 * bench/README.md.
 *
 *   node --expose-gc --max-semi-space-size=128 --import tsx bench/src/acceptAlloc.ts
 *   SERVER=raw|netfx CLIENT=raw|netfx WINDOWS=8 BRACKET=1 (the client's `acceptBracket`: netfx's `Tcp.withConnection`)
 *
 * Prints the bytes per cycle of every window, smallest first.
 */

import { PerformanceObserver } from "node:perf_hooks"
import * as v8 from "node:v8"
import { NodeNetwork } from "@netfx/node"
import { netfx } from "./impls/netfx.ts"
import { rawNode } from "./impls/rawNode.ts"
import type { Impl } from "./impls/types.ts"

const env = (name: string, fallback: string) => process.env[name] ?? fallback
const pick = (which: string): Impl => (which === "raw" ? rawNode : netfx("netfx", NodeNetwork.layer))
const gc = (globalThis as unknown as { gc: () => void }).gc

let gcs = 0
new PerformanceObserver((list) => {
  gcs += list.getEntries().length
}).observe({ entryTypes: ["gc"] })

const main = async () => {
  const server = pick(env("SERVER", "netfx"))
  const client = pick(env("CLIENT", "raw"))
  const bracket = env("BRACKET", "0") === "1" ? client.acceptBracket : undefined
  const loop = (port: number, millis: number) =>
    bracket === undefined ? client.accept(port, millis) : bracket(port, millis)
  const ports = await server.serve()
  await loop(ports.accept, 1500)
  const perCycle: Array<number> = []
  for (let i = 0; i < Number(env("WINDOWS", "8")); i++) {
    gc()
    await new Promise((r) => setTimeout(r, 10))
    const gcs0 = gcs
    const heap0 = v8.getHeapStatistics().used_heap_size
    // short windows, so the young generation does not fill
    let count = 0
    for (let k = 0; k < 4; k++) count += (await loop(ports.accept, 50)).count
    const heap1 = v8.getHeapStatistics().used_heap_size
    if (gcs === gcs0) perCycle.push((heap1 - heap0) / count)
  }
  perCycle.sort((a, b) => a - b)
  console.log(
    `server=${env("SERVER", "netfx")} client=${env("CLIENT", "raw")}${bracket === undefined ? "" : " (bracket)"}: bytes allocated per accept cycle ` +
      `(${perCycle.map((x) => x.toFixed(0)).join(" ")})`,
  )
  process.exit(0)
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
