// Builds the addon with node-gyp. Uses the running Node's own headers when
// they are installed next to it (no download); otherwise node-gyp fetches
// them. A failed build is not fatal: netfx then reports `Unsupported` for
// Unix datagrams and fd passing, naming the fix.
"use strict"
const { spawnSync } = require("node:child_process")
const fs = require("node:fs")
const path = require("node:path")

const prefix = path.resolve(path.dirname(process.execPath), "..")
const args = ["rebuild"]
if (process.env.npm_config_nodedir === undefined && fs.existsSync(path.join(prefix, "include", "node", "node_api.h")))
  args.push(`--nodedir=${prefix}`)

let gyp
try {
  gyp = require.resolve("node-gyp/bin/node-gyp.js", { paths: [__dirname, process.cwd()] })
} catch {
  gyp = undefined
}
const result = gyp
  ? spawnSync(process.execPath, [gyp, ...args], { cwd: __dirname, stdio: "inherit" })
  : spawnSync("node-gyp", args, { cwd: __dirname, stdio: "inherit", shell: true })
if (result.status !== 0) {
  console.warn(
    "@netfx/native: the build failed (no C toolchain or Node headers?). Unix datagram sockets and fd passing " +
      "will fail with Unsupported. Fix: install a C compiler, make and python3, then run `pnpm rebuild @netfx/native`.",
  )
}
