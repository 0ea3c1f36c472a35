/**
 * What the runtime holds for N idle connections beyond their live objects
 * (no heap snapshots, which would disturb it): RSS, `heapUsed`, and on Bun
 * JSC's heap capacity (its blocks, partly empty ones included), on Node the
 * size of each V8 heap space, the young generation's included (a fixed cost
 * that, divided by N, reads as memory per connection). Growth per connection
 * after a forced GC, as the bench's `idle` scenario measures it. Used for
 * the idle-memory sections of bench/README.md.
 *
 *   node --expose-gc --import tsx bench/src/idleHeld.ts
 *   bun bench/src/idleHeld.ts
 *   IMPL=raw|netfx SIDE=both|server|client N=5000 (both ends in one process:
 *   keep 2 × N under the descriptor limit)
 */
import { fullGc, isBun, netfxImpl, rawImpl } from "./impls/thisRuntime.ts"

const N = Number(process.env.N ?? 5000)
const which = process.env.IMPL ?? "netfx"
const side = process.env.SIDE ?? "server"

const gc = fullGc

/** Bytes by what holds them: `rss`, `heapUsed`, then the runtime's own figures. */
type Figures = Record<string, number>

const figures = async (): Promise<Figures> => {
  for (let i = 0; i < 3; i++) {
    gc()
    await new Promise((r) => setTimeout(r, 20))
  }
  const m = process.memoryUsage()
  const out: Figures = { rss: m.rss, heapUsed: m.heapUsed }
  if (isBun) {
    const jsc = (await import("bun:jsc" as string)) as { heapStats(): { heapSize: number; heapCapacity: number } }
    const h = jsc.heapStats()
    out["JSC heapSize"] = h.heapSize
    out["JSC heapCapacity"] = h.heapCapacity
  } else {
    const v8 = await import("node:v8")
    for (const s of v8.getHeapSpaceStatistics()) {
      if (s.space_size === 0) continue
      out[`${s.space_name} size`] = s.space_size
      out[`${s.space_name} physical`] = s.physical_space_size
    }
  }
  return out
}

const main = async () => {
  const raw = await rawImpl()
  const impl = which === "raw" ? raw : await netfxImpl()
  const srv = await (side === "client" ? raw : impl).idleServer()
  const cImpl = side === "server" ? raw : impl
  const warm = await cImpl.idleOpen(srv.port, 100)
  const before = await figures()
  const close = await cImpl.idleOpen(srv.port, N)
  while (srv.accepted() < N + 100) await new Promise((r) => setTimeout(r, 10))
  const after = await figures()
  const runtime = isBun ? `bun ${process.versions.bun}` : `node ${process.versions.node}`
  console.log(`${which} (${side}, ${runtime}), KiB per connection (after, in MiB):`)
  for (const [key, value] of Object.entries(after)) {
    const grown = (value - (before[key] ?? 0)) / N / 1024
    console.log(`${grown.toFixed(2).padStart(8)}  ${key} (${(value / 1048576).toFixed(1)})`)
  }
  await close()
  await warm()
  process.exit(0)
}
main()
