// @netfx/native loader: loads the addon binary and wires readiness to one JS
// dispatcher. It tries, in order, the prebuilt binary for this platform
// (prebuilds/linux-<arch>-<libc>/) and a locally compiled build/Release.
// Never throws: when no binary loads, `binding` is undefined and `loadError`
// says what was tried, so callers can report `Unsupported` with the fix.
"use strict"
const fs = require("node:fs")
const os = require("node:os")
const target = require("./target.js")

const isBun = typeof globalThis.Bun !== "undefined"
const here = target.current()
const FIX =
  process.platform === "linux"
    ? `netfx ships the addon prebuilt for ${target.PREBUILT.join(", ")}; elsewhere its install script compiles it, which needs a C compiler, make and python3 and the package manager's permission to run the script; then rebuild it (npm rebuild / pnpm rebuild / bun install with trustedDependencies: see the @netfx/native README)`
    : `the addon is Linux-only; on ${process.platform} Unix datagram sockets and fd passing are unavailable`

let binding
let loadError
let loadedFrom
{
  /** @type {Array<string>} */
  const tried = []
  const candidates = []
  if (here !== undefined && target.PREBUILT.includes(here)) candidates.push(target.prebuiltPath(here))
  else tried.push(`no prebuilt binary for ${here ?? `${process.platform}-${process.arch}`}`)
  candidates.push(target.localPath())
  for (const file of candidates) {
    if (!fs.existsSync(file)) {
      tried.push(`${file.slice(__dirname.length + 1)} is missing`)
      continue
    }
    try {
      binding = require(file)
      loadedFrom = file
      break
    } catch (error) {
      tried.push(
        `${file.slice(__dirname.length + 1)}: ${error?.message ? error.message.split("\n")[0] : String(error)}`,
      )
    }
  }
  if (binding === undefined) loadError = tried.join("; ")
}

const callbacks = new Map()
// Whether this thread owns the addon's readiness (false in a worker thread
// when another thread loaded the addon first; an older binary says nothing).
let ownsReadiness = true
if (binding !== undefined) {
  // Bun: uv_poll aborts the process, so the addon runs an epoll thread there.
  const owner = binding.init((id, events) => {
    const cb = callbacks.get(id)
    if (cb !== undefined) cb(events)
  }, isBun)
  ownsReadiness = owner !== false
}
const WORKER_FIX =
  "the addon's readiness (which wakes netfx when a descriptor is ready) belongs to the thread that loaded the addon first; in another worker thread, Unix datagram sockets, RawSocket and fd passing are unavailable: use them from that thread"

const errnoNames = new Map()
for (const [name, value] of Object.entries(os.constants.errno)) if (!errnoNames.has(value)) errnoNames.set(value, name)

/** The errno name of a negative return value, e.g. -11 -> "EAGAIN". */
const errnoName = (n) => errnoNames.get(Math.abs(n)) ?? `E${Math.abs(n)}`

/**
 * One-shot readiness on a descriptor: `arm(events)` asks for one call of
 * `onEvent(events)`; `close()` stops it (call before closing the fd).
 */
const watch = (fd, onEvent) => {
  const id = binding.watch(fd)
  if (id < 0) return id
  callbacks.set(id, onEvent)
  let closed = false
  return {
    arm: (events) => (closed ? -9 : binding.arm(id, events)),
    close: () => {
      if (closed) return
      closed = true
      callbacks.delete(id)
      binding.unwatch(id)
    },
  }
}

// one assignment per name, so Node's ESM named imports (cjs-module-lexer) see every export
exports.binding = binding
exports.loadError = loadError
exports.fix = ownsReadiness ? FIX : WORKER_FIX
exports.target = here
exports.prebuilt = target.PREBUILT
exports.loadedFrom = loadedFrom
exports.runtime = isBun ? "bun" : "node"
exports.readiness = isBun ? "epoll thread + napi_threadsafe_function" : "libuv uv_poll"
exports.errnoName = errnoName
exports.watch = binding === undefined || !ownsReadiness ? undefined : watch
