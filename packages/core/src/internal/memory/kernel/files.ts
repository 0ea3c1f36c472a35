import * as Effect from "effect/Effect"
import type { FileOps } from "../../../NativeDriver.ts"
import { BrokenResource } from "../../../NetError.ts"
import { Obj } from "./descriptors.ts"
import type { Kernel } from "./index.ts"

/*
 * In-memory files (`ControlService.openFile`): descriptors that are not
 * sockets, so a test can pass one with `FdPassing` and read or write it
 * with `FdPassing.toFileHandle` (the `FileOps` of the memory driver). A
 * file is always ready (`readiness.ts`); socket calls on it fail with
 * ENOTSOCK.
 */

/** An in-memory file (see `ControlService.openFile`). */
export class FileObj extends Obj {
  position = 0
  constructor(public data: Uint8Array) {
    super()
  }
  release(): void {}
}

/** File operations on virtual descriptors (files and stream sockets). */
export const fileOps = (k: Kernel): FileOps => ({
  read: (fd, maxBytes) =>
    Effect.suspend(() => {
      const o = k.descriptors.get(fd)
      if (o instanceof FileObj) {
        const chunk = o.data.slice(o.position, o.position + maxBytes)
        o.position += chunk.length
        return Effect.succeed(chunk)
      }
      return Effect.fail(
        new BrokenResource({ operation: "read", code: o === undefined ? "EBADF" : "EINVAL", syscall: "read" }),
      )
    }),
  write: (fd, data) =>
    Effect.suspend(() => {
      const o = k.descriptors.get(fd)
      if (!(o instanceof FileObj))
        return Effect.fail(
          new BrokenResource({ operation: "write", code: o === undefined ? "EBADF" : "EINVAL", syscall: "write" }),
        )
      const end = o.position + data.length
      if (end > o.data.length) {
        const grown = new Uint8Array(end)
        grown.set(o.data)
        o.data = grown
      }
      o.data.set(data, o.position)
      o.position = end
      return Effect.void
    }),
  close: (fd) =>
    Effect.sync(() => {
      k.binding.close(fd)
    }),
})
