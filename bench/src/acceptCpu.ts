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
 *   SCENARIO=accept|pingpong|many SERVER=raw|netfx CLIENT=raw|netfx|netfx-bracket (accept only) WARMUP=2000 (ms) WINDOW=700 (ms) WINDOWS=6
 *   (SERVER=raw,netfx CLIENT=raw,netfx measures all four pairs, one window of each in turn)
 *   PROFILE=out.cpuprofile (Node: a CPU profile of the measured windows only, after the warm-up)
 *   CALLGRIND=1 under `valgrind --tool=callgrind --instr-atstart=no`: instructions counted in the
 *   windows only (one pair per run; divide the total by the operations printed)
 *   SPLIT=1: the servers run in a child process of the same runtime (on the same CPUs: under
 *   `taskset -c 0` that is `pnpm bench -- --pin=same`), and the figure is the CPU of both
 *   processes per operation, split by process and thread (one pair only)
 *
 * Prints the minimum and the median µs per operation over the windows and, on
 * Linux with one pair, how the measured windows' CPU splits over the
 * process's threads (`/proc/self/task`): on Bun the JavaScript thread, JSC's
 * JIT compiler (`JITWorker`), its GC helpers and mimalloc's scavenger.
 */
import * as fs from "node:fs"
import { isBun, netfxImpl, rawImpl } from "./impls/thisRuntime.ts"
import type { Impl, ServerPorts } from "./impls/types.ts"
import { startProfile } from "./profile.ts"

const env = (name: string, fallback: string) => process.env[name] ?? fallback

const pick = (which: string) => (which === "raw" ? rawImpl() : netfxImpl())

/** CPU µs per thread name (digits folded), from /proc/<pid>/task; empty where there is none. */
const threadMicros = (pid: number | "self" = "self", prefix = ""): Map<string, number> => {
  const out = new Map<string, number>()
  let tids: Array<string> = []
  try {
    tids = fs.readdirSync(`/proc/${pid}/task`)
  } catch {
    return out
  }
  for (const tid of tids) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, "latin1")
      const name = prefix + stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")).replace(/\d+/g, "#")
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
      // utime and stime, in clock ticks (100 per second on Linux)
      const micros = (Number(fields[11]) + Number(fields[12])) * 10_000
      out.set(name, (out.get(name) ?? 0) + micros)
    } catch {
      // the thread ended
    }
  }
  return out
}

/** Switches callgrind's instrumentation (run `callgrind_control`, and let the event loop turn meanwhile). */
const callgrind = async (state: "on" | "off"): Promise<void> => {
  const { spawn } = await import("node:child_process")
  await new Promise<void>((resolve, reject) =>
    spawn("callgrind_control", ["-i", state, String(process.pid)], { stdio: "ignore" }).on("exit", (code) =>
      code === 0 ? resolve() : reject(new Error(`callgrind_control exited with ${code}`)),
    ),
  )
}

/** CPU µs of process `pid` (all its threads), from /proc/<pid>/stat. */
const processMicros = (pid: number): number => {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, "latin1")
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  return (Number(fields[11]) + Number(fields[12])) * 10_000
}

/** SPLIT=1's child: starts the servers, prints their ports, runs until its stdin closes. */
const serveChild = async (servers: ReadonlyArray<string>) => {
  const out: Record<string, ServerPorts> = {}
  for (const which of servers) out[which] = await (await pick(which)).serve()
  console.log(JSON.stringify(out))
  process.stdin.on("end", () => process.exit(0))
  process.stdin.resume()
}

/** Starts the SPLIT=1 child (this script, same runtime, same CPUs); resolves its pid and server ports. */
const startServerChild = async (servers: ReadonlyArray<string>) => {
  const { spawn } = await import("node:child_process")
  const argv = isBun ? [process.argv[1] as string] : [...process.execArgv, process.argv[1] as string]
  const child = spawn(process.execPath, argv, {
    env: { ...process.env, ACCEPT_CPU_ROLE: "server", SERVER: servers.join(",") },
    stdio: ["pipe", "pipe", "inherit"],
  })
  const line = await new Promise<string>((resolve, reject) => {
    let buffered = ""
    child.stdout.on("data", (d: Buffer) => {
      buffered += d.toString()
      const nl = buffered.indexOf("\n")
      if (nl >= 0) resolve(buffered.slice(0, nl))
    })
    child.on("exit", (code) => reject(new Error(`server child exited with ${code}`)))
  })
  return { pid: child.pid as number, ports: JSON.parse(line) as Record<string, ServerPorts> }
}

const main = async () => {
  // every server/client pair asked for, measured window by window in turn, so
  // a change in the machine's load hits each pair alike
  const servers = env("SERVER", "netfx").split(",")
  const clients = env("CLIENT", "netfx").split(",")
  if (process.env.ACCEPT_CPU_ROLE === "server") return serveChild(servers)
  const split = process.env.SPLIT === "1"
  const impls = new Map<string, Impl>()
  for (const which of new Set(split ? clients : [...servers, ...clients])) impls.set(which, await pick(which))
  const ports = new Map<string, ServerPorts>()
  const child = split ? await startServerChild(servers) : undefined
  if (child !== undefined) for (const which of servers) ports.set(which, child.ports[which] as ServerPorts)
  else for (const which of servers) ports.set(which, await (impls.get(which) as Impl).serve())
  if (child !== undefined && servers.length * clients.length > 1) throw new Error("SPLIT=1 measures one pair")
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
    // netfx-bracket: the netfx client written with `Tcp.withConnection` (no Scope per connection)
    if (client === "netfx-bracket" && impl.acceptBracket !== undefined)
      return (await impl.acceptBracket(to.accept, millis)).count
    return (await impl.accept(to.accept, millis)).count
  }
  for (const { server, client } of pairs) await once(server, client, warmup)
  // under `valgrind --tool=callgrind --instr-atstart=no`: count instructions in the windows only
  if (process.env.CALLGRIND !== undefined) await callgrind("on")
  const stopProfile = process.env.PROFILE === undefined || isBun ? undefined : await startProfile(process.env.PROFILE)
  const allThreads = () =>
    child === undefined
      ? threadMicros()
      : new Map([...threadMicros("self", "client:"), ...threadMicros(child.pid, "server:")])
  const threads0 = allThreads()
  for (let i = 0; i < windows; i++) {
    for (const pair of pairs) {
      const cpu0 = process.cpuUsage()
      const server0 = child === undefined ? 0 : processMicros(child.pid)
      const count = await once(pair.server, pair.client, window)
      const cpu = process.cpuUsage(cpu0)
      const server = child === undefined ? 0 : processMicros(child.pid) - server0
      pair.perOp.push((cpu.user + cpu.system + server) / count)
      pair.ops += count
    }
  }
  await stopProfile?.()
  const threads = [...allThreads()]
    .map(([name, micros]) => [name, (micros - (threads0.get(name) ?? 0)) / (pairs[0]?.ops ?? 1)] as const)
    .filter(([, perOp]) => perOp >= 0.2)
    .sort((a, b) => b[1] - a[1])
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
        `(${perOp.map((x) => x.toFixed(0)).join(" ")})` +
        (pairs.length === 1 && threads.length > 0
          ? `; by thread: ${threads.map(([n, m]) => `${n} ${m.toFixed(1)}`).join(", ")}`
          : ""),
    )
  }
  process.exit(0)
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
