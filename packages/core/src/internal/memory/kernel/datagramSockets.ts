import { type Address, C, type ERRNO, err, MAX_DGRAM_QLEN, SNDBUF, toNative } from "./constants.ts"
import type { Kernel } from "./index.ts"
import { type Datagram, Sock } from "./socket.ts"

/*
 * Unix datagram sockets: connect (a default peer that is also the only
 * sender a connected receiver takes), send into the receiver's queue,
 * bounded by Linux's queue length and the sender's send buffer (EAGAIN
 * beyond either), and receive with truncation. The faults in force for
 * the `unix` host apply, as for Unix streams (none by default).
 */

export const connectDatagram = (k: Kernel, s: Sock, target: Address): number => {
  const found = k.fs.owner(target)
  if (typeof found === "string") return err(found as keyof typeof ERRNO)
  if (!(found.owner instanceof Sock)) return err("ECONNREFUSED")
  if (found.owner.type !== C.SOCK_DGRAM) return err("EPROTOTYPE")
  s.dgramPeer = found.owner
  k.net.sockets.add(s)
  return 0
}

export const sendDatagram = (
  k: Kernel,
  s: Sock,
  data: Uint8Array,
  target: Sock | undefined,
  to: Address | undefined,
): number => {
  if (data.length > SNDBUF - 32) return err("EMSGSIZE")
  let t = target
  if (t === undefined) {
    if (to === undefined) return err("ENOTCONN")
    const found = k.fs.owner(to)
    if (typeof found === "string") return err(found as keyof typeof ERRNO)
    if (!(found.owner instanceof Sock)) return err("EPROTOTYPE")
    t = found.owner
  }
  if (t.dead) return err("ECONNREFUSED")
  if (t.type !== C.SOCK_DGRAM) return err("EPROTOTYPE")
  // a connected receiver takes datagrams from its peer only
  if (t.dgramPeer !== undefined && t.dgramPeer !== s) return err("EPERM")
  if (t.dgrams.length + t.inFlight >= MAX_DGRAM_QLEN || s.outstanding + data.length > SNDBUF) return err("EAGAIN")
  const net = k.net
  const receiver = t
  const size = data.length
  s.bytesSent += size
  net.stats.datagramsSent++
  // the faults in force for the `unix` host, as for Unix streams (none by default)
  const f = net.faults("unix", "unix")
  if (
    net.partitioned("unix", "unix") ||
    (f.maxDatagramSize !== undefined && size > f.maxDatagramSize) ||
    net.prng.chance(f.loss)
  ) {
    net.stats.datagramsDropped++
    return size
  }
  const copies = net.prng.chance(f.duplicate) ? 2 : 1
  if (copies === 2) net.stats.datagramsDuplicated++
  const immediate = f.latency === 0 && f.jitter === 0 && f.bandwidth === undefined && f.reorder === 0
  for (let i = 0; i < copies; i++) {
    const datagram: Datagram = { data: data.slice(), from: s.address, sender: s }
    s.outstanding += size
    if (immediate) {
      receiver.dgrams.push(datagram)
      net.stats.datagramsDelivered++
      continue
    }
    let at = net.departure("unix", "unix", f, size)
    if (net.prng.chance(f.reorder)) at += Math.max(2 * f.latency, 10)
    receiver.inFlight++
    net.scheduler.at(at, () => {
      receiver.inFlight--
      if (receiver.dead) {
        s.outstanding -= size
        net.stats.datagramsDropped++
      } else {
        receiver.dgrams.push(datagram)
        net.stats.datagramsDelivered++
      }
      k.poke()
    })
  }
  k.poke()
  return size
}

export const recvDatagram = (k: Kernel, s: Sock, maxBytes: number) => {
  const d = s.dgrams.shift()
  if (d === undefined) return err("EAGAIN")
  d.sender.outstanding -= d.data.length
  s.bytesReceived += d.data.length
  k.poke()
  const truncated = d.data.length > maxBytes
  return { data: truncated ? d.data.slice(0, maxBytes) : d.data, address: toNative(d.from), truncated }
}
