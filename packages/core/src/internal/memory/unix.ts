import * as Effect from "effect/Effect"
import * as Scope from "effect/Scope"
import type { PathKind, Restore, UnixDriver } from "../../Driver.ts"
import { ConnectFailed, ListenFailed } from "../../NetError.ts"
import * as SocketAddress from "../../SocketAddress.ts"
import type { Kernel } from "./kernel/index.ts"
import type { MemoryNet } from "./network.ts"
import { MemoryConnection, MemoryListener } from "./stream.ts"
import { delay } from "./tcp.ts"

/** A file of the virtual file system: a socket file, maybe with a live owner. @internal */
export interface SocketFile {
  readonly ino: number
  mode: number
  owner: unknown
}

/**
 * The memory network's virtual file system for Unix socket paths (shared
 * by stream and datagram sockets) and the abstract namespace.
 *
 * @internal
 */
export class UnixNamespace {
  readonly files = new Map<string, SocketFile>()
  readonly abstract = new Map<string, unknown>()
  private nextIno = 1

  /** Binds an address to `owner`; returns an errno on failure. */
  bind(address: SocketAddress.UnixPath | SocketAddress.UnixAbstract, owner: unknown): string | undefined {
    if (address._tag === "UnixAbstract") {
      if (this.abstract.has(address.name)) return "EADDRINUSE"
      this.abstract.set(address.name, owner)
      return undefined
    }
    if (this.files.has(address.path)) return "EADDRINUSE"
    this.files.set(address.path, { ino: this.nextIno++, mode: 0o755, owner })
    return undefined
  }

  /** The socket no longer owns its address (a path's file stays, as on a real system). */
  release(address: SocketAddress.UnixPath | SocketAddress.UnixAbstract, owner: unknown): void {
    if (address._tag === "UnixAbstract") {
      if (this.abstract.get(address.name) === owner) this.abstract.delete(address.name)
      return
    }
    const file = this.files.get(address.path)
    if (file !== undefined && file.owner === owner) file.owner = undefined
  }

  /** The owner of an address, or the errno a connect to it gets. */
  owner(address: SocketAddress.UnixPath | SocketAddress.UnixAbstract): { readonly owner: unknown } | string {
    if (address._tag === "UnixAbstract") {
      const owner = this.abstract.get(address.name)
      return owner === undefined ? "ECONNREFUSED" : { owner }
    }
    const file = this.files.get(address.path)
    if (file === undefined) return "ENOENT"
    return file.owner === undefined ? "ECONNREFUSED" : { owner: file.owner }
  }

  pathKind(path: string): PathKind {
    const file = this.files.get(path)
    return file === undefined ? { _tag: "Missing" } : { _tag: "Socket", ino: file.ino }
  }
}

const unnamed = SocketAddress.unixPath("")

/** The in-memory Unix stream driver. @internal */
export const unixDriver = (net: MemoryNet, fs: UnixNamespace, kernel: Kernel): UnixDriver => ({
  // run uninterruptibly by core (UnixDriver): only the waits are interruptible (as the caller was)
  connect: (address, restore: Restore = Effect.interruptible) =>
    Effect.gen(function* () {
      net.connects.push({ at: net.now(), transport: "unix", from: "unix", address })
      const f = net.faults("unix", "unix")
      if (f.blackhole) return yield* restore(Effect.never)
      yield* restore(delay(net.departure("unix", "unix", f, 0) - net.now()))
      const found = f.refuse ? "ECONNREFUSED" : fs.owner(address)
      const listener = typeof found === "string" ? undefined : found.owner
      // an `FdPassing` listener of the virtual kernel: the caller owns what it connected
      const bridged =
        listener === undefined || listener instanceof MemoryListener
          ? undefined
          : (kernel.connectToListener(listener, address) ?? "ECONNREFUSED")
      if (typeof bridged === "object") return bridged
      if (!(listener instanceof MemoryListener)) {
        net.stats.connectionsRefused++
        const code = typeof bridged === "string" ? bridged : typeof found === "string" ? found : "ECONNREFUSED"
        return yield* Effect.fail(
          new ConnectFailed({
            host: SocketAddress.format(address),
            port: -1, // as every runtime reports a Unix connect (Driver.unixConnectFailed)
            attempts: [{ address, code, syscall: "connect" }],
          }),
        )
      }
      const [client, server] = MemoryConnection.pair(net, "unix", unnamed, address)
      listener.deliver(server)
      // the caller owns the client once it is returned; this closes it before
      yield* Effect.catchAllCause(restore(delay(net.departure("unix", "unix", f, 0) - net.now())), (cause) => {
        client.close()
        return Effect.failCause(cause)
      })
      return client
    }),
  listen: (request) =>
    Effect.uninterruptible(
      Effect.flatMap(Effect.scope, (scope) => {
        const listener: MemoryListener = new MemoryListener(net, "unix", request.address, () =>
          fs.release(request.address, listener),
        )
        const code = fs.bind(request.address, listener)
        if (code !== undefined) {
          net.listening.delete(listener)
          return Effect.fail(new ListenFailed({ address: request.address, code, syscall: "bind" }))
        }
        return Effect.as(
          Scope.addFinalizer(
            scope,
            Effect.sync(() => listener.close()),
          ),
          listener,
        )
      }),
    ),
  pathKind: (path) => Effect.sync(() => fs.pathKind(path)),
  unlink: (path) =>
    Effect.sync(() => {
      fs.files.delete(path)
    }),
  chmod: (path, mode) =>
    Effect.suspend(() => {
      const file = fs.files.get(path)
      if (file === undefined) {
        return Effect.fail(
          new ListenFailed({ address: SocketAddress.unixPath(path), code: "ENOENT", syscall: "chmod" }),
        )
      }
      file.mode = mode
      return Effect.void
    }),
})
