import { FIRST_FD } from "./constants.ts"

/*
 * The descriptor table. Descriptors are numbers from 1000 up (lowest free
 * first), distinct from the process's real descriptors. A descriptor
 * refers to an object (a socket, a memory connection or a file) with a
 * reference count: each descriptor (`dup` makes another), an in-flight
 * SCM_RIGHTS message (`fdPassing.ts`) and a received descriptor each hold
 * one; the object is released when the last goes.
 */

/** An object a descriptor refers to. */
export abstract class Obj {
  refs = 0
  abstract release(): void
  unref(): void {
    if (--this.refs === 0) this.release()
  }
}

/** Descriptor numbers and the objects they refer to. */
export class DescriptorTable {
  private readonly objects = new Map<number, Obj>()

  /** Open descriptors. */
  get size(): number {
    return this.objects.size
  }

  get(fd: number): Obj | undefined {
    return this.objects.get(fd)
  }

  has(fd: number): boolean {
    return this.objects.has(fd)
  }

  /** A new descriptor (the lowest free number) for `obj`; it holds one reference. */
  allocate(obj: Obj): number {
    let fd = FIRST_FD
    while (this.objects.has(fd)) fd++
    obj.refs++
    this.objects.set(fd, obj)
    return fd
  }

  /** Forgets `fd`; the caller drops the reference it held. */
  delete(fd: number): void {
    this.objects.delete(fd)
  }
}
