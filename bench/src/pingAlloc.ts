/**
 * JS heap allocated per ping-pong round trip on Bun, client and server in
 * one process (`SERVER`/`CLIENT` = raw or netfx): JSC's own GC log
 * (`BUN_JSC_logGC`) gives the heap size at the start and end of every
 * collection, so what was allocated between two collections is the next
 * start minus the previous end; summed over a measured window of
 * ping-pong and divided by its round trips. Unlike CPU time, other load on
 * the machine does not disturb it (only how many collections a window
 * sees). Used for the "On Bun" section of bench/README.md.
 *
 *   bun bench/src/pingAlloc.ts
 *   SERVER=raw|netfx CLIENT=raw|netfx WARMUP=3000 (ms) WINDOW=6000 (ms)
 */
import { spawn } from "node:child_process"
import { isBun, netfxImpl, rawImpl } from "./impls/thisRuntime.ts"

const env = (name: string, fallback: string) => process.env[name] ?? fallback
const pick = (which: string) => (which === "raw" ? rawImpl() : netfxImpl())
const START = "pingAlloc: window starts"
const END = "pingAlloc: window ends, round trips "

/** The child: runs the ping-pong and marks the measured window on stderr, among JSC's GC lines. */
const child = async () => {
  const server = await pick(env("SERVER", "netfx"))
  const client = await pick(env("CLIENT", "netfx"))
  const ports = await server.serve()
  await client.pingPong(ports.echo, Number(env("WARMUP", "3000")))
  console.error(START)
  const { count } = await client.pingPong(ports.echo, Number(env("WINDOW", "6000")))
  console.error(`${END}${count}`)
  process.exit(0)
}

/** The parent: runs the child with the GC log on and adds up what was allocated in the window. */
const parent = async () => {
  const proc = spawn(process.execPath, [process.argv[1] as string], {
    env: { ...process.env, PING_ALLOC_CHILD: "1", BUN_JSC_logGC: "true" },
    stdio: ["ignore", "ignore", "pipe"],
  })
  let log = ""
  proc.stderr.on("data", (d: Buffer) => (log += d.toString()))
  await new Promise((resolve) => proc.on("exit", resolve))
  let inWindow = false
  let lastEnd: number | undefined
  let allocatedKb = 0
  let collections = 0
  for (const line of log.split("\n")) {
    if (line.includes(START)) inWindow = true
    const end = line.indexOf(END)
    if (end >= 0) {
      const count = Number(line.slice(end + END.length))
      console.log(
        `server=${env("SERVER", "netfx")} client=${env("CLIENT", "netfx")}: ${((allocatedKb * 1024) / count).toFixed(0)} bytes allocated per round trip (${count} round trips, ${collections} collections)`,
      )
      return
    }
    // "[GC<...>: START M 16807kb => EdenCollection, ... => 6938kb, p=..."
    const m = /START \S+ (\d+)kb => .*=> (\d+)kb/.exec(line)
    if (m === null) continue
    if (inWindow) {
      if (lastEnd !== undefined) allocatedKb += Number(m[1]) - lastEnd
      collections++
    }
    lastEnd = Number(m[2])
  }
  throw new Error("the child did not finish its window")
}

if (!isBun) throw new Error("pingAlloc reads JSC's GC log: run it with bun")
;(process.env.PING_ALLOC_CHILD === "1" ? child() : parent()).catch((e) => {
  console.error(e)
  process.exit(1)
})
