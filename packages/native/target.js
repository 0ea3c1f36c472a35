// Which prebuilt binary fits the running process: `linux-<arch>-<libc>`.
// Shared by the loader (index.js), the install script and the prebuild
// script. Starts no child process: the C library is read from the
// process's own memory map (/proc/self/maps names the libc it loaded), with
// process.report as the fallback.
"use strict"
const fs = require("node:fs")
const path = require("node:path")

/** The targets this package ships prebuilt (see scripts/prebuild.js). */
const PREBUILT = ["linux-x64-glibc", "linux-arm64-glibc"]

/** "glibc", "musl" or undefined (not Linux, or not told). */
const libc = () => {
  if (process.platform !== "linux") return undefined
  try {
    const maps = fs.readFileSync("/proc/self/maps", "latin1")
    if (/\/ld-musl-[^/\s]*\.so|\/libc\.musl-[^/\s]*\.so/.test(maps)) return "musl"
    if (/\/libc\.so\.6\b|\/libc-2\.\d+\.so\b/.test(maps)) return "glibc"
  } catch {
    // /proc not mounted: ask process.report below
  }
  try {
    const report = process.report?.getReport?.()
    if (report?.header?.glibcVersionRuntime) return "glibc"
    if (report?.sharedObjects?.some((file) => /musl/.test(file))) return "musl"
  } catch {
    // no report support
  }
  return undefined
}

/** The running process's target name, e.g. "linux-x64-glibc"; undefined when not Linux or the libc is unknown. */
const current = () => {
  const family = libc()
  return family === undefined ? undefined : `${process.platform}-${process.arch}-${family}`
}

/** The prebuilt binary's path for a target (it may not exist). */
const prebuiltPath = (target) => path.join(__dirname, "prebuilds", target, "netfx_native.node")

/** The locally compiled binary's path (node-gyp's output). */
const localPath = () => path.join(__dirname, "build", "Release", "netfx_native.node")

/** Whether a command is on PATH (a file lookup; for the install and build scripts). */
const onPath = (command) =>
  (process.env.PATH ?? "").split(path.delimiter).some((dir) => dir !== "" && fs.existsSync(path.join(dir, command)))

module.exports = { PREBUILT, libc, current, prebuiltPath, localPath, onPath }
