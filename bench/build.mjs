#!/usr/bin/env node
// Builds what `pnpm bench` runs: compiled JavaScript, with the netfx packages
// resolved as a user's install resolves them. The harness runs this before it
// starts any worker; run it yourself to use the measurement scripts compiled:
//
//   node bench/build.mjs && node --expose-gc bench/dist/src/idleHeap.js
//
// 1. The packages (@netfx/core, node, bun, cluster): when `node
//    scripts/build.mjs --verify` finds their dist/ missing or older than a
//    source, `node scripts/build.mjs` rebuilds it (the release build).
// 2. The bench's own sources: `tsc -p bench/tsconfig.dist.json` (emit only;
//    `pnpm check` type-checks them) into bench/dist/src, when a source is
//    newer than its output.
// 3. bench/dist/node_modules/@netfx/<pkg>: each package as `pnpm pack` ships
//    it: the manifest with its `publishConfig` applied (so `exports` point at
//    dist/) and a copy of its `files`. Node and Bun look up a bare specifier
//    from bench/dist/src/*.js in bench/dist/node_modules first, so
//    `@netfx/node` resolves to the staged package's dist/index.js; anything
//    else (effect, @effect/*) resolves from bench/node_modules, as a user's
//    own dependencies would, one copy shared by the bench and netfx. Copies,
//    not symlinks: a runtime resolves a module's imports from its real path,
//    and a symlink into packages/<pkg> would lead back to the workspace's
//    source exports. @netfx/native (plain CommonJS, no build, the same files
//    in the workspace and the tarball) is a symlink to packages/native.
//
// Prints progress (and the compilers' output) on stderr; exits 1, saying which step failed, when a
// build fails. Everything it writes is under dist/ directories (gitignored).
import { spawnSync } from "node:child_process"
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs"
import { dirname, join, relative } from "node:path"
import { fileURLToPath } from "node:url"

const bench = dirname(fileURLToPath(import.meta.url))
const root = join(bench, "..")
const out = join(bench, "dist")
const say = (line) => process.stderr.write(`bench build: ${line}\n`)
const fail = (line) => {
  process.stderr.write(`bench build: FAILED: ${line}\n`)
  process.exit(1)
}
/** Runs `node <args>` from the repository root; returns { ok, output }. */
const node = (args, show) => {
  const r = spawnSync(process.execPath, args, {
    cwd: root,
    encoding: "utf8",
    // everything on stderr, in order: stdout is not this script's channel
    stdio: ["ignore", show ? 2 : "pipe", show ? 2 : "pipe"],
  })
  return { ok: r.status === 0, output: `${r.stdout ?? ""}${r.stderr ?? ""}${r.error?.message ?? ""}` }
}
/** Every file under `dir`, recursively. */
const walk = (dir) =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)],
  )
const started = Date.now()

// 1. the packages' dist/
const verify = node([join(root, "scripts", "build.mjs"), "--verify"], false)
if (!verify.ok) {
  const problems = verify.output.trim().split("\n")
  say(`packages' dist/ out of date (${problems[0]}${problems.length > 1 ? `, and ${problems.length - 1} more` : ""})`)
  say("building the packages: node scripts/build.mjs")
  if (!node([join(root, "scripts", "build.mjs")], true).ok)
    fail("node scripts/build.mjs (the packages' build) failed; see its output above")
}

// 2. the bench's sources
const sources = walk(join(bench, "src")).filter((f) => f.endsWith(".ts"))
const config = join(bench, "tsconfig.dist.json")
const configTime = Math.max(
  ...[config, join(bench, "tsconfig.json"), join(root, "tsconfig.base.json")].map((f) => statSync(f).mtimeMs),
)
const stale = sources.filter((file) => {
  const js = join(out, relative(bench, file)).replace(/\.ts$/, ".js")
  return !existsSync(js) || statSync(js).mtimeMs < Math.max(statSync(file).mtimeMs, configTime)
})
if (stale.length > 0) {
  say(`compiling bench/src (${stale.length} of ${sources.length} modules changed): tsc -p bench/tsconfig.dist.json`)
  // from scratch, so no module of a deleted source lingers
  rmSync(join(out, "src"), { recursive: true, force: true })
  if (!node([join(root, "node_modules", "typescript", "bin", "tsc"), "-p", config], true).ok)
    fail("tsc -p bench/tsconfig.dist.json (the bench's own sources) failed; see its output above")
}

// 3. the packages as installed from their tarballs
const staging = join(out, `node_modules.${process.pid}`)
/** Whether process `pid` is alive. */
const alive = (pid) => {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return e.code === "EPERM"
  }
}
// the staging directory of an earlier build that died
for (const e of existsSync(out) ? readdirSync(out) : []) {
  const pid = /^node_modules\.(\d+)$/.exec(e)?.[1]
  if (pid !== undefined && !alive(Number(pid))) rmSync(join(out, e), { recursive: true, force: true })
}
const scope = join(staging, "@netfx")
mkdirSync(scope, { recursive: true })
const manifests = Object.fromEntries(
  ["core", "node", "bun", "cluster", "native"].map((pkg) => [
    pkg,
    JSON.parse(readFileSync(join(root, "packages", pkg, "package.json"), "utf8")),
  ]),
)
const versions = Object.fromEntries(Object.values(manifests).map((m) => [m.name, m.version]))
for (const pkg of ["core", "node", "bun", "cluster"]) {
  const dir = join(root, "packages", pkg)
  const { publishConfig, ...manifest } = manifests[pkg]
  // what pnpm pack writes: publishConfig's fields over the top-level ones, workspace: ranges resolved
  const published = { ...manifest, ...publishConfig }
  for (const field of ["dependencies", "peerDependencies", "optionalDependencies"]) {
    const deps = published[field]
    if (deps === undefined) continue
    published[field] = Object.fromEntries(
      Object.entries(deps).map(([name, range]) => {
        const m = /^workspace:(.*)$/.exec(range)
        if (m === null) return [name, range]
        const spec = m[1] === "*" ? versions[name] : m[1] === "^" || m[1] === "~" ? `${m[1]}${versions[name]}` : m[1]
        return [name, spec]
      }),
    )
  }
  const target = join(scope, pkg)
  const files = published.files ?? []
  const excluded = new Set(files.filter((f) => f.startsWith("!")).map((f) => join(dir, f.slice(1))))
  for (const entry of files) {
    if (entry.startsWith("!")) continue
    if (/[*?{[]/.test(entry)) fail(`packages/${pkg}: "files" entry ${entry} is a pattern; teach bench/build.mjs globs`)
    if (!existsSync(join(dir, entry))) continue
    cpSync(join(dir, entry), join(target, entry), { recursive: true, filter: (src) => !excluded.has(src) })
  }
  writeFileSync(join(target, "package.json"), `${JSON.stringify(published, null, 2)}\n`)
}
symlinkSync(relative(scope, join(root, "packages", "native")), join(scope, "native"), "dir")
rmSync(join(out, "node_modules"), { recursive: true, force: true })
renameSync(staging, join(out, "node_modules"))
say(`ready in ${((Date.now() - started) / 1000).toFixed(1)} s: bench/dist/src, @netfx/* from their published exports`)
