import { spawn } from "node:child_process"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import * as Effect from "effect/Effect"

/** The tsx binary that runs example files as programs. */
export const tsx = fileURLToPath(new URL("../node_modules/.bin/tsx", import.meta.url))

/** The path of an example source file. */
export const src = (name: string) => fileURLToPath(new URL(`../src/${name}`, import.meta.url))

/**
 * Runs an example file as its own process (with tsx) and yields its first
 * line of output, a promise of everything it printed by the time it exits,
 * and a way to stop it. The process gets SIGINT when the Scope closes; it
 * dies the effect when it exits before printing anything.
 */
export const start = (file: string, args: ReadonlyArray<string>) =>
  Effect.acquireRelease(
    Effect.async<{ readonly line: string; readonly rest: Promise<string>; readonly kill: () => void }>((resume) => {
      const child = spawn(tsx, [src(file), ...args], { stdio: ["ignore", "pipe", "inherit"] })
      let out = ""
      const rest = new Promise<string>((done) => child.on("exit", () => done(out)))
      let first = true
      createInterface({ input: child.stdout }).on("line", (l) => {
        out += `${l}\n`
        if (first) {
          first = false
          resume(Effect.succeed({ line: l, rest, kill: () => child.kill("SIGINT") }))
        }
      })
      child.on("exit", (code) => {
        if (first) resume(Effect.dieMessage(`${file} exited with ${code} before printing`))
      })
    }),
    (p) => Effect.sync(() => p.kill()),
  )
