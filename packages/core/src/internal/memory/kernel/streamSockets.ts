import { concatBytes } from "../../bytes.ts"
import { MemoryListener } from "../stream.ts"
import { AdoptedConnection } from "./connections.ts"
import { type Address, C, type ERRNO, err, MAX_FDS } from "./constants.ts"
import type { Obj } from "./descriptors.ts"
import * as FdPassing from "./fdPassing.ts"
import type { Kernel } from "./index.ts"
import { type Segment, Sock } from "./socket.ts"

/*
 * Unix stream sockets: listen, connect (to a listening virtual socket, or
 * to a `Unix.listen` listener of the memory network, whose side is then a
 * byte stream over a virtual socket), accept from the backlog, byte
 * transfer bounded by the memory network's window, half-close and EOF,
 * and receive with SCM_RIGHTS message boundaries (`fdPassing.ts`).
 */

export const connectStream = (k: Kernel, s: Sock, target: Address): number => {
  const found = k.fs.owner(target)
  if (typeof found === "string") return err(found as keyof typeof ERRNO)
  const l = found.owner
  if (l instanceof MemoryListener) {
    // a `Unix.listen` listener: its side of the connection is a byte stream over a virtual socket
    const server = new Sock(k, C.SOCK_STREAM)
    server.address = l.address as Address
    server.connected = s.connected = true
    server.peer = s
    s.peer = server
    k.net.stats.connectionsOpened++
    k.net.sockets.add(s)
    k.net.sockets.add(server)
    l.deliver(new AdoptedConnection(k, k.descriptors.allocate(server), server))
    return 0
  }
  if (!(l instanceof Sock)) return err("ECONNREFUSED")
  if (l.type !== C.SOCK_STREAM) return err("EPROTOTYPE")
  if (!l.listening) return err("ECONNREFUSED")
  if (l.pending.length >= l.backlog) return err("EAGAIN")
  const server = new Sock(k, C.SOCK_STREAM)
  server.address = l.address
  server.connected = true
  server.peer = s
  s.peer = server
  s.connected = true
  l.pending.push(server)
  k.net.stats.connectionsOpened++
  k.net.sockets.add(s)
  k.poke()
  return 0
}

export const listen = (k: Kernel, s: Sock, backlog: number): number => {
  if (s.type !== C.SOCK_STREAM || s.connected) return err("EINVAL")
  s.listening = true
  s.backlog = Math.max(1, backlog)
  k.list(s)
  return 0
}

export const accept = (k: Kernel, s: Sock): number => {
  if (!s.listening) return err("EINVAL")
  const next = s.pending.shift()
  if (next === undefined) return err("EAGAIN")
  k.net.sockets.add(next)
  k.poke()
  return k.descriptors.allocate(next)
}

export const sendStream = (k: Kernel, s: Sock, data: Uint8Array, fds: ReadonlyArray<number>): number => {
  const p = s.peer
  if (!s.connected || p === undefined) return err("ENOTCONN")
  if (s.shutWr || p.dead) return err("EPIPE")
  const room = k.net.window - p.recvBytes
  if (room <= 0) return err("EAGAIN")
  if (fds.length > MAX_FDS) return err("EINVAL")
  const objs = FdPassing.attach(k, fds)
  if (typeof objs === "number") return objs
  const n = Math.min(room, data.length)
  p.recv.push({ data: data.slice(0, n), fds: objs })
  p.recvBytes += n
  s.bytesSent += n
  k.net.stats.bytesSent += n
  k.poke()
  return n
}

export const recvStream = (k: Kernel, s: Sock, maxBytes: number, maxFds: number) => {
  if (s.recv.length === 0) {
    if (s.error !== undefined) {
      const e = s.error
      s.error = undefined
      return err(e as keyof typeof ERRNO)
    }
    if (s.peerEof || s.peer === undefined || s.peer.dead)
      return { data: new Uint8Array(0), fds: [], truncated: false, dataTruncated: false }
    return err("EAGAIN")
  }
  const parts: Array<Uint8Array> = []
  let size = 0
  let objs: Array<Obj> = []
  while (s.recv.length > 0 && size < maxBytes) {
    const seg = s.recv[0] as Segment
    if (seg.fds.length > 0 && objs.length > 0) break
    const take = Math.min(seg.data.length, maxBytes - size)
    parts.push(seg.data.subarray(0, take))
    size += take
    if (take === seg.data.length) s.recv.shift()
    else seg.data = seg.data.subarray(take)
    const carried = seg.fds
    seg.fds = []
    if (carried.length > 0) {
      objs = carried
      break
    }
  }
  s.recvBytes -= size
  s.bytesReceived += size
  k.net.stats.bytesDelivered += size
  const data = concatBytes(parts, size)
  const fds = FdPassing.receive(k, objs, maxFds)
  k.poke()
  return { data, fds, truncated: objs.length > maxFds, dataTruncated: false }
}

export const shutdown = (k: Kernel, s: Sock, how: number): number => {
  if (s.type !== C.SOCK_STREAM || !s.connected) return err("ENOTCONN")
  if (how === C.SHUT_WR || how === C.SHUT_RDWR) {
    s.shutWr = true
    if (s.peer !== undefined) s.peer.peerEof = true
  }
  k.poke()
  return 0
}
