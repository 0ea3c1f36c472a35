#!/usr/bin/env node
// Keeps the published entry points of @netfx/core, @netfx/node, @netfx/bun and @netfx/cluster
// in step with their modules. Every top-level module `src/<Name>.ts` is a
// public entry `./<Name>` (`src/index.ts` is `.`); in @netfx/core every
// `testing/<Name>.ts` is `./testing/<Name>` (`testing/index.ts` is `./testing`).
// `src/internal/` is never exported.
//
// In the workspace, package.json `exports` maps those entries to the
// TypeScript sources with patterns. What users get is `publishConfig.exports`
// (pnpm applies it when packing and publishing): one entry per module, each
// with `types` and `default` conditions into dist/, listed one by one so
// publint and attw check every entry.
//
//   node scripts/exports.mjs           check (part of `pnpm check`); exit 1 when out of date
//   node scripts/exports.mjs --write   rewrite publishConfig.exports
import { readdirSync, readFileSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const root = join(dirname(fileURLToPath(import.meta.url)), "..")
const write = process.argv.includes("--write")

/** The module names (without `.ts`) directly in `dir`, sorted. */
const modules = (dir) =>
  readdirSync(dir)
    .filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts"))
    .map((f) => f.slice(0, -3))
    .sort()

const entry = (path) => ({ types: `./dist/${path}.d.ts`, default: `./dist/${path}.js` })

/** The publishConfig.exports a package should have. */
const expected = (pkg) => {
  const dir = join(root, "packages", pkg)
  // core compiles src/ and testing/ (dist/src, dist/testing); node, bun and cluster only src/ (dist)
  const src = pkg === "core" ? "src/" : ""
  const out = { ".": entry(`${src}index`) }
  for (const m of modules(join(dir, "src"))) if (m !== "index") out[`./${m}`] = entry(`${src}${m}`)
  if (pkg === "core") {
    out["./testing"] = entry("testing/index")
    for (const m of modules(join(dir, "testing"))) if (m !== "index") out[`./testing/${m}`] = entry(`testing/${m}`)
  }
  out["./package.json"] = "./package.json"
  return out
}

let stale = 0
for (const pkg of ["core", "node", "bun", "cluster"]) {
  const file = join(root, "packages", pkg, "package.json")
  const text = readFileSync(file, "utf8")
  const json = JSON.parse(text)
  const want = expected(pkg)
  if (JSON.stringify(json.publishConfig?.exports) === JSON.stringify(want)) continue
  if (write) {
    json.publishConfig = { ...json.publishConfig, exports: want }
    writeFileSync(file, `${JSON.stringify(json, null, 2)}\n`)
    console.log(`exports: updated packages/${pkg}/package.json publishConfig.exports`)
  } else {
    stale++
    console.error(
      `exports: packages/${pkg}/package.json publishConfig.exports does not list exactly the package's modules; ` +
        "run `node scripts/exports.mjs --write`",
    )
  }
}
if (stale > 0) process.exit(1)
if (!write) console.log("exports: every public module has a published entry point")
