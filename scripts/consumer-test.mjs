#!/usr/bin/env node
// The consumer test: netfx as a user gets it. It builds and packs every
// package, checks each tarball with publint and attw, installs the tarballs
// into fresh projects with npm, with pnpm and with bun, and in each project
// - runs scripts/consumer/smoke.mjs (plain JavaScript) with `node` 20, 22 and
//   24 and with `bun`: every public entry point loads (@netfx/cluster's too,
//   with its @effect/cluster peers installed); TCP echo through
//   `serve`; a TLS round trip; a UDP round trip; Unix datagrams and fd
//   passing (both need the @netfx/native addon); and on each Node the
//   README's "Use netfx in your project" program;
// - type-checks scripts/consumer/app.ts and scripts/consumer/cluster.ts with
//   TypeScript 5.x (strict, skipLibCheck off), moduleResolution NodeNext and
//   Bundler, and every example of the documentation (JSDoc @example blocks,
//   the READMEs, docs/*.md; `check-docs.mjs --extract-only`) with
//   exactOptionalPropertyTypes, NodeNext and Bundler.
//
// When @netfx/native ships prebuilt binaries, installs and runs happen with
// C compilers, make and python shadowed on PATH (stubs that exit 1) and with
// each package manager's default treatment of install scripts, so the addon
// must come from the tarball. Without prebuilt binaries (before they land)
// the test says so, leaves the toolchain on PATH and, for pnpm and bun (which
// block install scripts), runs the addon's install script itself, so that it
// still checks the addon-backed parts.
//
// Node 22 and 24 come from the npm packages node-linux-<arch>@22/@24 (and
// Node 20 too when the running Node is not 20), cached under
// ~/.cache/netfx-ci (scripts/node-binary.mjs).
//
//   node scripts/consumer-test.mjs [--skip-build] [--keep] [--refresh] [--pm npm,pnpm,bun]
//                                  [--native-tarball <file>]
//
// Exit status 1 when any check failed; the closing table shows each result.
import { spawnSync } from "node:child_process"
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs"
import { tmpdir } from "node:os"
import { delimiter, dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { nodeBinary } from "./node-binary.mjs"

const root = join(dirname(fileURLToPath(import.meta.url)), "..")
const here = join(root, "scripts", "consumer")
const argv = process.argv.slice(2)
const flag = (name) => argv.includes(name)
const option = (name, fallback) => {
  const i = argv.indexOf(name)
  return i >= 0 && i + 1 < argv.length ? argv[i + 1] : fallback
}
const managers = option("--pm", "npm,pnpm,bun").split(",")
const packages = ["core", "node", "bun", "native", "cluster"]
const work = mkdtempSync(join(tmpdir(), "netfx-consumer-"))
const bunBin = join(root, "node_modules", ".bin", "bun")
const started = Date.now()

/** Results: row (what) -> column (where) -> "pass" | "FAIL" | text. */
const results = new Map()
const record = (row, column, ok) => {
  if (!results.has(row)) results.set(row, new Map())
  results.get(row).set(column, ok === true ? "pass" : ok === false ? "FAIL" : ok)
}
const failures = []

const elapsed = () => `${((Date.now() - started) / 1000).toFixed(0)}s`
const say = (text) => console.log(`\n== [${elapsed()}] ${text}`)

// The child environment: nothing from an outer `pnpm run` (npm_config_*,
// NODE_OPTIONS) may change how the consumer projects install or resolve.
const baseEnv = Object.fromEntries(
  Object.entries(process.env).filter(
    ([k]) => !/^(npm_|pnpm_|NODE_OPTIONS$|NODE_PATH$|INIT_CWD$|PNPM_|BUN_INSTALL_)/i.test(k),
  ),
)

/** Runs a command; returns { ok, out } (stdout + stderr). Prints the output when it fails or when `show`. */
const run = (cmd, args, { cwd = work, env = baseEnv, show = false, timeout = 600_000 } = {}) => {
  const r = spawnSync(cmd, args, { cwd, env, encoding: "utf8", timeout, maxBuffer: 64 * 1024 * 1024 })
  const out = `${r.stdout ?? ""}${r.stderr ?? ""}${r.error ? `\n${r.error.message}` : ""}`
  const ok = r.status === 0
  if (!ok || show) process.stdout.write(out.endsWith("\n") || out === "" ? out : `${out}\n`)
  if (!ok) console.log(`   (${cmd} ${args.join(" ")} exited ${r.status ?? r.signal})`)
  return { ok, out }
}
const must = (what, result) => {
  if (!result.ok) {
    console.error(`consumer-test: ${what} failed`)
    process.exit(1)
  }
  return result
}

// 1. build and pack ---------------------------------------------------------
if (!flag("--skip-build")) {
  say("build (pnpm build)")
  must("the build", run(process.execPath, [join(root, "scripts", "build.mjs")], { cwd: root, show: true }))
}

say("pack every package (pnpm pack)")
const tarballDir = join(work, "tarballs")
mkdirSync(tarballDir)
const tarballs = {}
// --native-tarball <file>: use that @netfx/native tarball instead of packing packages/native
const nativeTarball = option("--native-tarball", undefined)
for (const pkg of packages) {
  const dir = join(root, "packages", pkg)
  if (pkg === "native" && nativeTarball !== undefined) {
    tarballs.native = join(tarballDir, "netfx-native-given.tgz")
    copyFileSync(nativeTarball, tarballs.native)
    continue
  }
  must(
    `pnpm pack in packages/${pkg}`,
    run("npx", ["-y", "pnpm@10", "pack", "--pack-destination", tarballDir], { cwd: dir, env: process.env }),
  )
  const version = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")).version
  tarballs[pkg] = join(tarballDir, `netfx-${pkg}-${version}.tgz`)
  if (!existsSync(tarballs[pkg])) must(`finding ${tarballs[pkg]}`, { ok: false })
}

/** The files of a tarball with their sizes. */
const contents = (file) =>
  run("tar", ["tzvf", file])
    .out.trim()
    .split("\n")
    .map((line) => {
      const parts = line.trim().split(/\s+/)
      return {
        size: Number(parts[2]),
        path: parts
          .slice(5)
          .join(" ")
          .replace(/^package\//, ""),
      }
    })
const kib = (n) => `${(n / 1024).toFixed(1)} KiB`
for (const pkg of packages) {
  const files = contents(tarballs[pkg])
  const unpacked = files.reduce((n, f) => n + f.size, 0)
  const groups = new Map()
  for (const f of files) {
    const top = f.path.includes("/") ? `${f.path.split("/")[0]}/` : f.path
    const g = groups.get(top) ?? { n: 0, size: 0 }
    groups.set(top, { n: g.n + 1, size: g.size + f.size })
  }
  console.log(
    `@netfx/${pkg}: ${kib(statSync(tarballs[pkg]).size)} packed, ${kib(unpacked)} unpacked, ${files.length} files: ` +
      [...groups].map(([top, g]) => `${top} (${g.n}, ${kib(g.size)})`).join(", "),
  )
  const stray = files.filter((f) => /(^|\/)(test|node_modules)\/|vitest\.config|tsconfig|\.tsbuildinfo$/.test(f.path))
  if (stray.length > 0) {
    failures.push(`@netfx/${pkg} tarball carries ${stray.map((f) => f.path).join(", ")}`)
    record(`@netfx/${pkg}`, "contents", false)
  } else record(`@netfx/${pkg}`, "contents", true)
  if (pkg !== "native" && !files.some((f) => f.path === "LICENSE")) {
    failures.push(`@netfx/${pkg} tarball has no LICENSE`)
    record(`@netfx/${pkg}`, "contents", false)
  }
}
const prebuilt = contents(tarballs.native).some((f) => /^prebuilds\/.+\.node$/.test(f.path))

// 2. publint and attw --------------------------------------------------------
say("publint and @arethetypeswrong/cli on every tarball")
for (const pkg of packages) {
  const publint = run(join(root, "node_modules", ".bin", "publint"), ["run", tarballs[pkg], "--strict"])
  record(`@netfx/${pkg}`, "publint", publint.ok)
  if (!publint.ok) failures.push(`publint @netfx/${pkg}`)
  // ESM-only packages (type: module, no CommonJS build): attw's esm-only
  // profile leaves out the CommonJS resolutions (node10, node16 from CJS)
  const attw = run(join(root, "node_modules", ".bin", "attw"), [
    tarballs[pkg],
    "--profile",
    "esm-only",
    "--format",
    "ascii",
  ])
  const entries = (attw.out.match(/^"@netfx\/[^"]+"$/gm) ?? []).length
  console.log(
    `@netfx/${pkg}: publint ${publint.ok ? "clean" : "FAILED"}, attw ${attw.ok ? "clean" : "FAILED"} (${entries} entry points)`,
  )
  record(`@netfx/${pkg}`, "attw", attw.ok)
  if (!attw.ok) failures.push(`attw @netfx/${pkg}`)
}

// 3. runtimes ----------------------------------------------------------------
const runtimes = [
  ...[20, 22, 24].map((major) => {
    say(`Node ${major}`)
    return { name: `node ${major}`, bin: nodeBinary(major, { refresh: flag("--refresh") }) }
  }),
  { name: "bun", bin: bunBin },
]
for (const r of runtimes) {
  const v = run(r.bin, ["--version"])
  r.version = v.out.trim()
  console.log(`${r.name}: ${r.bin} (${r.version})`)
}

// no C toolchain: stubs that fail, first on PATH
const stubs = join(work, "no-toolchain")
mkdirSync(stubs)
for (const tool of ["cc", "gcc", "g++", "c++", "clang", "make", "python3", "python"]) {
  writeFileSync(join(stubs, tool), `#!/bin/sh\necho "${tool}: not available (consumer test)" >&2\nexit 1\n`)
  chmodSync(join(stubs, tool), 0o755)
}
const pathWith = (...dirs) => [...dirs, process.env.PATH].join(delimiter)
if (prebuilt) console.log("\n@netfx/native ships prebuilt binaries: compilers, make and python are shadowed on PATH")
else
  console.log(
    "\nWARNING: the @netfx/native tarball has no prebuilt binaries (prebuilds/): the toolchain stays on PATH and " +
      "pnpm and bun are allowed to run its install script, so the addon compiles. Once prebuilt binaries ship, " +
      "this test shadows the toolchain and uses each package manager's defaults.",
  )

// TLS material for the smoke program, made now
const certs = join(work, "certs")
mkdirSync(certs)
must(
  "openssl",
  run(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-days",
      "2",
      "-subj",
      "/CN=localhost",
      "-addext",
      "subjectAltName=DNS:localhost,IP:127.0.0.1",
      "-keyout",
      join(certs, "key.pem"),
      "-out",
      join(certs, "cert.pem"),
    ],
    { cwd: certs },
  ),
)

// the README's "Use netfx in your project" program (its first ```js block)
const readmeText = readFileSync(join(root, "README.md"), "utf8")
const readmeProgram = /```js\n([\s\S]*?)```/.exec(
  readmeText.slice(readmeText.indexOf("## Use netfx in your project")),
)?.[1]
if (readmeProgram === undefined) must("finding the README's program", { ok: false })

// 4. per package manager: install, smoke on each runtime, type-check ---------
const installers = {
  npm: { cmd: "npm", args: ["install", "--no-audit", "--no-fund", "--loglevel=error"] },
  pnpm: { cmd: "npx", args: ["-y", "pnpm@10", "install", "--reporter=append-only"] },
  bun: { cmd: bunBin, args: ["install"] },
}
const spec = (pkg) => `file:${tarballs[pkg]}`
const rootManifest = JSON.parse(readFileSync(join(root, "package.json"), "utf8"))
const clusterPeers = JSON.parse(
  readFileSync(join(root, "packages", "cluster", "package.json"), "utf8"),
).peerDependencies
for (const pm of managers) {
  const installer = installers[pm]
  if (installer === undefined) {
    console.error(`unknown package manager ${pm}`)
    process.exit(2)
  }
  say(`${pm}: install the tarballs into a fresh project`)
  const app = join(work, `app-${pm}`)
  mkdirSync(app)
  const netfx = Object.fromEntries(packages.map((p) => [`@netfx/${p}`, spec(p)]))
  const manifest = {
    name: `netfx-consumer-${pm}`,
    private: true,
    type: "module",
    // @netfx/cluster's peers (@effect/cluster, rpc, sql, workflow, platform, effect) as its manifest names them
    dependencies: { ...clusterPeers, ...netfx },
    // the packages' own dependencies on each other resolve to the tarballs too
    // @types/bun, @effect/vitest and vitest for the documentation's examples (below), at the repository's ranges
    devDependencies: {
      "@types/node": "^20",
      typescript: "5",
      ...Object.fromEntries(
        ["@types/bun", "@effect/vitest", "vitest"].map((d) => [d, rootManifest.devDependencies[d]]),
      ),
    },
    // the packages' own dependencies on each other resolve to the tarballs too
    ...(pm === "npm" ? { overrides: Object.fromEntries(packages.map((p) => [`@netfx/${p}`, `$@netfx/${p}`])) } : {}),

    ...(pm === "bun" ? { overrides: netfx } : {}),
  }
  writeFileSync(join(app, "package.json"), `${JSON.stringify(manifest, null, 2)}\n`)
  // pnpm 10 reads its settings from pnpm-workspace.yaml (JSON is YAML)
  if (pm === "pnpm")
    writeFileSync(join(app, "pnpm-workspace.yaml"), `${JSON.stringify({ overrides: netfx }, null, 2)}\n`)
  for (const f of ["smoke.mjs", "app.ts", "cluster.ts"]) copyFileSync(join(here, f), join(app, f))
  writeFileSync(join(app, "readme.mjs"), readmeProgram)
  const env = { ...baseEnv, PATH: prebuilt ? pathWith(stubs) : process.env.PATH }
  const install = run(installer.cmd, installer.args, { cwd: app, env, show: true })
  record(pm, "install", install.ok)
  if (!install.ok) {
    failures.push(`${pm} install`)
    continue
  }
  // every @netfx package came from a tarball (one copy each, none from a registry)
  const installed = run("find", [".", "-path", "*node_modules/@netfx/*/package.json", "-not", "-path", "*/dist/*"], {
    cwd: app,
  })
    .out.trim()
    .split("\n")
    .filter((l) => /node_modules\/@netfx\/[^/]+\/package\.json$/.test(l))
  const names = installed.map((f) => JSON.parse(readFileSync(join(app, f), "utf8")).name)
  const unique = new Set(installed.map((f) => readFileSync(join(app, f), "utf8")))
  console.log(`${pm}: ${installed.length} @netfx manifests (${[...new Set(names)].sort().join(", ")})`)
  if (unique.size !== packages.length) {
    failures.push(`${pm}: expected one copy of each of ${packages.length} packages, found ${unique.size} distinct`)
    record(pm, "install", false)
  }
  const nativeDir = dirname(join(app, installed.find((f) => f.endsWith("@netfx/native/package.json")) ?? ""))
  // no prebuilt binaries: compile the addon as a user would after approving
  // its install script (pnpm and bun block it by default; npm ran it)
  if (!prebuilt && pm !== "npm") {
    const script = JSON.parse(readFileSync(join(nativeDir, "package.json"), "utf8")).scripts?.install ?? ""
    const file = /^node (\S+)$/.exec(script)?.[1]
    // from the repository root, where node-gyp is (npm gives its own to install scripts)
    if (file !== undefined) run(process.execPath, [join(nativeDir, file)], { cwd: root, env, show: true })
  }
  // where the addon comes from: with the toolchain shadowed nothing can have compiled it
  const compiled = existsSync(join(nativeDir, "build", "Release", "netfx_native.node"))
  console.log(`${pm}: @netfx/native ${compiled ? "was compiled on install (build/Release)" : "was not compiled"}`)
  if (prebuilt && compiled) {
    failures.push(`${pm}: @netfx/native compiled although the toolchain was shadowed`)
    record(pm, "install", false)
  }

  for (const r of runtimes) {
    const scratch = mkdtempSync(join(tmpdir(), "netfx-smoke-"))
    const smoke = run(r.bin, ["smoke.mjs", certs, scratch], {
      cwd: app,
      env: { ...env, PATH: pathWith(...(prebuilt ? [stubs] : []), dirname(r.bin)) },
      show: true,
      timeout: 120_000,
    })
    rmSync(scratch, { recursive: true, force: true })
    // the README's program, as a user copies it (Node only: it provides NodeNetwork)
    const readme =
      r.name === "bun"
        ? { ok: true }
        : run(r.bin, ["readme.mjs"], { cwd: app, env: { ...env, PATH: pathWith(dirname(r.bin)) }, show: true })
    if (!readme.ok) failures.push(`${pm}: the README program on ${r.name}`)
    record(pm, r.name, smoke.ok && readme.ok)
    if (!smoke.ok) failures.push(`${pm} smoke on ${r.name}`)
  }

  // app.ts (core, node, bun) with the ES lib only; cluster.ts (@netfx/cluster
  // and its peers) with the DOM lib too, which @effect/rpc's declarations need
  for (const [resolution, program, lib] of [
    ["NodeNext", "app", ["ES2022"]],
    ["Bundler", "app", ["ES2022"]],
    ["NodeNext", "cluster", ["ES2022", "DOM"]],
    ["Bundler", "cluster", ["ES2022", "DOM"]],
  ]) {
    const config = `tsconfig.${program}.${resolution.toLowerCase()}.json`
    writeFileSync(
      join(app, config),
      JSON.stringify(
        {
          compilerOptions: {
            target: "ES2022",
            lib,
            module: resolution === "NodeNext" ? "NodeNext" : "Preserve",
            moduleResolution: resolution,
            strict: true,
            skipLibCheck: false,
            noEmit: true,
            types: ["node"],
          },
          files: [`${program}.ts`],
        },
        null,
        2,
      ),
    )
    const tsc = run(process.execPath, [join(app, "node_modules", "typescript", "bin", "tsc"), "-p", config], {
      cwd: app,
      env,
      show: true,
    })
    const version = JSON.parse(readFileSync(join(app, "node_modules", "typescript", "package.json"), "utf8")).version
    record(pm, `tsc ${version} ${program}.ts ${resolution}`, tsc.ok)
    if (!tsc.ok) failures.push(`${pm}: tsc ${program}.ts ${resolution}`)
  }

  // every example of the documentation (JSDoc @example blocks, the READMEs,
  // docs/*.md), as a user copies it into a project that installed the
  // tarballs: strict with exactOptionalPropertyTypes, NodeNext and Bundler
  const examples = join(app, "doc-examples")
  const extracted = run(process.execPath, [join(root, "scripts", "check-docs.mjs"), "--extract-only", examples], {
    cwd: root,
    show: true,
  })
  if (!extracted.ok) failures.push(`${pm}: extracting the documentation's examples`)
  for (const resolution of extracted.ok ? ["NodeNext", "Bundler"] : []) {
    const config = `tsconfig.examples.${resolution.toLowerCase()}.json`
    writeFileSync(
      join(app, config),
      JSON.stringify(
        {
          compilerOptions: {
            target: "ES2022",
            lib: ["ES2022", "DOM"],
            module: resolution === "NodeNext" ? "NodeNext" : "Preserve",
            moduleResolution: resolution,
            strict: true,
            exactOptionalPropertyTypes: true,
            noUncheckedIndexedAccess: true,
            // the declarations are checked above (app.ts, cluster.ts); here the examples
            skipLibCheck: true,
            noEmit: true,
            types: ["node", "bun"],
          },
          include: ["doc-examples/*.ts"],
        },
        null,
        2,
      ),
    )
    const tsc = run(process.execPath, [join(app, "node_modules", "typescript", "bin", "tsc"), "-p", config], {
      cwd: app,
      env,
    })
    const count = (extracted.out.match(/(\d+) examples written/) ?? [])[1] ?? "?"
    record(pm, `tsc ${count} doc examples ${resolution}`, tsc.ok)
    if (!tsc.ok) failures.push(`${pm}: tsc of the documentation's examples, ${resolution}`)
  }
}

// 5. summary ----------------------------------------------------------------
say("results")
const columns = [...new Set([...results.values()].flatMap((m) => [...m.keys()]))]
const rows = [["", ...columns], ...[...results].map(([row, m]) => [row, ...columns.map((c) => m.get(c) ?? "")])]
const widths = columns.map((_, i) => Math.max(...rows.map((r) => r[i + 1].length)))
const first = Math.max(...rows.map((r) => r[0].length))
for (const r of rows)
  console.log(
    `${r[0].padEnd(first)}  ${r
      .slice(1)
      .map((c, i) => c.padEnd(widths[i]))
      .join("  ")}`,
  )
console.log(`runtimes: ${runtimes.map((r) => `${r.name} = ${r.version}`).join(", ")}`)
console.log(`@netfx/native prebuilt binaries in the tarball: ${prebuilt ? "yes" : "no"}`)
if (flag("--keep")) console.log(`kept ${work}`)
else rmSync(work, { recursive: true, force: true })
if (failures.length > 0) {
  console.log(`\nconsumer test: ${failures.length} failure(s): ${failures.join("; ")}`)
  process.exit(1)
}
console.log(`\nconsumer test: every check passed (${elapsed()})`)
