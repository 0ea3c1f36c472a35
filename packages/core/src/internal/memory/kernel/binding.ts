import type { AnyAddress, NativeAddress, NativeBinding } from "../../../NativeDriver.ts"
import { C, ERRNO, err, fromName, SNDBUF, toNative, unnamed } from "./constants.ts"
import * as Datagram from "./datagramSockets.ts"
import type { Kernel } from "./index.ts"
import { Sock } from "./socket.ts"
import * as Stream from "./streamSockets.ts"

/*
 * The syscalls (`NativeBinding`, the addon's contract): each looks up the
 * descriptor and hands the work to the stream or datagram sockets
 * (`streamSockets.ts`, `datagramSockets.ts`); creation, names, options,
 * close and dup are here. The `*Any` calls are the low-level layer
 * (`RawSocket`): Unix sockets only, there is no IP in this kernel.
 */

const anyName = (r: NativeAddress | number): AnyAddress | number =>
  typeof r === "number" ? r : { family: 1, path: r.path, abstract: r.abstract }

export const makeBinding = (k: Kernel): NativeBinding => {
  const binding: NativeBinding = {
    constants: C,
    socket: (type) => {
      if (type !== C.SOCK_STREAM && type !== C.SOCK_DGRAM) return err("EPROTOTYPE")
      return k.descriptors.allocate(new Sock(k, type))
    },
    socketpair: (type) => {
      if (type !== C.SOCK_STREAM && type !== C.SOCK_DGRAM) return err("EPROTOTYPE")
      const a = new Sock(k, type)
      const b = new Sock(k, type)
      if (type === C.SOCK_STREAM) {
        a.peer = b
        b.peer = a
        a.connected = b.connected = true
        k.net.sockets.add(a)
        k.net.sockets.add(b)
      } else {
        a.dgramPeer = b
        b.dgramPeer = a
      }
      return [k.descriptors.allocate(a), k.descriptors.allocate(b)]
    },
    bind: (fd, name, abstract) => {
      const s = k.sock(fd)
      if (typeof s === "number") return s
      if (s.bound) return err("EINVAL")
      const address = fromName(name, abstract)
      const code = k.fs.bind(address, s)
      if (code !== undefined) return err(code as keyof typeof ERRNO)
      s.address = address
      s.bound = true
      if (s.type === C.SOCK_DGRAM) {
        k.list(s)
        k.net.sockets.add(s)
      }
      return 0
    },
    connect: (fd, name, abstract) => {
      const s = k.sock(fd)
      if (typeof s === "number") return s
      const target = fromName(name, abstract)
      if (s.type === C.SOCK_STREAM) {
        if (s.connected) return err("EISCONN")
        return Stream.connectStream(k, s, target)
      }
      return Datagram.connectDatagram(k, s, target)
    },
    listen: (fd, backlog) => {
      const s = k.sock(fd)
      if (typeof s === "number") return s
      return Stream.listen(k, s, backlog)
    },
    accept: (fd) => {
      const s = k.sock(fd)
      if (typeof s === "number") return s
      return Stream.accept(k, s)
    },
    getsockname: (fd) => {
      const s = k.sock(fd)
      return typeof s === "number" ? s : toNative(s.address)
    },
    getpeername: (fd) => {
      const s = k.sock(fd)
      if (typeof s === "number") return s
      const p = s.type === C.SOCK_DGRAM ? s.dgramPeer : s.peer
      return p === undefined ? err("ENOTCONN") : toNative(p.address)
    },
    sendto: (fd, data, name, abstract) => {
      const s = k.sock(fd)
      if (typeof s === "number") return s
      if (s.type === C.SOCK_STREAM) return Stream.sendStream(k, s, data, [])
      if (name === null) {
        if (s.dgramPeer === undefined) return err("ENOTCONN")
        return Datagram.sendDatagram(k, s, data, s.dgramPeer, undefined)
      }
      return Datagram.sendDatagram(k, s, data, undefined, fromName(name, abstract))
    },
    sendtoWait: (fd, data, name, abstract, callback) => {
      const attempt = (): boolean => {
        const r = binding.sendto(fd, data, name, abstract)
        if (r === err("EAGAIN")) return false
        callback(r)
        return true
      }
      // the result always arrives from the scheduler fiber, never from the caller's stack
      k.readiness.whenSendable(attempt)
      return 0
    },
    recvfrom: (fd, maxBytes) => {
      const s = k.sock(fd)
      if (typeof s === "number") return s
      if (s.type === C.SOCK_STREAM) {
        const r = Stream.recvStream(k, s, maxBytes, 0)
        return typeof r === "number" ? r : { data: r.data, address: toNative(unnamed), truncated: false }
      }
      return Datagram.recvDatagram(k, s, maxBytes)
    },
    sendmsg: (fd, data, fds) => {
      const s = k.sock(fd)
      if (typeof s === "number") return s
      if (s.type !== C.SOCK_STREAM) return err("EOPNOTSUPP")
      return Stream.sendStream(k, s, data, fds)
    },
    recvmsg: (fd, maxBytes, maxFds) => {
      const s = k.sock(fd)
      if (typeof s === "number") return s
      if (s.type !== C.SOCK_STREAM) return err("EOPNOTSUPP")
      return Stream.recvStream(k, s, maxBytes, maxFds)
    },
    setsockopt: (fd, level, name, value) => {
      const s = k.sock(fd)
      if (typeof s === "number") return s
      s.options.set(`${level}:${name}`, value)
      return 0
    },
    getsockopt: (fd, level, name) => {
      const s = k.sock(fd)
      if (typeof s === "number") return [-s, 0] as const
      if (level === C.SOL_SOCKET && name === C.SO_ERROR) {
        const e = s.error
        s.error = undefined
        return [0, e === undefined ? 0 : (ERRNO[e] ?? 0)] as const
      }
      if (level === C.SOL_SOCKET && name === C.SO_TYPE) return [0, s.type] as const
      if (level === C.SOL_SOCKET && name === C.SO_DOMAIN) return [0, C.AF_UNIX] as const
      if (level === C.SOL_SOCKET && name === C.SO_ACCEPTCONN) return [0, s.listening ? 1 : 0] as const
      const set = s.options.get(`${level}:${name}`)
      if (set !== undefined) return [0, set] as const
      if (level === C.SOL_SOCKET && (name === C.SO_SNDBUF || name === C.SO_RCVBUF)) return [0, SNDBUF] as const
      return [0, 0] as const
    },
    shutdown: (fd, how) => {
      const s = k.sock(fd)
      if (typeof s === "number") return s
      return Stream.shutdown(k, s, how)
    },
    close: (fd) => {
      const o = k.descriptors.get(fd)
      if (o === undefined) return err("EBADF")
      k.descriptors.delete(fd)
      k.readiness.closed(fd)
      o.unref()
      return 0
    },
    dup: (fd) => {
      const o = k.descriptors.get(fd)
      return o === undefined ? err("EBADF") : k.descriptors.allocate(o)
    },
    setNonBlocking: (fd) => (k.descriptors.has(fd) ? 0 : err("EBADF")),
    setTimeout: (fd) => (k.descriptors.has(fd) ? 0 : err("EBADF")),
    // the low-level layer (RawSocket): Unix sockets only, there is no IP in this kernel
    socketAny: (family, type) => (family === 1 ? binding.socket(type) : err("EAFNOSUPPORT")),
    bindAny: (fd, address) =>
      address.family === 1 ? binding.bind(fd, address.path, address.abstract) : err("EAFNOSUPPORT"),
    connectAny: (fd, address) =>
      address.family === 1 ? binding.connect(fd, address.path, address.abstract) : err("EAFNOSUPPORT"),
    getsocknameAny: (fd) => anyName(binding.getsockname(fd)),
    getpeernameAny: (fd) => anyName(binding.getpeername(fd)),
    sendtoAny: (fd, data, address) => {
      if (address === null) return binding.sendto(fd, data, null, false)
      return address.family === 1 ? binding.sendto(fd, data, address.path, address.abstract) : err("EAFNOSUPPORT")
    },
    recvfromAny: (fd, maxBytes, peek) => {
      if (peek === true) return err("EOPNOTSUPP")
      const s = k.sock(fd)
      if (typeof s === "number") return s
      if (s.type === C.SOCK_STREAM) {
        const r = Stream.recvStream(k, s, maxBytes, 0)
        return typeof r === "number" ? r : { data: r.data, address: null, truncated: false }
      }
      const r = binding.recvfrom(fd, maxBytes)
      return typeof r === "number" ? r : { data: r.data, address: { family: 1, ...r.address }, truncated: r.truncated }
    },
    pollReadable: (fd) => {
      const o = k.descriptors.get(fd)
      if (o === undefined) return err("EBADF")
      return o instanceof Sock ? (o.readable() ? 1 : 0) : 1
    },
  }
  return binding
}
