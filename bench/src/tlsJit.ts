/**
 * Handshakes in windows with a marker line between them, to count V8's
 * --trace-opt/--trace-deopt lines per window (both ends in this process).
 *   node --trace-opt --trace-deopt --import tsx bench/src/tlsJit.ts
 *   SERVER=raw|netfx CLIENT=raw|netfx WINDOWS=10 HANDSHAKES=200
 *   LOOP_MS=1000: each window is one `tlsHandshakes` call of that length (one
 *   long client loop, as in `pnpm bench`) instead of one call per handshake;
 *   ALTERNATE=1: windows alternate between the two ways
 */
import { netfx } from "./impls/netfx.ts"
import { rawNode } from "./impls/rawNode.ts"
import { type Impl, selfSigned } from "./impls/types.ts"

const env = (name: string, fallback: string) => process.env[name] ?? fallback
const pick = async (which: string): Promise<Impl> =>
  which === "raw" ? rawNode : netfx("netfx", (await import("@netfx/node")).NodeNetwork.layer)

const main = async () => {
  const { cert, key } = selfSigned()
  const server = await pick(env("SERVER", "raw"))
  const client = await pick(env("CLIENT", "netfx"))
  const ports = await server.tlsServe!(cert, key)
  const n = Number(env("HANDSHAKES", "200"))
  const loopMillis = Number(env("LOOP_MS", "0"))
  const alternate = process.env.ALTERNATE === "1"
  for (let w = 0; w < Number(env("WINDOWS", "10")); w++) {
    const loop = loopMillis > 0 && (!alternate || w % 2 === 1)
    let count = 0
    const c0 = process.cpuUsage()
    if (loop) count = (await client.tlsHandshakes!(ports.accept, cert, loopMillis)).count
    else while (count < n) count += (await client.tlsHandshakes!(ports.accept, cert, 1)).count
    const c = process.cpuUsage(c0)
    const how = loop ? "one loop" : "one call each"
    console.log(`@@window ${w} ${count} handshakes (${how}), ${((c.user + c.system) / count).toFixed(0)} µs CPU each`)
  }
  process.exit(0)
}
main().catch((e) => {
  console.error(e)
  process.exit(1)
})
