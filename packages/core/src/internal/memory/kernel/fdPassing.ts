import { err } from "./constants.ts"
import type { Obj } from "./descriptors.ts"
import type { Kernel } from "./index.ts"

/*
 * SCM_RIGHTS descriptor passing on stream sockets. `sendmsg` turns the
 * sender's descriptors into in-flight references carried by the segment
 * of the receive queue (`Segment.fds`, at most MAX_FDS a message); the
 * receiver's `recvmsg` stops at a segment that carries descriptors, so
 * they arrive with the bytes they were sent with (`streamSockets.ts`), and
 * turns the references into its own descriptors. Descriptors beyond what
 * the receiver asked for are closed (MSG_CTRUNC), and a queue dropped
 * unread (`Sock.dropQueue`) releases the references it carried.
 */

/** The objects `fds` refer to, each with an in-flight reference, or EBADF. */
export const attach = (k: Kernel, fds: ReadonlyArray<number>): Array<Obj> | number => {
  const objs: Array<Obj> = []
  for (const fd of fds) {
    const o = k.descriptors.get(fd)
    if (o === undefined) return err("EBADF")
    objs.push(o)
  }
  for (const o of objs) o.refs++
  return objs
}

/**
 * The in-flight references become the receiver's descriptors; those beyond
 * `maxFds` are closed (MSG_CTRUNC).
 */
export const receive = (k: Kernel, objs: ReadonlyArray<Obj>, maxFds: number): Array<number> => {
  const fds = objs.slice(0, maxFds).map((o) => {
    const fd = k.descriptors.allocate(o)
    o.refs--
    return fd
  })
  for (const o of objs.slice(maxFds)) o.unref()
  return fds
}
