/**
 * The accept cycle's client side, step by step: from a raw `node:net`
 * client up to the bench's netfx client, each step adding one layer, all
 * against one raw `node:net` server in this process (it accepts and
 * destroys). Says where the netfx client's cost over raw goes: Effect
 * itself (a fiber waiting twice), the `Effect.scoped` every scoped client
 * pays, the Scope registration of a socket, and netfx's own share. Under
 * Bun the raw and netfx steps are the bench's Bun clients (`Bun.connect`,
 * netfx over BunNetwork) and the steps between use Bun's `node:net`
 * (`MODE=alloc` is Node only). Used for "The connect path" in
 * bench/README.md.
 *
 *   node --expose-gc --import tsx bench/src/connectLadder.ts
 *   bun bench/src/connectLadder.ts
 *   STEPS=raw,effect,scoped,resource,bracket,netfx,withConnection (default: all) WARMUP=1500 (ms) WINDOW=400 (ms) WINDOWS=12
 *   MODE=cpu (default): CPU µs per cycle, one window of each step in turn; min, lower quartile, median
 *   MODE=ops: Effect operations per cycle (counted through the built-in tracer's `context` hook,
 *             which the fiber run loop calls once per operation)
 *   MODE=alloc: JS heap bytes allocated per cycle (run with --max-semi-space-size=128 so no GC
 *               runs inside a window; smallest of six windows)
 *
 * Steps:
 * - `raw`: the bench's raw client (`net.connect`, resume, wait for 'close'; Bun.connect under Bun);
 * - `effect`: one fiber, two `Effect.async` waits (connect, then EOF), no Scope: the least an
 *   Effect client does;
 * - `scoped`: `effect` inside `Effect.scoped` (the Scope a scoped client opens per connection);
 * - `resource`: `scoped` plus the socket registered in that Scope (the least a scoped
 *   resource does: a finalizer, and a connect that registers nothing when it fails);
 * - `bracket`: the same resource without a Scope (`Effect.acquireUseRelease`), for comparison;
 * - `netfx`: the bench's netfx client (`Tcp.connect` and `receive` in `Effect.scoped`);
 * - `withConnection`: the bench's netfx bracket client (`Tcp.withConnection` and `receive`, no Scope).
 */
import * as net from "node:net"
import * as v8 from "node:v8"
import * as Context from "effect/Context"
import * as DefaultServices from "effect/DefaultServices"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Scope from "effect/Scope"
import * as Tracer from "effect/Tracer"
import { netfxImpl, rawImpl } from "./impls/thisRuntime.ts"

const HOST = "127.0.0.1"
const env = (name: string, fallback: string) => process.env[name] ?? fallback
const now = () => performance.now()

type Loop = (millis: number) => Promise<number>

