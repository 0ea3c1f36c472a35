/**
 * Aborting a `Bun.connect` that is still in progress.
 *
 * `Bun.connect` hands out the socket only once it is open (or failed), so a
 * connect that hangs (SYNs dropped) cannot be closed through Bun's API: the
 * descriptor would stay open until the kernel gives up, minutes later. On
 * Linux the socket's descriptor is found when it is created (`Bun.connect`
 * creates it synchronously, with the lowest free descriptor number) and an
 * interrupted connect is aborted with `shutdown(2)` through `bun:ffi`: on a
 * socket in SYN_SENT the kernel drops the attempt and wakes the poller, Bun
 * reports a connect error and closes the descriptor itself. Bun keeps owning
 * the descriptor throughout; this never closes it behind Bun's back.
 *
 * Where any of this is unavailable (no `/proc`, no `bun:ffi`), an interrupted
 * connect is only abandoned: it is closed as soon as it opens or fails.
 *
 * @internal
 */
import { closeSync, openSync, readFileSync, readlinkSync } from "node:fs"
import { createRequire } from "node:module"

const SHUT_RDWR = 2
const TCP_SYN_SENT = "02"

const enabled = process.platform === "linux"

/** The descriptor of a socket created synchronously by `create`, when it can be told apart. */
export interface Tracked {
  readonly fd: number
  readonly link: string
  readonly port: number
}

/**
 * Runs `create` (one `Bun.connect` to `port`) and returns its result with the
 * descriptor of the socket it created, when that is known. The kernel gives
 * a new socket the lowest free descriptor number; that number is learnt
 * just before by opening and closing `/dev/null` (constant cost, whatever the
 * number of open descriptors).
 *
 * @internal
 */
export const track = <A>(
  create: () => A,
  port: number,
): { readonly value: A; readonly tracked: Tracked | undefined } => {
  if (!enabled || loadShutdown() === null) return { value: create(), tracked: undefined }
  let next: number
  try {
    next = openSync("/dev/null", "r")
    closeSync(next)
  } catch {
    return { value: create(), tracked: undefined }
  }
  const value = create()
  try {
    const link = readlinkSync(`/proc/self/fd/${next}`)
    return { value, tracked: link.startsWith("socket:[") ? { fd: next, link, port } : undefined }
  } catch {
    return { value, tracked: undefined }
  }
}

/** Whether the socket `inode` is a TCP socket in SYN_SENT towards `port`. */
const connectingTo = (inode: string, port: number): boolean => {
  for (const table of ["/proc/self/net/tcp", "/proc/self/net/tcp6"]) {
    let text: string
    try {
      text = readFileSync(table, "latin1")
    } catch {
      continue
    }
    for (const line of text.split("\n")) {
      const cols = line.trim().split(/\s+/)
      if (cols[9] !== inode) continue
      const remotePort = Number.parseInt((cols[2] ?? "").split(":")[1] ?? "", 16)
      return cols[3] === TCP_SYN_SENT && remotePort === port
    }
  }
  return false
}

/**
 * Aborts a connect still in SYN_SENT on a tracked descriptor. Returns whether
 * it did; Bun then reports the failure and closes the descriptor.
 *
 * @internal
 */
export const abort = (tracked: Tracked): boolean => {
  const shutdown = loadShutdown()
  if (shutdown === null) return false
  try {
    // still the same socket (descriptor numbers are reused)
    if (readlinkSync(`/proc/self/fd/${tracked.fd}`) !== tracked.link) return false
  } catch {
    return false
  }
  // and really ours: a TCP connect in progress towards the port we dialled
  if (!connectingTo(tracked.link.slice("socket:[".length, -1), tracked.port)) return false
  return shutdown(tracked.fd, SHUT_RDWR) === 0
}

let shutdownFn: ((fd: number, how: number) => number) | null | undefined

const loadShutdown = (): ((fd: number, how: number) => number) | null => {
  if (shutdownFn !== undefined) return shutdownFn
  shutdownFn = null
  if (!enabled) return shutdownFn
  try {
    const ffi = createRequire(import.meta.url)("bun:ffi") as typeof import("bun:ffi")
    for (const name of ["libc.so.6", "libc.so"]) {
      try {
        const lib = ffi.dlopen(name, {
          shutdown: { args: [ffi.FFIType.i32, ffi.FFIType.i32], returns: ffi.FFIType.i32 },
        })
        shutdownFn = (fd, how) => lib.symbols.shutdown(fd, how)
        break
      } catch {
        // try the next name
      }
    }
  } catch {
    // not running on Bun, or bun:ffi unavailable
  }
  return shutdownFn
}
