/**
 * Instructions per TLS handshake under callgrind (deterministic, unlike
 * CPU time on a loaded machine). Both ends in this one process.
 *
 *   valgrind --tool=callgrind --instr-atstart=no node --import tsx bench/src/tlsInstr.ts
 *   SERVER=raw|netfx CLIENT=raw|netfx|rawctx WARM=500 MEASURE=50 (handshakes)
 */
import { spawn } from "node:child_process"
import { netfx } from "./impls/netfx.ts"
import { rawNode } from "./impls/rawNode.ts"
import { type Impl, selfSigned } from "./impls/types.ts"

const env = (name: string, fallback: string) => process.env[name] ?? fallback
const rawCachedContext: Impl = {
  ...rawNode,
  async tlsHandshakes(port, ca, millis) {
    const tls = await import("node:tls")
    const secureContext = tls.createSecureContext({ ca })
    const t0 = performance.now()
    let count = 0
    while (performance.now() < t0 + millis) {
      await new Promise<void>((resolve, reject) => {
        const s = tls.connect({ host: "127.0.0.1", port, secureContext })
        s.once("error", reject)
        s.once("close", () => resolve())
        s.resume()
      })
      count++
    }
    return { count, seconds: (performance.now() - t0) / 1000 }
  },
}
const pick = async (which: string): Promise<Impl> =>
  which === "rawctx"
    ? rawCachedContext
    : which === "raw"
      ? rawNode
      : netfx("netfx", (await import("@netfx/node")).NodeNetwork.layer)
const control = (...args: Array<string>) =>
  new Promise<void>((resolve) => {
    const c = spawn("callgrind_control", [...args, String(process.pid)], { stdio: "ignore" })
    c.once("exit", () => resolve())
    c.once("error", () => resolve())
  })

const main = async () => {
  const { cert, key } = selfSigned()
  const server = await pick(env("SERVER", "netfx"))
  const client = await pick(env("CLIENT", "netfx"))
  const ports = await server.tlsServe!(cert, key)
  // a count rather than a time: under callgrind one handshake takes longer than a millisecond
  const handshakes = async (n: number) => {
    let count = 0
    while (count < n) count += (await client.tlsHandshakes!(ports.accept, cert, 1)).count
    return count
  }
  const warm = await handshakes(Number(env("WARM", "500")))
  await control("-i", "on")
  const measured = await handshakes(Number(env("MEASURE", "50")))
  await control("-i", "off")
  console.log(`server=${env("SERVER", "netfx")} client=${env("CLIENT", "netfx")} warm ${warm} measured ${measured}`)
  process.exit(0)
}
main().catch((e) => {
  console.error(e)
  process.exit(1)
})
