// Runs every JSDoc/README example that asserts (mentions `assert`), so an
// example that type-checks but is wrong fails CI. scripts/check-docs.mjs
// extracts the examples into examples/.doc-examples/ (with examples.json);
// this script runs the asserting ones on Node from there:
// - a plain example runs as a module under tsx; when it only builds a
//   `program` Effect, that program is run too (Effect.runPromise), so its
//   assertions execute;
// - an example written as an @effect/vitest test (`it.effect(...)`) runs
//   under vitest.
// Examples fenced "```ts no-run: <reason>" are skipped and listed with the
// reason. Examples that talk to a network use loopback or MemoryNetwork only.
//
// Usage: node scripts/run-doc-examples.mjs   (runs check-docs first if needed)
import { spawnSync } from "node:child_process"
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const root = join(dirname(fileURLToPath(import.meta.url)), "..")
const dir = join(root, "examples", ".doc-examples")
const manifest = join(dir, "examples.json")
if (!existsSync(manifest)) {
  const check = spawnSync(process.execPath, [join(root, "scripts", "check-docs.mjs")], { stdio: "inherit" })
  if (check.status !== 0) process.exit(1)
}

/** @type {Array<{ module: string, file: string, line: number, noRun?: string }>} */
const examples = JSON.parse(readFileSync(manifest, "utf8"))
const run = join(dir, "run")
rmSync(run, { recursive: true, force: true })
mkdirSync(join(run, "vitest"), { recursive: true })

/** @type {Array<{ module: string, origin: string }>} */
const plain = []
/** @type {Array<{ module: string, origin: string }>} */
const tests = []
/** @type {Array<string>} */
const skipped = []
for (const e of examples) {
  const code = readFileSync(join(dir, e.module), "utf8")
  if (!/\bassert\b/.test(code)) continue
  const origin = `${e.file}:${e.line}`
  if (e.noRun !== undefined) {
    skipped.push(`${origin}: ${e.noRun}`)
    continue
  }
  if (/from "@effect\/vitest"/.test(code) && /\bit(\.\w+)?\(/.test(code)) {
    writeFileSync(join(run, "vitest", e.module.replace(/\.ts$/, ".test.ts")), code)
    tests.push({ module: e.module, origin })
    continue
  }
  // an example that builds `program` and leaves running it to the reader: run it here
  const runsProgram = /\b(run\w*|runFork)\(\s*program\b|program\.pipe\([^)]*run/.test(code)
  const body =
    /\bconst program\b/.test(code) && !runsProgram
      ? `${code}\nimport { Effect as DocExampleEffect } from "effect"\nawait DocExampleEffect.runPromise(program)\n`
      : code
  writeFileSync(join(run, e.module), body)
  plain.push({ module: e.module, origin })
}

// plain examples: one Node process (tsx), each example imported in turn with a time limit
writeFileSync(
  join(run, "runner.ts"),
  `const examples: ReadonlyArray<{ module: string; origin: string }> = ${JSON.stringify(plain)}
let failed = 0
const late: Array<string> = []
process.on("unhandledRejection", (error) => late.push(String(error)))
for (const { module, origin } of examples) {
  let timer: ReturnType<typeof setTimeout> | undefined
  try {
    await Promise.race([
      import(\`./\${module}\`),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error("did not finish within 30 s")), 30_000)
      }),
    ])
    console.log(\`ok    \${origin}\`)
  } catch (error) {
    failed++
    console.log(\`FAIL  \${origin}: \${error instanceof Error ? (error.stack ?? error.message) : String(error)}\`)
  } finally {
    clearTimeout(timer)
  }
}
for (const error of late) console.log(\`FAIL  an example left an unhandled rejection: \${error}\`)
process.exit(failed + late.length > 0 ? 1 : 0)
`,
)
const tsx = spawnSync(join(root, "node_modules", ".bin", "tsx"), [join(run, "runner.ts")], {
  cwd: run,
  encoding: "utf8",
})
process.stdout.write(tsx.stdout)
process.stderr.write(tsx.stderr)
let failures = (tsx.stdout.match(/^FAIL {2}/gm) ?? []).length
if (tsx.status !== 0 && failures === 0) failures = 1

// @effect/vitest examples
if (tests.length > 0) {
  writeFileSync(
    join(run, "vitest", "vitest.config.ts"),
    `export default { test: { include: ["*.test.ts"], testTimeout: 30_000 } }\n`,
  )
  const vitest = spawnSync(
    process.execPath,
    [join(root, "node_modules", "vitest", "vitest.mjs"), "run", "--root", join(run, "vitest")],
    { encoding: "utf8" },
  )
  for (const t of tests) console.log(`${vitest.status === 0 ? "ok   " : "FAIL "} ${t.origin} (vitest)`)
  if (vitest.status !== 0) {
    process.stdout.write(vitest.stdout)
    process.stderr.write(vitest.stderr)
    failures++
  }
}

for (const s of skipped) console.log(`skip  ${s}`)
console.log(
  `run-doc-examples: ${plain.length + tests.length} asserting examples run, ${failures} failing, ${skipped.length} marked no-run`,
)
process.exitCode = failures > 0 ? 1 : 0
