/**
 * JS heap allocated per received UDP datagram on Node, and what V8's
 * scavenges keep of it: a receiver in this process (raw node:dgram or
 * netfx) gets bursts of `BURST` 64-byte datagrams from a plain socket
 * through the addon, each burst once the receiver has the previous one
 * (udpCpu.ts's BURST mode). `v8.GCProfiler` gives the heap before and after
 * every collection of the measured window, so what was allocated between
 * two collections is the next one's "before" minus the previous one's
 * "after"; a scavenge keeps what is left in the young generation plus what
 * it promoted to the old one. Neither figure depends on other load on the
 * machine (only the pause times do). Used for the UDP notes in
 * bench/README.md.
 *
 *   node --import tsx bench/src/udpAlloc.ts
 *   RECEIVER=raw|netfx BURST=64 COUNT=300000
 */
import * as v8 from "node:v8"
import { netfxImpl, rawImpl } from "./impls/thisRuntime.ts"
import { bursts } from "./udpFlood.ts"

const env = (name: string, fallback: string) => process.env[name] ?? fallback

interface Space {
  readonly spaceName: string
  readonly spaceUsedSize: number
}
interface HeapState {
  readonly heapStatistics: { readonly usedHeapSize: number }
  readonly heapSpaceStatistics: ReadonlyArray<Space>
}
interface GcEntry {
  readonly gcType: string
  readonly cost: number
  readonly beforeGC: HeapState
  readonly afterGC: HeapState
}
/** `v8.GCProfiler` (Node ≥ 19.6), typed here for @types/node 20. */
interface GcProfiler {
  start(): void
  stop(): { readonly statistics: ReadonlyArray<GcEntry> }
}

const space = (state: HeapState, name: string) =>
  state.heapSpaceStatistics.find((s) => s.spaceName === name)?.spaceUsedSize ?? 0

const main = async () => {
  const which = env("RECEIVER", "netfx")
  const sink = await (which === "raw" ? await rawImpl() : await netfxImpl()).udpSink!()
  const size = 64
  const burst = Number(env("BURST", "64"))
  const run = async (count: number) => (await bursts(sink.port, count, burst, size, sink.received)).got
  await run(100_000) // warm-up
  const profiler = new (v8 as unknown as { GCProfiler: new () => GcProfiler }).GCProfiler()
  profiler.start()
  const used0 = v8.getHeapStatistics().used_heap_size
  const got = await run(Number(env("COUNT", "300000")))
  const used1 = v8.getHeapStatistics().used_heap_size
  const { statistics } = profiler.stop()
  let allocated = 0
  let last = used0
  const kept: Array<number> = []
  const pauses: Array<number> = []
  let majors = 0
  for (const s of statistics) {
    allocated += s.beforeGC.heapStatistics.usedHeapSize - last
    last = s.afterGC.heapStatistics.usedHeapSize
    if (s.gcType === "Scavenge") {
      kept.push(space(s.afterGC, "new_space") + space(s.afterGC, "old_space") - space(s.beforeGC, "old_space"))
      pauses.push(s.cost / 1000)
    } else if (s.gcType === "MarkSweepCompact") majors++
  }
  allocated += used1 - last
  const kb = (n: number) => Math.round(n / 1024)
  console.log(
    JSON.stringify({
      receiver: which,
      node: process.versions.node,
      datagrams: got,
      bytesPerDatagram: Math.round(allocated / got),
      scavenges: kept.length,
      keptKiBPerScavenge: kept.map(kb),
      scavengeMs: pauses.map((p) => +p.toFixed(1)),
      markCompacts: majors,
      // the young generation's size now (V8 grows it while much survives)
      newSpaceMiB: +(
        (v8.getHeapSpaceStatistics().find((x) => x.space_name === "new_space")?.space_size ?? 0) /
        2 ** 20
      ).toFixed(1),
    }),
  )
  process.exit(0)
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
