// Compiles the addon from source with node-gyp into build/Release (the
// `build` script; the install script runs it when no prebuilt binary fits).
// Uses the running Node's own headers when they are installed next to it
// (no download); otherwise node-gyp fetches them. A failed build is not
// fatal: netfx then reports `Unsupported` for Unix datagrams and fd
// passing, naming the fix.
"use strict"
const { spawnSync } = require("node:child_process")
const fs = require("node:fs")
const path = require("node:path")

const prefix = path.resolve(path.dirname(process.execPath), "..")
const args = ["rebuild"]
if (process.env.npm_config_nodedir === undefined && fs.existsSync(path.join(prefix, "include", "node", "node_api.h")))
  args.push(`--nodedir=${prefix}`)

// node-gyp: the one npm and pnpm hand to install scripts, else a local or global one
let gyp = process.env.npm_config_node_gyp
if (gyp === undefined || !fs.existsSync(gyp)) {
  try {
    gyp = require.resolve("node-gyp/bin/node-gyp.js", { paths: [__dirname, process.cwd()] })
  } catch {
    gyp = undefined
  }
}
const result = gyp
  ? spawnSync(process.execPath, [gyp, ...args], { cwd: __dirname, stdio: "inherit" })
  : spawnSync("node-gyp", args, { cwd: __dirname, stdio: "inherit", shell: true })
if (result.status !== 0) {
  console.warn(
    "@netfx/native: the build failed (no C toolchain or Node headers?). Unix datagram sockets and fd passing " +
      "will fail with Unsupported. Fix: install a C compiler, make and python3, then run `npm rebuild @netfx/native` " +
      "(pnpm: `pnpm rebuild @netfx/native`; in the netfx repository: `pnpm --filter @netfx/native rebuild`).",
  )
}
