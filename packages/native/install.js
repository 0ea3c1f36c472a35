// The package's install script. Never fails the install (always exits 0):
// without the addon netfx still runs and reports `Unsupported`, naming the
// fix, for the few features that need it.
//   1. Not Linux: nothing to do (the addon is Linux-only); says so.
//   2. A prebuilt binary for this platform loads: nothing to do.
//   3. Otherwise, when a C compiler, make and python3 are on PATH: compiles
//      from source (build.js, node-gyp) into build/Release.
//   4. Otherwise: says what is missing and how to build later.
"use strict"
const fs = require("node:fs")
const target = require("./target.js")
const { onPath } = target

const say = (message) => console.log(`@netfx/native: ${message}`)

const main = () => {
  if (process.platform !== "linux") {
    say(
      `the addon is Linux-only, so nothing is built on ${process.platform}. Unix datagram sockets, fd passing, ` +
        "socket options by descriptor and RawSocket report Unsupported there; TCP, TLS, UDP and Unix stream sockets work.",
    )
    return
  }
  const here = target.current()
  if (here !== undefined && target.PREBUILT.includes(here) && fs.existsSync(target.prebuiltPath(here))) {
    try {
      require(target.prebuiltPath(here))
      say(`using the prebuilt binary for ${here}`)
      return
    } catch (error) {
      say(`the prebuilt binary for ${here} does not load (${String(error?.message ?? error).split("\n")[0]})`)
    }
  } else say(`no prebuilt binary for ${here ?? `${process.platform}-${process.arch}`}; compiling from source`)

  const missing = [
    ["cc", "gcc", "clang"].some(onPath) ? undefined : "a C compiler (cc)",
    onPath("make") ? undefined : "make",
    ["python3", "python"].some(onPath) ? undefined : "python3",
  ].filter((x) => x !== undefined)
  if (missing.length > 0) {
    say(
      `cannot compile: ${missing.join(", ")} not found. Unix datagram sockets and fd passing will report ` +
        "Unsupported. To build later, install them and run `npm rebuild @netfx/native` " +
        "(pnpm: `pnpm rebuild @netfx/native`; bun: `bun pm trust @netfx/native`).",
    )
    return
  }
  require("./build.js")
}

try {
  main()
} catch (error) {
  say(`install step failed (${String(error?.message ?? error).split("\n")[0]}); continuing without the addon`)
}
process.exitCode = 0
