/**
 * CPU time per MiB of TLS bulk transfer and per TLS handshake, client and
 * server in this one process (`process.cpuUsage()` counts both ends and
 * nothing else). Mixing SERVER and CLIENT separates the two sides: the
 * netfx server's cost over raw node:tls is (SERVER=netfx CLIENT=raw) minus
 * (SERVER=raw CLIENT=raw), and likewise for the client.
 *
 *   node --import tsx bench/src/tlsCpu.ts
 *   SERVER=raw|netfx CLIENT=raw|netfx MIB=64 (per window) HANDSHAKE_MS=700 WINDOWS=5
 *   PROFILE=out.cpuprofile (Node: a CPU profile of the measured windows only)
 *
 * Prints the minimum and the median over the windows.
 */

import { netfx } from "./impls/netfx.ts"
import { rawNode } from "./impls/rawNode.ts"
import { type Impl, selfSigned } from "./impls/types.ts"
import { startProfile } from "./profile.ts"

const env = (name: string, fallback: string) => process.env[name] ?? fallback

const pick = async (which: string): Promise<Impl> =>
  which === "raw" ? rawNode : netfx("netfx", (await import("@netfx/node")).NodeNetwork.layer)

const summary = (values: Array<number>): string => {
  const sorted = [...values].sort((a, b) => a - b)
  const median = sorted[Math.floor(sorted.length / 2)] as number
  return `min ${(sorted[0] as number).toFixed(0)} µs, median ${median.toFixed(0)} µs (${values.map((x) => x.toFixed(0)).join(" ")})`
}

const main = async () => {
  const server = await pick(env("SERVER", "netfx"))
  const client = await pick(env("CLIENT", "netfx"))
  const { cert, key } = selfSigned()
  const ports = await server.tlsServe!(cert, key)
  const mib = Number(env("MIB", "64"))
  const windows = Number(env("WINDOWS", "5"))
  const handshakeMillis = Number(env("HANDSHAKE_MS", "700"))
  const chunk = 64 * 1024
  // warm-up
  await client.tlsBulk!(ports.sink, cert, mib * 1024 * 1024, chunk)
  await client.tlsHandshakes!(ports.accept, cert, handshakeMillis)
  const stopProfile = process.env.PROFILE === undefined ? undefined : await startProfile(process.env.PROFILE)
  const perMiB: Array<number> = []
  const perHandshake: Array<number> = []
  for (let i = 0; i < windows; i++) {
    let cpu0 = process.cpuUsage()
    await client.tlsBulk!(ports.sink, cert, mib * 1024 * 1024, chunk)
    let cpu = process.cpuUsage(cpu0)
    perMiB.push((cpu.user + cpu.system) / mib)
    cpu0 = process.cpuUsage()
    const { count } = await client.tlsHandshakes!(ports.accept, cert, handshakeMillis)
    cpu = process.cpuUsage(cpu0)
    perHandshake.push((cpu.user + cpu.system) / count)
  }
  await stopProfile?.()
  const label = `server=${env("SERVER", "netfx")} client=${env("CLIENT", "netfx")}`
  console.log(`${label}: CPU per MiB ${summary(perMiB)}`)
  console.log(`${label}: CPU per handshake ${summary(perHandshake)}`)
  process.exit(0)
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
