#!/usr/bin/env node
// A Node.js binary of a given major version for CI: the running Node when it
// is that major, else the binary from the npm registry package
// node-linux-<arch>@<major> (`bin/node`), cached in ~/.cache/netfx-ci
// ($XDG_CACHE_HOME/netfx-ci) so later runs skip the download.
//
//   node scripts/node-binary.mjs 24     prints the path of a Node 24 binary
import { spawnSync } from "node:child_process"
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from "node:fs"
import { homedir, tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

/** The cache directory of CI downloads. */
export const cacheDir = join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "netfx-ci")

/** The path of a Node binary of `major` (downloading it when not cached; `refresh` downloads anew). */
export const nodeBinary = (major, { refresh = false } = {}) => {
  if (Number(process.versions.node.split(".")[0]) === major && !refresh) return process.execPath
  if (process.platform !== "linux") throw new Error(`no Node ${major} here: node-linux-* packages are Linux binaries`)
  const arch = process.arch === "arm64" ? "arm64" : "x64"
  const dir = join(cacheDir, `node-linux-${arch}-${major}`)
  const bin = join(dir, "bin", "node")
  if (existsSync(bin) && !refresh) return bin
  const tmp = mkdtempSync(join(tmpdir(), "netfx-node-"))
  try {
    const pack = spawnSync("npm", ["pack", `node-linux-${arch}@${major}`, "--pack-destination", tmp, "--silent"], {
      cwd: tmp,
      encoding: "utf8",
    })
    if (pack.status !== 0) throw new Error(`npm pack node-linux-${arch}@${major} failed: ${pack.stderr}`)
    const file = join(tmp, pack.stdout.trim().split("\n").pop())
    const untar = spawnSync("tar", ["xzf", file, "-C", tmp], { encoding: "utf8" })
    if (untar.status !== 0) throw new Error(`unpacking ${file} failed: ${untar.stderr}`)
    mkdirSync(dirname(dir), { recursive: true })
    // unpack beside the cache entry, then swap it in, so a concurrent reader never sees half a tree
    const staged = `${dir}.${process.pid}`
    rmSync(staged, { recursive: true, force: true })
    renameSync(join(tmp, "package"), staged)
    rmSync(dir, { recursive: true, force: true })
    renameSync(staged, dir)
  } finally {
    rmSync(tmp, { recursive: true, force: true })
  }
  return bin
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const major = Number(process.argv[2])
  if (!Number.isInteger(major)) {
    console.error("usage: node scripts/node-binary.mjs <major>")
    process.exit(2)
  }
  console.log(nodeBinary(major, { refresh: process.argv.includes("--refresh") }))
}
