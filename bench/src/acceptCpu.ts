/**
 * CPU time per operation, client and server in this one process, so
 * `process.cpuUsage()` counts both ends and nothing else: a figure other
 * load on the machine barely disturbs. Mixing a raw end with a netfx end
 * tells each side's share. Used for the server-path section of
 * bench/README.md. Operations (`SCENARIO`):
 * - `accept` (default): connect, the server accepts and closes, the client
 *   sees the EOF and closes;
 * - `pingpong`: one round trip of one byte on one connection (echo server);
 * - `many`: one round trip on one of 100 connections (echo server).
 *
 *   node --expose-gc --import tsx bench/src/acceptCpu.ts
 *   bun bench/src/acceptCpu.ts
 *   SCENARIO=accept|pingpong|many SERVER=raw|netfx CLIENT=raw|netfx WARMUP=2000 (ms) WINDOW=700 (ms) WINDOWS=6
 *   (SERVER=raw,netfx CLIENT=raw,netfx measures all four pairs, one window of each in turn)
 *   PROFILE=out.cpuprofile (Node: a CPU profile of the measured windows only, after the warm-up)
 *   CALLGRIND=1 under `valgrind --tool=callgrind --instr-atstart=no`: instructions counted in the
 *   windows only (one pair per run; divide the total by the operations printed)
 *
 * Prints the minimum and the median µs per operation over the windows.
 */

import type { Network } from "@netfx/core"
import type * as Layer from "effect/Layer"
import { netfx } from "./impls/netfx.ts"
import type { Impl, ServerPorts } from "./impls/types.ts"
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

/** Switches callgrind's instrumentation (run `callgrind_control`, and let the event loop turn meanwhile). */
const callgrind = async (state: "on" | "off"): Promise<void> => {
  const { spawn } = await import("node:child_process")
  await new Promise<void>((resolve, reject) =>
    spawn("callgrind_control", ["-i", state, String(process.pid)], { stdio: "ignore" }).on("exit", (code) =>
      code === 0 ? resolve() : reject(new Error(`callgrind_control exited with ${code}`)),
    ),
  )
}

const main = async () => {
  // every server/client pair asked for, measured window by window in turn, so
  // a change in the machine's load hits each pair alike
  const servers = env("SERVER", "netfx").split(",")
  const clients = env("CLIENT", "netfx").split(",")
  const impls = new Map<string, Impl>()
  for (const which of new Set([...servers, ...clients])) impls.set(which, await pick(which))
  const ports = new Map<string, ServerPorts>()
  for (const which of servers) ports.set(which, await (impls.get(which) as Impl).serve())
  const warmup = Number(env("WARMUP", "2000"))
  const window = Number(env("WINDOW", "700"))
  const windows = Number(env("WINDOWS", "6"))
  const scenario = env("SCENARIO", "accept")
  const pairs = servers.flatMap((server) =>
    clients.map((client) => ({ server, client, perOp: [] as number[], ops: 0 })),
  )
  const once = async (server: string, client: string, millis: number): Promise<number> => {
    const impl = impls.get(client) as Impl
    const to = ports.get(server) as ServerPorts
    if (scenario === "pingpong") return (await impl.pingPong(to.echo, millis)).count
    if (scenario === "many") return (await impl.many(to.echo, 100, millis)).count
    return (await impl.accept(to.accept, millis)).count
  }
  for (const { server, client } of pairs) await once(server, client, warmup)
  // under `valgrind --tool=callgrind --instr-atstart=no`: count instructions in the windows only
  if (process.env.CALLGRIND !== undefined) await callgrind("on")
  const stopProfile = process.env.PROFILE === undefined || isBun ? undefined : await startProfile(process.env.PROFILE)
  for (let i = 0; i < windows; i++) {
    for (const pair of pairs) {
      const cpu0 = process.cpuUsage()
      const count = await once(pair.server, pair.client, window)
      const cpu = process.cpuUsage(cpu0)
      pair.perOp.push((cpu.user + cpu.system) / count)
      pair.ops += count
    }
  }
  await stopProfile?.()
  if (process.env.CALLGRIND !== undefined) {
    await callgrind("off")
    for (const { server, client, ops } of pairs) console.log(`callgrind ${server}/${client}: ${ops} operations`)
  }
  for (const { server, client, perOp } of pairs) {
    const sorted = [...perOp].sort((a, b) => a - b)
    const median = sorted[Math.floor(sorted.length / 2)] as number
    console.log(
      `${scenario} server=${server} client=${client} ${isBun ? "bun" : "node"}: ` +
        `min ${(sorted[0] as number).toFixed(1)} µs, median ${median.toFixed(1)} µs CPU per ${scenario === "accept" ? "accept cycle" : "round trip"} ` +
        `(${perOp.map((x) => x.toFixed(0)).join(" ")})`,
    )
  }
  process.exit(0)
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
