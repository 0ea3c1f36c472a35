/**
 * CPU time per MiB of TLS bulk transfer and per TLS handshake. By default
 * client and server run in this one process (`process.cpuUsage()` counts
 * both ends and nothing else); with SPLIT=1 the server runs in a child
 * process pinned to CPU 0 (pin this one elsewhere, e.g. `taskset -c 1`), as
 * in `pnpm bench`, and each side's CPU is reported apart. Mixing SERVER and
 * CLIENT separates the two sides in the one-process mode: the netfx
 * server's cost over raw node:tls is (SERVER=netfx CLIENT=raw) minus
 * (SERVER=raw CLIENT=raw), and likewise for the client.
 *
 *   node --import tsx bench/src/tlsCpu.ts
 *   SERVER=raw|netfx CLIENT=raw|netfx MIB=64 (per window) HANDSHAKE_MS=700 WINDOWS=5
 *   ONLY=bulk|handshake (measure one of the two)
 *   SPLIT=1 (server in a child process on CPU 0)
 *   PROFILE=out.cpuprofile (Node: a CPU profile of the measured windows only, of this process)
 *   SERVER_PROFILE=out.cpuprofile (with SPLIT=1: the same of the server's process)
 *
 * Prints the minimum and the median over the windows, then (per side) the
 * medians of user and system CPU, minor page faults and voluntary context
 * switches per operation: CPU time that callgrind's instruction counts do
 * not see (the kernel, cache and page-fault costs of a larger heap).
 */

import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { netfx } from "./impls/netfx.ts"
import { rawNode } from "./impls/rawNode.ts"
import { type Impl, selfSigned } from "./impls/types.ts"
import { startProfile } from "./profile.ts"

const env = (name: string, fallback: string) => process.env[name] ?? fallback

const pick = async (which: string): Promise<Impl> =>
  which === "raw" ? rawNode : netfx("netfx", (await import("@netfx/node")).NodeNetwork.layer)

const summary = (values: Array<number>): string => {
  if (values.length === 0) return "n/a"
  const sorted = [...values].sort((a, b) => a - b)
  const median = sorted[Math.floor(sorted.length / 2)] as number
  return `min ${(sorted[0] as number).toFixed(0)} µs, median ${median.toFixed(0)} µs (${values.map((x) => x.toFixed(0)).join(" ")})`
}

/** user µs, system µs, minor page faults, voluntary context switches of this process so far */
type Usage = [number, number, number, number]
const usageNow = (): Usage => {
  const r = process.resourceUsage()
  return [r.userCPUTime, r.systemCPUTime, r.minorPageFault, r.voluntaryContextSwitches]
}
const cpuOf = (u: Usage) => u[0] + u[1]
const minus = (a: Usage, b: Usage): Usage => [a[0] - b[0], a[1] - b[1], a[2] - b[2], a[3] - b[3]]

interface Ports {
  readonly sink: number
  readonly accept: number
}

/** The server side, in this process or in a child; `cpu` reads its process's CPU time (µs). */
interface ServerSide {
  readonly ports: Ports
  readonly cpu: () => Promise<Usage>
  /** Starts (`true`) or stops and writes (`false`) the server's SERVER_PROFILE; resolves once done. */
  readonly profile: (on: boolean) => Promise<void>
}

/** Child mode: serve, report the ports, answer CPU requests. */
const serveChild = async () => {
  const server = await pick(env("SERVER", "netfx"))
  const { cert, key } = JSON.parse(env("TLS_CREDENTIALS", "{}")) as { cert: string; key: string }
  const ports = await server.tlsServe!(cert, key)
  let stopProfile: (() => Promise<void>) | undefined
  process.on("message", async (m: string) => {
    if (m === "profile-start") stopProfile = await startProfile(env("SERVER_PROFILE", "server.cpuprofile"))
    if (m === "profile-stop") await stopProfile?.()
    process.send!({ cpu: usageNow() })
  })
  process.send!({ ports })
}

