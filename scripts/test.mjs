#!/usr/bin/env node
// Runs the whole test suite: every package under Node, then the Bun package
// under Bun, and prints one closing line "N passed, N failed, N skipped".
// Exit status is non-zero when anything failed or a runner crashed.
//
//   node scripts/test.mjs [--runtime=node|bun] [vitest arguments...]
//
// The Node run uses the Node that runs this script (CI runs it with Node 20
// and with Node 24); `--runtime=node` leaves out the Bun run.
import { spawnSync } from "node:child_process"
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const root = join(dirname(fileURLToPath(import.meta.url)), "..")
const out = join(root, "test-results")
rmSync(out, { recursive: true, force: true })
mkdirSync(out, { recursive: true })
const bin = (name) => join(root, "node_modules", ".bin", name)
const vitest = join(root, "node_modules", "vitest", "vitest.mjs")
const only = process.argv.find((a) => a.startsWith("--runtime="))?.slice("--runtime=".length)
const extra = process.argv.slice(2).filter((a) => !a.startsWith("--runtime="))

const runs = [
  {
    name: "node",
    cmd: process.execPath,
    args: [
      vitest,
      "run",
      "--reporter=default",
      "--reporter=json",
      `--outputFile.json=${join(out, "node.json")}`,
      ...extra,
    ],
    cwd: root,
  },
  {
    name: "bun",
    cmd: bin("bun"),
    args: [
      "--bun",
      vitest,
      "run",
      "--reporter=default",
      "--reporter=json",
      `--outputFile.json=${join(out, "bun.json")}`,
      ...extra,
    ],
    cwd: join(root, "packages", "bun"),
  },
]

let passed = 0
let failed = 0
let skipped = 0
let crashed = false
for (const run of runs.filter((r) => only === undefined || r.name === only)) {
  console.log(`\n### tests on ${run.name}${run.name === "node" ? ` ${process.version}` : ""}`)
  const result = spawnSync(run.cmd, run.args, { cwd: run.cwd, stdio: "inherit" })
  const file = join(out, `${run.name}.json`)
  if (!existsSync(file)) {
    console.log(`### ${run.name}: no results (exit ${result.status})`)
    crashed = true
    continue
  }
  const report = JSON.parse(readFileSync(file, "utf8"))
  passed += report.numPassedTests
  failed += report.numFailedTests
  skipped += report.numPendingTests + report.numTodoTests
  console.log(`### ${run.name}: ${report.numPassedTests} passed, ${report.numFailedTests} failed`)
  if (result.status !== 0 && report.numFailedTests === 0) crashed = true
}
console.log(`\n${passed} passed, ${failed} failed, ${skipped} skipped`)
process.exitCode = failed > 0 || crashed || passed === 0 ? 1 : 0
