/**
 * Running out of descriptors: a server whose process hits RLIMIT_NOFILE
 * logs the condition (once per interval, through its Logger), backs off
 * instead of spinning, and serves again once descriptors are free.
 *
 * @since 0.1.0
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"

/** CPU ticks (user + system, 1/100 s) a process used so far. */
const cpuTicks = (pid: number): number => {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? []
  return Number(fields[11]) + Number(fields[12])
}

const openClient = (port: number): Effect.Effect<net.Socket, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const s = net.connect({ host: "127.0.0.1", port })
      s.on("error", () => {})
      return s
    }),
    (s) => Effect.sync(() => s.destroy()),
  )

/**
 * Registers the test. `command` starts the environment's echo server
 * (`fixtures/emfile-server.ts`): it prints `PORT <n>` and logs with the
 * default logger to stdout.
 *
 * @since 0.1.0
 */
export const descriptorExhaustion = (env: { readonly name: string; readonly command: ReadonlyArray<string> }): void => {
  describe(`descriptor exhaustion on ${env.name}`, () => {
    it.live(
      "out of descriptors (EMFILE): logged once per interval, no busy loop, service resumes",
      () =>
        Effect.gen(function* () {
          let out = ""
          const child = yield* Effect.acquireRelease(
            Effect.sync(() => {
              const [cmd, ...args] = env.command
              const c = spawn(cmd as string, args, { stdio: ["ignore", "pipe", "pipe"] })
              c.stdout?.on("data", (d: Buffer) => {
                out += d.toString()
              })
              c.stderr?.on("data", (d: Buffer) => {
                out += d.toString()
              })
              return c
            }),
            (c: ChildProcess) => Effect.sync(() => c.exitCode === null && c.kill("SIGKILL")),
          )
          const pid = child.pid as number
          const waitFor = (what: RegExp) =>
            Effect.async<RegExpMatchArray>((resume) => {
              const check = () => {
                const m = out.match(what)
                if (m !== null) {
                  clearInterval(timer)
                  resume(Effect.succeed(m))
                }
              }
              const timer = setInterval(check, 20)
              check()
              return Effect.sync(() => clearInterval(timer))
            })
          const port = Number((yield* waitFor(/PORT (\d+)/))[1])
          // a limit 20 descriptors above what the server holds now
          const limit = fs.readdirSync(`/proc/${pid}/fd`).length + 20
          const set = spawnSync("prlimit", ["--pid", String(pid), `--nofile=${limit}:${limit}`])
          assert.strictEqual(set.status, 0, String(set.stderr))
          yield* Effect.scoped(
            Effect.gen(function* () {
              for (let i = 0; i < 60; i++) yield* openClient(port)
              // The limit was read right after start-up, when the runtime may still hold
              // descriptors it closes soon after (module loading, Node 24's lazily opened
              // io_uring rings): more clients until the server runs out, bounded.
              for (let i = 0; i < 20 && !out.includes("accept failed with EMFILE"); i++) {
                yield* Effect.sleep("200 millis")
                for (let j = 0; j < 20; j++) yield* openClient(port)
              }
              yield* waitFor(/accept failed with EMFILE/).pipe(
                Effect.timeoutFail({
                  duration: "10 seconds",
                  onTimeout: () => new Error(`no EMFILE line logged within 10 s; the server printed:\n${out}`),
                }),
              )
              const before = cpuTicks(pid)
              const t0 = Date.now()
              yield* Effect.sleep("1500 millis")
              const ticks = cpuTicks(pid) - before
              const seconds = (Date.now() - t0) / 1000
              // a server spinning on accept burns a whole core (100 ticks a second)
              assert.isBelow(ticks / seconds, 30, `the starved server used ${ticks} CPU ticks in ${seconds} s`)
              const lines = out.split("\n").filter((l) => l.includes("accept failed with EMFILE"))
              // once per interval (1 s), not once per attempt
              assert.isAtMost(lines.length, 4, lines.join("\n"))
              assert.include(lines[0], "level=WARN")
            }),
          )
          // the clients are gone: a new one is served
          const reply = yield* Effect.scoped(
            Effect.flatMap(openClient(port), (s) =>
              Effect.async<string>((resume) => {
                s.once("data", (d: Buffer) => resume(Effect.succeed(d.toString())))
                s.write("ping")
              }),
            ),
          )
          assert.strictEqual(reply, "ping")
        }).pipe(Effect.scoped),
      30_000,
    )
  })
}
