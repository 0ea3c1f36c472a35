/**
 * Where a ping-pong round trip allocates on Node, client and server in one
 * process (`SERVER`/`CLIENT` = raw or netfx): V8's sampling heap profiler
 * (through `node:inspector`) over a 3 s window after a 3 s warm-up, with
 * objects that the young- and old-generation collections freed kept in the
 * samples, so short-lived allocations count (Bun's counterpart is
 * `pingAlloc.ts`). Prints the sampled bytes per round trip, then the 40
 * largest allocation sites (function, file:line, and two callers), bytes per
 * round trip. Sampled every `INTERVAL` bytes (default 256), so sites under
 * ~10 B per round trip are noise.
 *
 *   node --import tsx bench/src/pingAllocNode.ts
 *   SERVER=raw|netfx CLIENT=raw|netfx INTERVAL=256
 */
import { Session } from "node:inspector/promises"
import { netfxImpl, rawImpl } from "./impls/thisRuntime.ts"

const env = (n: string, f: string) => process.env[n] ?? f
const pick = (w: string) => (w === "raw" ? rawImpl() : netfxImpl())
const main = async () => {
  const server = await pick(env("SERVER", "netfx"))
  const client = await pick(env("CLIENT", "raw"))
  const ports = await server.serve()
  await client.pingPong(ports.echo, 3000)
  const s = new Session()
  s.connect()
  await s.post("HeapProfiler.enable")
  await s.post("HeapProfiler.startSampling", {
    samplingInterval: Number(env("INTERVAL", "256")),
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  } as never)
  const { count } = await client.pingPong(ports.echo, 3000)
  const { profile } = (await s.post("HeapProfiler.stopSampling")) as unknown as { profile: { head: Node } }
  type Node = {
    callFrame: { functionName: string; url: string; lineNumber: number }
    selfSize: number
    children: Array<Node>
  }
  const by = new Map<string, number>()
  let total = 0
  const walk = (n: Node, stack: string) => {
    const k = `${n.callFrame.functionName || "(anon)"} ${n.callFrame.url.split("/").slice(-2).join("/")}:${n.callFrame.lineNumber}`
    if (n.selfSize > 0) {
      const site = `${k}  <-  ${stack}`
      by.set(site, (by.get(site) ?? 0) + n.selfSize)
      total += n.selfSize
    }
    for (const c of n.children)
      walk(c, `${k.split(" ")[0]}${stack ? ` < ${stack.split(" < ").slice(0, 2).join(" < ")}` : ""}`)
  }
  walk(profile.head, "")
  console.log(`round trips ${count}, sampled bytes per round trip ${(total / count).toFixed(0)}`)
  for (const [k, v] of [...by].sort((a, b) => b[1] - a[1]).slice(0, 40))
    console.log((v / count).toFixed(1).padStart(8), k)
  process.exit(0)
}
main()
