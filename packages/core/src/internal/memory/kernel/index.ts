import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { RawConnection } from "../../../Driver.ts"
import type { FileOps, NativeAddon, NativeBinding, NativeDriver } from "../../../NativeDriver.ts"
import { BrokenResource } from "../../../NetError.ts"
import type { MemoryNet } from "../network.ts"
import type { UnixNamespace } from "../unix.ts"
import { makeBinding } from "./binding.ts"
import { AdoptedConnection, ConnectionObj, ConnectionView } from "./connections.ts"
import { type Address, C, err, NAMES } from "./constants.ts"
import { DescriptorTable, type Obj } from "./descriptors.ts"
import { FileObj, fileOps } from "./files.ts"
import { Readiness } from "./readiness.ts"
import { Sock } from "./socket.ts"
import { connectStream } from "./streamSockets.ts"

/*
 * A small virtual kernel for the memory network: AF_UNIX stream and
 * datagram sockets, SCM_RIGHTS descriptor passing and in-memory files,
 * behind the same `NativeBinding` contract as the `@netfx/native` addon.
 * Core's Unix datagram and fd-passing code runs on it unchanged, so the
 * memory network keeps exactly the semantics (EAGAIN and readiness,
 * truncation, MSG_CTRUNC, resets) the real transports have.
 *
 * `Kernel` (here) holds the state and is what the memory network sees
 * (`driver()`, `openFile`, `connectToListener`). Its parts:
 * - `constants.ts`: errno numbers, socket constants, Linux's limits, addresses;
 * - `descriptors.ts`: the descriptor table and reference-counted objects;
 * - `socket.ts`: a virtual socket's state, readability and writability, release;
 * - `binding.ts`: the syscalls (`NativeBinding`), dispatching to
 *   `streamSockets.ts` (listen, connect, accept, send, receive, shutdown),
 *   `datagramSockets.ts` (queues, send buffer, truncation) and
 *   `fdPassing.ts` (SCM_RIGHTS);
 * - `readiness.ts`: watchers, waiting sends and adopted streams, checked on
 *   the scheduler fiber after every change (`poke`);
 * - `connections.ts`: stream descriptors as `RawConnection`s, and memory
 *   connections as descriptors;
 * - `files.ts`: in-memory files and the driver's `FileOps`.
 *
 * Unix traffic is local: no link fault applies to it. Readiness events
 * are delivered on the memory network's scheduler fiber, never from the
 * caller's stack.
 */

/** @internal */
export class Kernel {
  readonly descriptors = new DescriptorTable()
  readonly readiness: Readiness

  constructor(
    readonly net: MemoryNet,
    readonly fs: UnixNamespace,
  ) {
    this.readiness = new Readiness(net.scheduler, this.descriptors)
    net.streamDescriptors = {
      open: (connection) => this.descriptors.allocate(new ConnectionObj(connection)),
      close: (fd) => {
        this.binding.close(fd)
      },
    }
  }

  /** Open descriptors (for tests and `Control.descriptors`). */
  get open(): number {
    return this.descriptors.size
  }

  sock(fd: number): Sock | number {
    const o = this.descriptors.get(fd)
    if (o === undefined) return err("EBADF")
    if (!(o instanceof Sock)) return err("ENOTSOCK")
    return o
  }

  openFile(data: Uint8Array): { readonly fd: number; readonly owner: Obj } {
    const owner = new FileObj(data.slice())
    return { fd: this.descriptors.allocate(owner), owner }
  }

  /** Closes `fd` if it still refers to `owner` (the number may have been closed and reused). */
  closeIf(fd: number, owner: Obj): void {
    if (this.descriptors.get(fd) === owner) this.binding.close(fd)
  }

  /** The `Control.listeners` entry of each listening or bound datagram socket. */
  private readonly listed = new Map<Sock, { readonly transport: "unix" | "unixDatagram"; readonly address: Address }>()

  list(s: Sock): void {
    const entry = { transport: s.transport, address: s.address }
    this.listed.set(s, entry)
    this.net.listening.add(entry)
  }

  unlisten(s: Sock): void {
    const entry = this.listed.get(s)
    if (entry === undefined) return
    this.listed.delete(s)
    this.net.listening.delete(entry)
  }

  /** Schedules readiness checks on the scheduler fiber (coalesced). */
  poke(): void {
    this.readiness.poke()
  }

  readonly binding: NativeBinding = makeBinding(this)

  readonly addon: NativeAddon = {
    binding: this.binding,
    loadError: undefined,
    fix: "",
    runtime: "memory",
    readiness: "memory",
    errnoName: (n) => NAMES.get(Math.abs(n)) ?? `E${Math.abs(n)}`,
    watch: (fd, onEvent) => {
      if (!this.descriptors.has(fd)) return err("EBADF")
      return this.readiness.watch(fd, onEvent)
    },
  }

  /** File operations on virtual descriptors (files and stream sockets). */
  readonly file: FileOps = fileOps(this)

  /** A virtual stream socket descriptor as a `RawConnection` (`FdPassing.toByteStream`). */
  adoptStream(fd: number): Effect.Effect<RawConnection, BrokenResource, Scope.Scope> {
    return Effect.acquireRelease(
      Effect.suspend((): Effect.Effect<RawConnection, BrokenResource> => {
        const o = this.descriptors.get(fd)
        if (o instanceof ConnectionObj) return Effect.succeed(new ConnectionView(this, fd, o.connection))
        const s = this.sock(fd)
        if (typeof s === "number" || s.type !== C.SOCK_STREAM || !s.connected)
          return Effect.fail(
            new BrokenResource({
              operation: "adoptStream",
              code: typeof s === "number" ? this.addon.errnoName(s) : "ENOTCONN",
              syscall: "adoptStream",
            }),
          )
        return Effect.succeed(new AdoptedConnection(this, fd, s))
      }),
      (c) => Effect.sync(() => c.close()),
    )
  }

  /**
   * `Unix.connect` to an `FdPassing` listener: the client side as a byte
   * stream over a virtual socket, or the errno.
   */
  connectToListener(owner: unknown, address: Address): RawConnection | string | undefined {
    if (!(owner instanceof Sock)) return undefined
    const s = new Sock(this, C.SOCK_STREAM)
    const fd = this.descriptors.allocate(s)
    const r = connectStream(this, s, address)
    if (r < 0) {
      this.binding.close(fd)
      return this.addon.errnoName(r)
    }
    return new AdoptedConnection(this, fd, s)
  }

  /** @internal */
  track(f: () => void): () => void {
    return this.readiness.track(f)
  }

  driver(): NativeDriver {
    return { addon: this.addon, adoptStream: (fd) => this.adoptStream(fd), file: this.file }
  }
}
