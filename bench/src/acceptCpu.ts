/**
 * CPU time per accept cycle (connect, the server accepts and closes, the
 * client sees the EOF and closes), client and server in this one process,
 * so `process.cpuUsage()` counts both ends and nothing else: a figure other
 * load on the machine barely disturbs. Used for the server-path section of
 * bench/README.md.
 *
 *   node --expose-gc --import tsx bench/src/acceptCpu.ts
 *   bun bench/src/acceptCpu.ts
 *   SERVER=raw|netfx CLIENT=raw|netfx WARMUP=2000 (ms) WINDOW=700 (ms) WINDOWS=6
 *   PROFILE=out.cpuprofile (Node: a CPU profile of the measured windows only, after the warm-up)
 *
 * Prints the minimum and the median µs per cycle over the windows.
 */

import type { Network } from "@netfx/core"
import type * as Layer from "effect/Layer"
import { netfx } from "./impls/netfx.ts"
import type { Impl } from "./impls/types.ts"
import { startProfile } from "./profile.ts"

const isBun = typeof (globalThis as { Bun?: unknown }).Bun !== "undefined"
const env = (name: string, fallback: string) => process.env[name] ?? fallback

const rawImpl = async (): Promise<Impl> =>
  isBun ? (await import("./impls/rawBun.ts")).rawBun : (await import("./impls/rawNode.ts")).rawNode

const netfxImpl = async (): Promise<Impl> => {
  const layer: Layer.Layer<Network.Network> = isBun
    ? (await import("@netfx/bun")).BunNetwork.layer
    : (await import("@netfx/node")).NodeNetwork.layer
  return netfx("netfx", layer)
}

const pick = (which: string) => (which === "raw" ? rawImpl() : netfxImpl())

const main = async () => {
  const server = await pick(env("SERVER", "netfx"))
  const client = await pick(env("CLIENT", "netfx"))
  const ports = await server.serve()
  const warmup = Number(env("WARMUP", "2000"))
  const window = Number(env("WINDOW", "700"))
  const windows = Number(env("WINDOWS", "6"))
  await client.accept(ports.accept, warmup)
  const stopProfile = process.env.PROFILE === undefined || isBun ? undefined : await startProfile(process.env.PROFILE)
  const perCycle: Array<number> = []
  for (let i = 0; i < windows; i++) {
    const cpu0 = process.cpuUsage()
    const { count } = await client.accept(ports.accept, window)
    const cpu = process.cpuUsage(cpu0)
    perCycle.push((cpu.user + cpu.system) / count)
  }
  await stopProfile?.()
  const sorted = [...perCycle].sort((a, b) => a - b)
  const median = sorted[Math.floor(sorted.length / 2)] as number
  console.log(
    `server=${env("SERVER", "netfx")} client=${env("CLIENT", "netfx")} ${isBun ? "bun" : "node"}: ` +
      `min ${(sorted[0] as number).toFixed(0)} µs, median ${median.toFixed(0)} µs CPU per accept cycle ` +
      `(${perCycle.map((x) => x.toFixed(0)).join(" ")})`,
  )
  process.exit(0)
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