const main = async () => {
  const server = net.createServer({ pauseOnConnect: true }, (s) => {
    s.on("error", () => {})
    s.destroy()
  })
  await new Promise<void>((resolve) => server.listen(0, HOST, () => resolve()))
  const port = (server.address() as net.AddressInfo).port
  // the Effect steps run as the bench's netfx client does: on a ManagedRuntime
  const runtime = ManagedRuntime.make(Layer.empty)
  await runtime.runPromise(Effect.void)

  // the bench's own raw and netfx accept clients
  const rawClient = await rawImpl()
  const netfxClient = await netfxImpl()
  const raw: Loop = async (millis) => (await rawClient.accept(port, millis)).count

  const open = () => net.connect({ host: HOST, port, noDelay: true, allowHalfOpen: true })
  const connected = (s: net.Socket) =>
    Effect.async<net.Socket>((resume) => {
      s.once("connect", () => resume(Effect.succeed(s)))
    })
  const ended = (s: net.Socket) =>
    Effect.async<void>((resume) => {
      s.once("end", () => resume(Effect.void))
      s.resume()
    })

  const loop =
    (cycle: Effect.Effect<unknown, unknown>): Loop =>
    (millis) =>
      runtime.runPromise(
        Effect.gen(function* () {
          const deadline = now() + millis
          let count = 0
          while (now() < deadline) {
            yield* cycle
            count++
          }
          return count
        }),
      )

  // (no interruption handling: nothing interrupts these loops)
  const effect = Effect.flatMap(
    Effect.suspend(() => connected(open())),
    (s) =>
      Effect.zipRight(
        ended(s),
        Effect.sync(() => s.destroy()),
      ),
  )
  const steps: Record<string, Loop> = {
    raw,
    effect: loop(effect),
    scoped: loop(Effect.scoped(effect)),
    resource: loop(
      Effect.scoped(
        Effect.flatMap(
          // registered once connected; a failed or interrupted connect is destroyed, not registered
          Effect.uninterruptibleMask((restore) =>
            Effect.flatMap(Effect.scope, (scope) => {
              const s = open()
              return Effect.matchCauseEffect(restore(connected(s)), {
                onFailure: (cause) =>
                  Effect.zipRight(
                    Effect.sync(() => s.destroy()),
                    Effect.failCause(cause),
                  ),
                onSuccess: () =>
                  Effect.as(
                    Scope.addFinalizer(
                      scope,
                      Effect.sync(() => s.destroy()),
                    ),
                    s,
                  ),
              })
            }),
          ),
          ended,
        ),
      ),
    ),
    // the same resource without a Scope: acquire, use, release (what a bracket-style API could do)
    bracket: loop(
      Effect.acquireUseRelease(
        Effect.suspend(() => connected(open())),
        ended,
        (s) => Effect.sync(() => s.destroy()),
      ),
    ),
    netfx: async (millis) => (await netfxClient.accept(port, millis)).count,
    withConnection: async (millis) => (await (netfxClient.acceptBracket ?? netfxClient.accept)(port, millis)).count,
  }

  const names = env("STEPS", Object.keys(steps).join(",")).split(",")
  const run = (name: string, millis: number): Promise<number> => {
    const step = steps[name]
    if (step === undefined) throw new Error(`no step ${name}; steps: ${Object.keys(steps).join(", ")}`)
    return step(millis)
  }
  for (const name of names) await run(name, Number(env("WARMUP", "1500")))
  const mode = env("MODE", "cpu")

  if (mode === "ops") {
    // the fiber run loop calls the tracer's `context` once per operation
    const tracer = Context.get(DefaultServices.liveServices, Tracer.Tracer) as { context: Tracer.Tracer["context"] }
    const original = tracer.context
    let ops = 0
    tracer.context = (f, fiber) => {
      ops++
      return original(f, fiber)
    }
    for (const name of names) {
      ops = 0
      const count = await run(name, 300)
      console.log(`${name.padEnd(14)} ${(ops / count).toFixed(1)} Effect operations per cycle`)
    }
  } else if (mode === "alloc") {
    const gc = (globalThis as { gc?: () => void }).gc
    if (gc === undefined) throw new Error("run with --expose-gc")
    for (const name of names) {
      const perCycle: Array<number> = []
      for (let i = 0; i < 6; i++) {
        gc()
        const heap0 = v8.getHeapStatistics().used_heap_size
        const count = await run(name, 40)
        perCycle.push((v8.getHeapStatistics().used_heap_size - heap0) / count)
      }
      console.log(`${name.padEnd(14)} ${Math.min(...perCycle).toFixed(0)} bytes allocated per cycle (smallest of 6)`)
    }
  } else {
    const perOp = new Map<string, Array<number>>(names.map((name) => [name, []]))
    const windows = Number(env("WINDOWS", "12"))
    const window = Number(env("WINDOW", "400"))
    for (let i = 0; i < windows; i++) {
      for (const name of names) {
        const cpu0 = process.cpuUsage()
        const count = await run(name, window)
        const cpu = process.cpuUsage(cpu0)
        perOp.get(name)?.push((cpu.user + cpu.system) / count)
      }
    }
    for (const [name, xs] of perOp) {
      const s = [...xs].sort((a, b) => a - b)
      const at = (q: number) => (s[Math.floor(s.length * q)] as number).toFixed(1)
      console.log(`${name.padEnd(14)} CPU µs per cycle: min ${at(0)}, q1 ${at(0.25)}, median ${at(0.5)}`)
    }
  }
  process.exit(0)
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
