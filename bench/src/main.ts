/**
 * `pnpm bench`: runs every scenario for every implementation and prints a
 * table; writes bench/results/latest.json. Options (flag or environment):
 *
 *   --size=MiB          BENCH_SIZE      bytes per bulk run, MiB (default 1024 = 1 GiB)
 *   --duration=s        BENCH_DURATION  length of each timed run (default 3)
 *   --runs=n            BENCH_RUNS      measured runs per figure (default 5)
 *   --warmup=n          BENCH_WARMUP    warm-up runs, dropped (default 1)
 *   --idle=n            BENCH_IDLE      idle connections (default 10000)
 *   --idle-runs=n       BENCH_IDLE_RUNS idle-memory runs (default 3)
 *   --many=n            BENCH_MANY      connections in "many" (default 100)
 *   --chunk=bytes       BENCH_CHUNK     bulk write size (default 65536)
 *   --pin=split|same|none BENCH_PIN     CPU pinning (default split: server CPU 0, client CPU 1)
 *   --impls=a,b         BENCH_IMPLS     of raw-node,netfx-node,platform-node,raw-bun,netfx-bun
 *   --scenarios=a,b     BENCH_SCENARIOS of bulk,pingpong,many,accept,unix,udp,unixdgram,tls,handshake,idle,cluster
 *   --out=path          BENCH_OUT       JSON output (default bench/results/latest.json)
 *   --from=dist|src     BENCH_FROM      what the workers run (default dist: compiled, the
 *                                       packages' builds, built first by bench/build.mjs;
 *                                       src: the sources, through tsx on Node)
 *   --quick                             tiny sizes for a smoke run
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { BENCH_DIR, BUN, type Options, run, SCENARIOS, type Scenario, table } from "./harness.ts"
import { IMPLS, type ImplId, isBun } from "./worker.ts"

export const parseOptions = (argv: ReadonlyArray<string>, env: NodeJS.ProcessEnv): Options => {
  const flags = new Map<string, string>()
  for (const a of argv) {
    // `pnpm bench -- --flag` passes the `--` through
    if (a === "--") continue
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(a)
    if (m === null) throw new Error(`unknown argument ${a}`)
    flags.set(m[1] as string, m[2] ?? "true")
  }
  const quick = flags.get("quick") === "true"
  const get = (flag: string, name: string, fallback: string, quickValue?: string): string =>
    flags.get(flag) ?? env[name] ?? (quick && quickValue !== undefined ? quickValue : fallback)
  const num = (flag: string, name: string, fallback: number, quickValue?: number): number => {
    const raw = get(flag, name, String(fallback), quickValue === undefined ? undefined : String(quickValue))
    const n = Number(raw)
    if (!Number.isFinite(n) || n < 0) throw new Error(`--${flag}: not a number: ${raw}`)
    return n
  }
  const list = <A extends string>(flag: string, name: string, all: ReadonlyArray<A>, fallback: ReadonlyArray<A>) => {
    const raw = flags.get(flag) ?? env[name]
    if (raw === undefined) return fallback
    const items = raw.split(",").map((s) => s.trim()) as Array<A>
    for (const i of items) if (!all.includes(i)) throw new Error(`--${flag}: unknown ${i} (one of ${all.join(", ")})`)
    return items
  }
  const bunAvailable = fs.existsSync(BUN)
  const defaultImpls = IMPLS.filter((i) => bunAvailable || !isBun(i))
  const pin = get("pin", "BENCH_PIN", "split")
  if (pin !== "split" && pin !== "same" && pin !== "none") throw new Error(`--pin: split, same or none, not ${pin}`)
  const out = get("out", "BENCH_OUT", path.join(BENCH_DIR, "results", "latest.json"))
  const from = get("from", "BENCH_FROM", "dist")
  if (from !== "dist" && from !== "src") throw new Error(`--from: dist or src, not ${from}`)
  return {
    impls: list<ImplId>("impls", "BENCH_IMPLS", IMPLS, defaultImpls),
    scenarios: list<Scenario>("scenarios", "BENCH_SCENARIOS", SCENARIOS, SCENARIOS),
    bulkBytes: Math.round(num("size", "BENCH_SIZE", 1024, 4) * 1024 * 1024),
    chunk: num("chunk", "BENCH_CHUNK", 65536),
    millis: num("duration", "BENCH_DURATION", 3, 0.2) * 1000,
    manyConnections: num("many", "BENCH_MANY", 100, 10),
    idleConnections: num("idle", "BENCH_IDLE", 10_000, 200),
    runs: num("runs", "BENCH_RUNS", 5, 1),
    warmup: num("warmup", "BENCH_WARMUP", 1, 0),
    idleRuns: num("idle-runs", "BENCH_IDLE_RUNS", 3, 1),
    pin,
    from,
    out: out === "" ? undefined : out,
    log: (line) => process.stderr.write(`${line}\n`),
  }
}

const main = async () => {
  const options = parseOptions(process.argv.slice(2), process.env)
  options.log(
    `netfx bench: ${options.impls.join(", ")}; ${options.scenarios.join(", ")}; ${options.runs} runs + ${options.warmup} warm-up; pin ${options.pin}`,
  )
  const report = await run(options)
  process.stdout.write(`${table(report)}\n`)
  if (options.out !== undefined) options.log(`wrote ${options.out}`)
}

if (process.argv[1] !== undefined && /main\.ts$/.test(process.argv[1])) {
  main().catch((e) => {
    process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`)
    process.exit(1)
  })
}
