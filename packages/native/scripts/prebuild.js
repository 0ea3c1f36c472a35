// Builds the prebuilt binaries shipped in the package (prebuilds/<target>/)
// with plain compiler calls: gcc for linux-x64-glibc, Debian's cross
// compiler aarch64-linux-gnu-gcc for linux-arm64-glibc. Node-API is
// ABI-stable, so one binary per target serves Node >= 20 and Bun.
//
// The glibc binaries are linked so they need no glibc symbol newer than
// 2.17 (src/glibc_compat.h); this script checks that with readelf and fails
// if a newer one slips in.
//
// Headers: the running Node's own (<prefix>/include/node, which has
// node_api.h and uv.h), or the directory in NETFX_NODE_HEADERS.
//
// Usage: node scripts/prebuild.js [--all]   (--all: a missing compiler is an error, not a skip)
"use strict"
const { spawnSync } = require("node:child_process")
const fs = require("node:fs")
const path = require("node:path")
const { onPath } = require("../target.js")

const root = path.join(__dirname, "..")
const all = process.argv.includes("--all")
const MAX_GLIBC = [2, 17]

const hostCc = (arch) => (process.arch === arch ? "gcc" : undefined)
const targets = [
  { name: "linux-x64-glibc", cc: hostCc("x64") ?? "x86_64-linux-gnu-gcc", machine: "X86-64" },
  { name: "linux-arm64-glibc", cc: hostCc("arm64") ?? "aarch64-linux-gnu-gcc", machine: "AArch64" },
]

const headers = process.env.NETFX_NODE_HEADERS ?? path.resolve(path.dirname(process.execPath), "..", "include", "node")
for (const header of ["node_api.h", "uv.h"]) {
  if (!fs.existsSync(path.join(headers, header))) {
    console.error(`prebuild: ${header} not found in ${headers}; set NETFX_NODE_HEADERS to a Node headers directory`)
    process.exit(1)
  }
}

const run = (command, args) => {
  const result = spawnSync(command, args, { cwd: root, encoding: "utf8" })
  if (result.status !== 0) {
    console.error(`prebuild: ${command} ${args.join(" ")}\n${result.stdout}${result.stderr}`)
    process.exit(1)
  }
  return result.stdout
}

let failed = false
for (const target of targets) {
  if (!onPath(target.cc)) {
    const message = `prebuild: ${target.name}: ${target.cc} is not on PATH`
    if (all) {
      console.error(`${message} (Debian: apt-get install gcc-aarch64-linux-gnu)`)
      failed = true
    } else console.log(`${message}; skipped`)
    continue
  }
  const out = path.join(root, "prebuilds", target.name, "netfx_native.node")
  fs.mkdirSync(path.dirname(out), { recursive: true })
  run(target.cc, [
    "-shared",
    "-fPIC",
    "-O2",
    "-Wall",
    "-Wno-unused-parameter",
    "-Werror",
    "-fvisibility=hidden",
    "-DNAPI_VERSION=8",
    "-include",
    "src/glibc_compat.h",
    "-I",
    headers,
    "src/netfx_native.c",
    "-o",
    out,
    "-pthread",
    "-Wl,--no-as-needed",
    "-l:libpthread.so.0",
    "-Wl,-z,noexecstack",
    "-s",
  ])
  const header = run("readelf", ["-h", out])
  if (!header.includes(target.machine)) {
    console.error(`prebuild: ${out} is not an ${target.machine} binary`)
    process.exit(1)
  }
  const versions = [...run("readelf", ["-V", out]).matchAll(/GLIBC_(\d+)\.(\d+)/g)].map((m) => [
    Number(m[1]),
    Number(m[2]),
  ])
  const max = versions.reduce((a, b) => (b[0] > a[0] || (b[0] === a[0] && b[1] > a[1]) ? b : a), [0, 0])
  if (max[0] > MAX_GLIBC[0] || (max[0] === MAX_GLIBC[0] && max[1] > MAX_GLIBC[1])) {
    console.error(`prebuild: ${target.name} needs GLIBC_${max.join(".")}, more than ${MAX_GLIBC.join(".")}`)
    process.exit(1)
  }
  const exported = run("readelf", ["--dyn-syms", "-W", out])
  if (!/\bnapi_register_module_v1\b/.test(exported)) {
    console.error(`prebuild: ${out} does not export napi_register_module_v1`)
    process.exit(1)
  }
  console.log(`prebuild: ${target.name}: ${fs.statSync(out).size} bytes, needs glibc >= ${max.join(".")}`)
}
process.exitCode = failed ? 1 : 0
