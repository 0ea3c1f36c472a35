import type { NativeAddress } from "../../../NativeDriver.ts"
import * as SocketAddress from "../../../SocketAddress.ts"

/*
 * What the virtual kernel speaks: Linux's errno numbers (a syscall
 * returns `-errno`, as the addon does), the socket constants it publishes
 * as `NativeBinding.constants`, Linux's default limits, and Unix addresses
 * in the addon's native form.
 */

export const ERRNO: Record<string, number> = {
  EPERM: 1,
  ENOENT: 2,
  EINTR: 4,
  EBADF: 9,
  EAGAIN: 11,
  EACCES: 13,
  EINVAL: 22,
  EPIPE: 32,
  ENOTSOCK: 88,
  EDESTADDRREQ: 89,
  EMSGSIZE: 90,
  EPROTOTYPE: 91,
  ENOPROTOOPT: 92,
  EOPNOTSUPP: 95,
  EAFNOSUPPORT: 97,
  EADDRINUSE: 98,
  ECONNRESET: 104,
  EISCONN: 106,
  ENOTCONN: 107,
  ECONNREFUSED: 111,
}
export const NAMES = new Map(Object.entries(ERRNO).map(([k, v]) => [v, k]))
/** A syscall's failure: the negated errno. */
export const err = (code: keyof typeof ERRNO): number => -(ERRNO[code] as number)

export const C = {
  SOCK_STREAM: 1,
  SOCK_DGRAM: 2,
  SOCK_SEQPACKET: 5,
  SOL_SOCKET: 1,
  SO_TYPE: 3,
  SO_ERROR: 4,
  SO_ACCEPTCONN: 30,
  SO_DOMAIN: 39,
  AF_UNIX: 1,
  AF_INET: 2,
  AF_INET6: 10,
  SO_SNDBUF: 7,
  SO_RCVBUF: 8,
  SO_KEEPALIVE: 9,
  SO_REUSEADDR: 2,
  SO_PASSCRED: 16,
  SO_RCVTIMEO: 20,
  SO_SNDTIMEO: 21,
  IPPROTO_TCP: 6,
  TCP_NODELAY: 1,
  SHUT_RD: 0,
  SHUT_WR: 1,
  SHUT_RDWR: 2,
  EV_READ: 1,
  EV_WRITE: 2,
  EV_ERROR: 4,
} as const

/** Linux's defaults: socket buffer (wmem_default) and the datagram queue length (max_dgram_qlen). */
export const SNDBUF = 212992
export const MAX_DGRAM_QLEN = 10
/** Linux's SCM_MAX_FD. */
export const MAX_FDS = 253
export const FIRST_FD = 1000

export type Address = SocketAddress.UnixPath | SocketAddress.UnixAbstract
export const unnamed: Address = SocketAddress.unixPath("")
export const toNative = (a: Address): NativeAddress =>
  a._tag === "UnixPath" ? { path: a.path, abstract: false } : { path: a.name, abstract: true }
export const fromName = (name: string, abstract: boolean): Address =>
  abstract ? SocketAddress.unixAbstract(name) : SocketAddress.unixPath(name)
