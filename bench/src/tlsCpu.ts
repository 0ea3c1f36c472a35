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
 * Prints the minimum and the median over the windows.
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

const cpuNow = () => {
  const c = process.cpuUsage()
  return c.user + c.system
}

interface Ports {
  readonly sink: number
  readonly accept: number
}

/** The server side, in this process or in a child; `cpu` reads its process's CPU time (µs). */
interface ServerSide {
  readonly ports: Ports
  readonly cpu: () => Promise<number>
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
    process.send!({ cpu: cpuNow() })
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
    let waiting: ((cpu: number) => void) | undefined
    child.on("message", (m: { ports?: Ports; cpu?: number }) => {
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
    server = { ports, cpu: () => Promise.resolve(0), profile: () => Promise.resolve() }
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
  const perMiB = { client: [] as Array<number>, server: [] as Array<number> }
  const perHandshake = { client: [] as Array<number>, server: [] as Array<number> }
  const measure = async (into: typeof perMiB, run: () => Promise<number>) => {
    const server0 = await server.cpu()
    const client0 = cpuNow()
    const ops = await run()
    const client = cpuNow() - client0
    const serverCpu = (await server.cpu()) - server0
    into.client.push(client / ops)
    into.server.push(serverCpu / ops)
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
  const report = (what: string, figures: typeof perMiB) => {
    if (split) {
      console.log(`${label}: client CPU per ${what} ${summary(figures.client)}`)
      console.log(`${label}: server CPU per ${what} ${summary(figures.server)}`)
    } else console.log(`${label}: CPU per ${what} ${summary(figures.client)}`)
  }
  if (bulk) report("MiB", perMiB)
  if (handshakes) report("handshake", perHandshake)
  process.exit(0)
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
