/**
 * JS heap allocated per TLS handshake by a client and a server in this
 * process (by default the client under test against a raw node:tls
 * server): the heap's growth across one handshake (median over the
 * handshakes without a collection in between; raw client + raw server is
 * the baseline), then, with SAMPLE=1, the top allocating functions from
 * V8's sampling heap profiler.
 *
 *   node --import tsx bench/src/tlsAlloc.ts
 *   CLIENT=raw|netfx SERVER=raw|netfx WARM=1000 MEASURE=1000 SAMPLE=1 TOP=30
 *   LOOP_MS=2000: the sampled phase runs the client's own loop for that long
 *   (one call, as `pnpm bench` runs it) instead of one call per handshake
 */
import * as inspector from "node:inspector"
import * as v8 from "node:v8"
import { netfx } from "./impls/netfx.ts"
import { rawNode } from "./impls/rawNode.ts"
import { selfSigned } from "./impls/types.ts"

const env = (name: string, fallback: string) => process.env[name] ?? fallback

interface SamplingNode {
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number }
  readonly selfSize: number
  readonly children: ReadonlyArray<SamplingNode>
}

const main = async () => {
  const { cert, key } = selfSigned()
  const pick = async (which: string) =>
    which === "raw" ? rawNode : netfx("netfx", (await import("@netfx/node")).NodeNetwork.layer)
  const serverName = env("SERVER", "raw")
  const ports = await (await pick(serverName)).tlsServe!(cert, key)
  const which = env("CLIENT", "netfx")
  const client = await pick(which)
  const handshake = () => client.tlsHandshakes!(ports.accept, cert, 1)
  for (let i = 0; i < Number(env("WARM", "1000")); i++) await handshake()
  const n = Number(env("MEASURE", "1000"))
  const growth: Array<number> = []
  for (let i = 0; i < n; i++) {
    const before = v8.getHeapStatistics().used_heap_size
    await handshake()
    const d = v8.getHeapStatistics().used_heap_size - before
    if (d > 0) growth.push(d)
  }
  growth.sort((a, b) => a - b)
  const median = (growth[growth.length >> 1] ?? Number.NaN) / 1024
  console.log(
    `client=${which} server=${serverName}: heap growth per handshake ${median.toFixed(1)} KiB (median of ${growth.length})`,
  )
  if (process.env.SAMPLE !== "1") process.exit(0)
  const session = new inspector.Session()
  session.connect()
  const post = <A>(method: string, params?: object) =>
    new Promise<A>((resolve, reject) =>
      session.post(method, params, (error, result) => (error ? reject(error) : resolve(result as A))),
    )
  await post("HeapProfiler.startSampling", {
    samplingInterval: 256,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  })
  const loopMillis = Number(env("LOOP_MS", "0"))
  let count = n
  if (loopMillis > 0) count = (await client.tlsHandshakes!(ports.accept, cert, loopMillis)).count
  else for (let i = 0; i < n; i++) await handshake()
  const { profile } = await post<{ profile: { head: SamplingNode } }>("HeapProfiler.stopSampling")
  const bySite = new Map<string, number>()
  let total = 0
  const walk = (node: SamplingNode) => {
    const f = node.callFrame
    const site = `${f.functionName || "(anonymous)"} ${f.url.replace(/.*\/(packages|dist\/esm)\//, "")}:${f.lineNumber + 1}`
    total += node.selfSize
    bySite.set(site, (bySite.get(site) ?? 0) + node.selfSize)
    for (const child of node.children) walk(child)
  }
  walk(profile.head)
  console.log(`sampled: ${(total / count / 1024).toFixed(1)} KiB per handshake (${count} handshakes)`)
  for (const [site, bytes] of [...bySite].sort((a, b) => b[1] - a[1]).slice(0, Number(env("TOP", "30"))))
    console.log(`  ${(bytes / count / 1024).toFixed(2)} KiB ${site}`)
  process.exit(0)
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
