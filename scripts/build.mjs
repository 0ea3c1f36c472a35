#!/usr/bin/env node
// Builds the published form of @netfx/core, @netfx/node, @netfx/bun and
// @netfx/cluster:
// ESM JavaScript, declarations, declaration maps and source maps in each
// package's dist/ (tsc -b tsconfig.build.json, project references).
//
//   node scripts/build.mjs            clean dist/, compile, fix up, verify
//   node scripts/build.mjs --verify   only verify (the packages' `prepack`)
//
// Inside the workspace nothing needs dist/: package.json `exports` point at
// the TypeScript sources, and `publishConfig.exports` (applied by `pnpm pack`
// and `pnpm publish`) point at dist/.
//
// The fix-up: tsc rewrites relative `./x.ts` imports to `./x.js` in the
// JavaScript it emits (rewriteRelativeImportExtensions) but not in the
// declarations (microsoft/TypeScript#61037, TypeScript 5.7 up to 7). The
// declarations must not name `.ts` files a consumer does not have, so this
// script rewrites those specifiers to `.js`; the replacement has the same
// length, so the declaration maps stay exact.
import { spawnSync } from "node:child_process"
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs"
import { dirname, join, relative } from "node:path"
import { fileURLToPath } from "node:url"

const root = join(dirname(fileURLToPath(import.meta.url)), "..")
const packages = ["core", "node", "bun", "cluster"]
const verifyOnly = process.argv.includes("--verify")

/** Every file under `dir`, recursively. */
const walk = (dir) =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)],
  )

// a relative module specifier ending in .ts, in an import/export or import() position
const relativeTs = /((?:\bfrom|\bimport|\bimport\()\s*)(["'])(\.\.?\/[^"'\n]*?)\.ts\2/g

if (!verifyOnly) {
  for (const pkg of packages) rmSync(join(root, "packages", pkg, "dist"), { recursive: true, force: true })
  const tsc = spawnSync(join(root, "node_modules", ".bin", "tsc"), ["-b", join(root, "tsconfig.build.json")], {
    stdio: "inherit",
  })
  if (tsc.status !== 0) process.exit(tsc.status ?? 1)
  for (const pkg of packages) {
    for (const file of walk(join(root, "packages", pkg, "dist"))) {
      if (!file.endsWith(".d.ts")) continue
      const text = readFileSync(file, "utf8")
      const fixed = text.replace(relativeTs, (_, lead, q, path) => `${lead}${q}${path}.js${q}`)
      if (fixed !== text) writeFileSync(file, fixed)
    }
  }
}

// verify: every public module has its .js and .d.ts (+ maps), and no emitted
// file refers to a .ts module
const problems = []
for (const pkg of packages) {
  const dir = join(root, "packages", pkg)
  const dist = join(dir, "dist")
  if (!existsSync(dist)) {
    problems.push(`packages/${pkg}/dist is missing: run \`pnpm build\` first`)
    continue
  }
  const sources = pkg === "core" ? ["src", "testing"] : ["src"]
  for (const srcDir of sources) {
    for (const file of walk(join(dir, srcDir))) {
      if (!file.endsWith(".ts")) continue
      const rel = relative(join(dir, pkg === "core" ? "" : "src"), file).replace(/\.ts$/, "")
      for (const ext of [".js", ".js.map", ".d.ts", ".d.ts.map"]) {
        const out = join(dist, rel + ext)
        if (!existsSync(out)) problems.push(`${relative(root, out)} is missing`)
        else if (statSync(out).mtimeMs + 1 < statSync(file).mtimeMs)
          problems.push(`${relative(root, out)} is older than its source: run \`pnpm build\``)
      }
    }
  }
  for (const file of walk(dist)) {
    if (!/\.(d\.ts|js)$/.test(file)) continue
    const text = readFileSync(file, "utf8")
    for (const m of text.matchAll(relativeTs)) problems.push(`${relative(root, file)}: imports "${m[3]}.ts"`)
  }
}
if (problems.length > 0) {
  for (const p of problems) console.error(p)
  process.exit(1)
}
console.log(
  `build: ${packages.map((p) => `@netfx/${p}`).join(", ")} dist/ ${verifyOnly ? "verified" : "built and verified"}`,
)