const spawnServer = (cert: string, key: string): Promise<ServerSide> =>
  new Promise((resolve, reject) => {
    const child = spawn(
      "taskset",
      // the same runtime flags as this process (under tsx: `--import tsx`; compiled: none)
      ["-c", "0", process.execPath, ...process.execArgv, fileURLToPath(import.meta.url), "serve"],
      {
        stdio: ["ignore", "inherit", "inherit", "ipc"],
        env: { ...process.env, TLS_CREDENTIALS: JSON.stringify({ cert, key }) },
      },
    )
    child.unref()
    child.once("error", reject)
    process.once("exit", () => child.kill())
    let waiting: ((cpu: Usage) => void) | undefined
    child.on("message", (m: { ports?: Ports; cpu?: Usage }) => {
      if (m.ports !== undefined)
        resolve({
          ports: m.ports,
          cpu: () =>
            new Promise((done) => {
              waiting = done
              child.send("cpu")
            }),
          profile: (on) =>
            new Promise((done) => {
              waiting = () => done()
              child.send(on ? "profile-start" : "profile-stop")
            }),
        })
      else if (m.cpu !== undefined) waiting?.(m.cpu)
    })
  })

const main = async () => {
  if (process.argv[2] === "serve") return serveChild()
  const split = process.env.SPLIT === "1"
  const client = await pick(env("CLIENT", "netfx"))
  const { cert, key } = selfSigned()
  let server: ServerSide
  if (split) server = await spawnServer(cert, key)
  else {
    const ports = await (await pick(env("SERVER", "netfx"))).tlsServe!(cert, key)
    server = { ports, cpu: () => Promise.resolve([0, 0, 0, 0]), profile: () => Promise.resolve() }
  }
  const { ports } = server
  const mib = Number(env("MIB", "64"))
  const windows = Number(env("WINDOWS", "5"))
  const handshakeMillis = Number(env("HANDSHAKE_MS", "700"))
  const chunk = 64 * 1024
  const only = process.env.ONLY
  const bulk = only !== "handshake"
  const handshakes = only !== "bulk"
  // warm-up
  if (bulk) await client.tlsBulk!(ports.sink, cert, mib * 1024 * 1024, chunk)
  if (handshakes) await client.tlsHandshakes!(ports.accept, cert, handshakeMillis)
  const stopProfile = process.env.PROFILE === undefined ? undefined : await startProfile(process.env.PROFILE)
  const serverProfile = split && process.env.SERVER_PROFILE !== undefined
  if (serverProfile) await server.profile(true)
  type Figures = { client: Array<Usage>; server: Array<Usage> }
  const perMiB: Figures = { client: [], server: [] }
  const perHandshake: Figures = { client: [], server: [] }
  const perOp = (u: Usage, ops: number): Usage => [u[0] / ops, u[1] / ops, u[2] / ops, u[3] / ops]
  const measure = async (into: Figures, run: () => Promise<number>) => {
    const server0 = await server.cpu()
    const client0 = usageNow()
    const ops = await run()
    const client = minus(usageNow(), client0)
    const serverUsage = minus(await server.cpu(), server0)
    into.client.push(perOp(client, ops))
    into.server.push(perOp(serverUsage, ops))
  }
  for (let i = 0; i < windows; i++) {
    if (bulk)
      await measure(perMiB, async () => {
        await client.tlsBulk!(ports.sink, cert, mib * 1024 * 1024, chunk)
        return mib
      })
    if (handshakes)
      await measure(perHandshake, async () => (await client.tlsHandshakes!(ports.accept, cert, handshakeMillis)).count)
  }
  await stopProfile?.()
  if (serverProfile) await server.profile(false)
  const label = `server=${env("SERVER", "netfx")} client=${env("CLIENT", "netfx")}`
  const median = (values: Array<number>) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN
  const detail = (usages: Array<Usage>) =>
    `user ${median(usages.map((u) => u[0])).toFixed(0)} µs, system ${median(usages.map((u) => u[1])).toFixed(0)} µs, ` +
    `${median(usages.map((u) => u[2])).toFixed(1)} minor faults, ${median(usages.map((u) => u[3])).toFixed(1)} voluntary switches`
  const report = (what: string, figures: Figures) => {
    const sides: Array<["client" | "server", string]> = split
      ? [
          ["client", "client "],
          ["server", "server "],
        ]
      : [["client", ""]]
    for (const [side, name] of sides) {
      console.log(`${label}: ${name}CPU per ${what} ${summary(figures[side].map(cpuOf))}`)
      console.log(`${label}:   medians per ${what}: ${detail(figures[side])}`)
    }
  }
  if (bulk) report("MiB", perMiB)
  if (handshakes) report("handshake", perHandshake)
  process.exit(0)
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
