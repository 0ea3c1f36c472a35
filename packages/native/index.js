// @netfx/native loader: loads the compiled addon (build/Release) and wires
// readiness to one JS dispatcher. Never throws: when the addon is missing
// `binding` is undefined and `loadError` says why, so callers can report
// `Unsupported` with the fix.
"use strict"
const path = require("node:path")
const os = require("node:os")

const isBun = typeof globalThis.Bun !== "undefined"
const FIX =
  "the @netfx/native addon is not built; install a C toolchain (cc, make, python3) and run `pnpm rebuild @netfx/native`"

let binding
let loadError
try {
  binding = require(path.join(__dirname, "build", "Release", "netfx_native.node"))
} catch (error) {
  loadError = `${FIX} (${error?.message ? error.message.split("\n")[0] : String(error)})`
}

const callbacks = new Map()
if (binding !== undefined) {
  // Bun: uv_poll aborts the process, so the addon runs an epoll thread there.
  binding.init((id, events) => {
    const cb = callbacks.get(id)
    if (cb !== undefined) cb(events)
  }, isBun)
}

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

module.exports = {
  binding,
  loadError,
  fix: FIX,
  runtime: isBun ? "bun" : "node",
  readiness: isBun ? "epoll thread + napi_threadsafe_function" : "libuv uv_poll",
  errnoName,
  watch: binding === undefined ? undefined : watch,
}
