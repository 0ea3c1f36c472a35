/**
 * Real peers and probes for tests: descriptor counts, a connect black hole
 * on loopback, and Python asyncio peers.
 *
 * @since 0.1.0
 */

import { type ChildProcess, spawn } from "node:child_process"
import { readdirSync } from "node:fs"
import { createInterface } from "node:readline"
import * as v8 from "node:v8"
import * as vm from "node:vm"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"

/** Open descriptors of this process. @since 0.1.0 */
export const openFds = (): number => readdirSync("/proc/self/fd").length

let collector: (() => void) | undefined

/** A full garbage collection where the runtime allows one (Node: V8's `gc`, Bun: `Bun.gc`). */
const collectGarbage = (): void => {
  if (collector === undefined) {
    const bun = (globalThis as { Bun?: { gc?: (force: boolean) => void } }).Bun
    const exposed = (globalThis as { gc?: () => void }).gc
    if (typeof bun?.gc === "function") collector = () => bun.gc?.(true)
    else if (typeof exposed === "function") collector = exposed
    else {
      v8.setFlagsFromString("--expose-gc")
      collector = vm.runInNewContext("gc") as () => void
    }
  }
  collector()
}

/** V8's young generation (new space and new large-object space), resident bytes; 0 where the runtime reports none (Bun). */
const youngGeneration = (): number => {
  let bytes = 0
  try {
    for (const space of v8.getHeapSpaceStatistics()) {
      if (space.space_name === "new_space" || space.space_name === "new_large_object_space") {
        bytes += space.physical_space_size
      }
    }
  } catch {
    // no heap spaces to read: nothing to take out
  }
  return bytes
}

/**
 * Resident set size of this process in bytes, after a full garbage
 * collection where the runtime allows one, less the resident size of V8's
 * young generation: a bound on memory is about what is retained. After a
 * full collection the young generation holds no live object (every
 * survivor is promoted), and its size is the process's, not any
 * resource's: V8 grows it with the allocation rate up to a cap that
 * differs between versions (Node 24's is twice Node 20's), so left in it
 * read as tens of MB "retained" by whatever ran last. What a resource
 * keeps (buffers, queues, closures) is in the old generation or outside
 * V8's heap, and counts.
 *
 * @example
 * ```ts
 * import { Peers } from "@netfx/core/testing"
 *
 * const before = Peers.rss()
 * // ... open and close many connections ...
 * const retained = Peers.rss() - before
 * ```
 *
 * @since 0.1.0
 */
export const rss = (): number => {
  try {
    collectGarbage()
  } catch {
    // no collector to call: measure as it is
  }
  return process.memoryUsage().rss - youngGeneration()
}

/**
 * Runs a Python 3 script as a scoped child process and yields its first
 * line of output (the script prints what the test needs, e.g. a port) and
 * the process. The process is killed when the Scope closes.
 *
 * @since 0.1.0
 */
export const python = (
  script: string,
  args: ReadonlyArray<string> = [],
): Effect.Effect<
  { readonly firstLine: string; readonly process: ChildProcess; readonly output: () => string },
  never,
  Scope.Scope
> =>
  Effect.acquireRelease(
    Effect.async<{ readonly firstLine: string; readonly process: ChildProcess; readonly output: () => string }>(
      (resume) => {
        const child = spawn("python3", ["-u", "-c", script, ...args], { stdio: ["pipe", "pipe", "pipe"] })
        let out = ""
        let err = ""
        let first: string | undefined
        child.stderr.on("data", (d: Buffer) => {
          err += d.toString()
        })
        const lines = createInterface({ input: child.stdout })
        lines.on("line", (line) => {
          out += `${line}\n`
          if (first === undefined) {
            first = line
            resume(Effect.succeed({ firstLine: line, process: child, output: () => out }))
          }
        })
        child.on("exit", (code) => {
          if (first === undefined) resume(Effect.dieMessage(`python3 exited with ${code} before printing: ${err}`))
        })
        child.on("error", (e) => {
          if (first === undefined) resume(Effect.die(e))
        })
      },
    ),
    ({ process }) =>
      Effect.async<void>((resume) => {
        if (process.exitCode !== null || process.signalCode !== null) return resume(Effect.void)
        process.once("exit", () => resume(Effect.void))
        process.kill("SIGKILL")
      }),
  )

/**
 * Waits for a Python child to exit and returns everything it printed.
 *
 * @since 0.1.0
 */
export const pythonExit = (child: { readonly process: ChildProcess; readonly output: () => string }) =>
  Effect.async<{ readonly code: number | null; readonly output: string }>((resume) => {
    const done = () => {
      setImmediate(() => resume(Effect.succeed({ code: child.process.exitCode, output: child.output() })))
    }
    if (child.process.exitCode !== null) done()
    else child.process.once("exit", done)
  })

const BLACKHOLE = `
import socket, sys
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(0)
port = s.getsockname()[1]
fill = []
for i in range(8):
    c = socket.socket()
    c.setblocking(False)
    try:
        c.connect(("127.0.0.1", port))
    except BlockingIOError:
        pass
    fill.append(c)
print(port, flush=True)
sys.stdin.read()
`

/**
 * A loopback address where `connect` hangs: a Python listener that never
 * accepts, with its accept queue already full, so new SYNs are dropped.
 *
 * @since 0.1.0
 */
export const blackhole: Effect.Effect<{ readonly host: string; readonly port: number }, never, Scope.Scope> =
  Effect.map(python(BLACKHOLE), ({ firstLine }) => ({ host: "127.0.0.1", port: Number(firstLine) }))
