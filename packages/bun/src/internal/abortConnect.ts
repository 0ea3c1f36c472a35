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
 * Tracking runs on every connect, so it is three plain system calls through
 * `bun:ffi` (`fcntl(F_DUPFD)` of a standard descriptor and `close` to learn
 * the lowest free number, `getsockopt(SO_COOKIE)` to identify the socket),
 * with no strings or objects made: ~3-5 µs of CPU where `openSync`,
 * `closeSync` and `readlinkSync` of `/proc/self/fd/N` cost ~10-15 µs (and
 * an `open` of `/dev/null`, a path lookup, costs more than `fcntl`). The
 * rare abort does the expensive checks (`/proc`).
 *
 * Where any of this is unavailable (no `/proc`, no `bun:ffi`), an interrupted
 * connect is only abandoned: it is closed as soon as it opens or fails.
 *
 * @internal
 */
import { readFileSync, readlinkSync } from "node:fs"
import { createRequire } from "node:module"

const SHUT_RDWR = 2
const TCP_SYN_SENT = "02"
const O_RDONLY_CLOEXEC = 0o2000000
const F_DUPFD_CLOEXEC = 1030
const SOL_SOCKET = 1
/** Linux 4.12+: a socket's 64-bit id, unique for the system's uptime. */
const SO_COOKIE = 57

const enabled = process.platform === "linux"

/** The descriptor of a socket created synchronously by `create`, when it can be told apart. */
export interface Tracked {
  readonly fd: number
  /** The socket's SO_COOKIE: the same descriptor number later may be another socket. */
  readonly cookie: bigint
  readonly port: number
}

interface Libc {
  readonly open: (path: Uint8Array, flags: number) => number
  readonly fcntl: (fd: number, command: number, arg: number) => number
  readonly close: (fd: number) => number
  readonly shutdown: (fd: number, how: number) => number
  readonly getsockopt: (fd: number, level: number, name: number, value: Uint8Array, length: Uint8Array) => number
}

const devNull = new TextEncoder().encode("/dev/null\0")
const cookieBytes = new Uint8Array(8)
const cookieView = new DataView(cookieBytes.buffer)
const lengthBytes = new Uint8Array(4)
const lengthView = new DataView(lengthBytes.buffer)

/** The SO_COOKIE of `fd`, or undefined when it is not a socket (or the kernel has none). */
const cookieOf = (libc: Libc, fd: number): bigint | undefined => {
  lengthView.setUint32(0, 8, true)
  if (libc.getsockopt(fd, SOL_SOCKET, SO_COOKIE, cookieBytes, lengthBytes) !== 0) return undefined
  return cookieView.getBigUint64(0, true)
}

/**
 * The lowest free descriptor number, learnt by taking it and giving it back:
 * a duplicate of stdin, stdout or stderr (no path lookup), or `/dev/null`
 * when none of them is open. -1 when none of this works.
 */
const lowestFree = (libc: Libc): number => {
  let fd = -1
  for (let std = 0; std < 3 && fd < 0; std++) fd = libc.fcntl(std, F_DUPFD_CLOEXEC, 0)
  if (fd < 0) fd = libc.open(devNull, O_RDONLY_CLOEXEC)
  if (fd >= 0) libc.close(fd)
  return fd
}

/**
 * Runs `create` (one `Bun.connect` to `port`) and returns its result with the
 * descriptor of the socket it created, when that is known. The kernel gives
 * a new socket the lowest free descriptor number; that number is learnt
 * just before (`lowestFree`: constant cost, whatever the number of open
 * descriptors).
 *
 * @internal
 */
export const track = <A>(
  create: () => A,
  port: number,
): { readonly value: A; readonly tracked: Tracked | undefined } => {
  const libc = loadLibc()
  if (libc === null) return { value: create(), tracked: undefined }
  const next = lowestFree(libc)
  if (next < 0) return { value: create(), tracked: undefined }
  const value = create()
  const cookie = cookieOf(libc, next)
  return { value, tracked: cookie === undefined ? undefined : { fd: next, cookie, port } }
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
  const libc = loadLibc()
  if (libc === null) return false
  // still the same socket (descriptor numbers are reused)
  if (cookieOf(libc, tracked.fd) !== tracked.cookie) return false
  let link: string
  try {
    link = readlinkSync(`/proc/self/fd/${tracked.fd}`)
  } catch {
    return false
  }
  // and really ours: a TCP connect in progress towards the port we dialled
  if (!link.startsWith("socket:[") || !connectingTo(link.slice("socket:[".length, -1), tracked.port)) return false
  return libc.shutdown(tracked.fd, SHUT_RDWR) === 0
}

let libcFns: Libc | null | undefined

const loadLibc = (): Libc | null => {
  if (libcFns !== undefined) return libcFns
  libcFns = null
  if (!enabled) return libcFns
  try {
    const ffi = createRequire(import.meta.url)("bun:ffi") as typeof import("bun:ffi")
    const { i32, ptr } = ffi.FFIType
    for (const name of ["libc.so.6", "libc.so"]) {
      try {
        const { symbols } = ffi.dlopen(name, {
          open: { args: [ptr, i32], returns: i32 },
          fcntl: { args: [i32, i32, i32], returns: i32 },
          close: { args: [i32], returns: i32 },
          shutdown: { args: [i32, i32], returns: i32 },
          getsockopt: { args: [i32, i32, i32, ptr, ptr], returns: i32 },
        })
        libcFns = {
          open: (path, flags) => symbols.open(path, flags),
          fcntl: (fd, command, arg) => symbols.fcntl(fd, command, arg),
          close: (fd) => symbols.close(fd),
          shutdown: (fd, how) => symbols.shutdown(fd, how),
          getsockopt: (fd, level, name, value, length) => symbols.getsockopt(fd, level, name, value, length),
        }
        break
      } catch {
        // try the next name
      }
    }
  } catch {
    // not running on Bun, or bun:ffi unavailable
  }
  return libcFns
}
