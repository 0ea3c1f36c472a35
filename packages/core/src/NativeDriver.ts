/**
 * The contract between core and the `@netfx/native` Node-API addon, for
 * runtime adapters. The addon provides what Node and Bun lack (Unix
 * datagram sockets, SCM_RIGHTS fd passing, socket options, readiness);
 * `@netfx/node` and `@netfx/bun` load it and pass it here, and core builds
 * the Unix datagram and fd-passing transports on it once for both.
 *
 * When the addon could not be loaded, every function that needs it fails
 * with `Unsupported` whose reason says what was tried and names the fix
 * for npm, pnpm and bun users (it ships prebuilt for Linux x64 and arm64
 * with glibc; elsewhere on Linux it is compiled at install time; it is
 * Linux-only); everything else works.
 *
 * Users do not need this module unless they write a runtime adapter.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { RawConnection } from "./Driver.ts"
import { BrokenResource, errnoOf } from "./NetError.ts"

/**
 * A Unix socket address as the addon reports it (`path` "" = unnamed).
 *
 * @example
 * ```ts
 * import { SocketAddress } from "@netfx/core"
 * import { NativeDriver } from "@netfx/core/Driver"
 *
 * const toSocketAddress = (a: NativeDriver.NativeAddress) =>
 *   a.abstract ? SocketAddress.unixAbstract(a.path) : SocketAddress.unixPath(a.path)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface NativeAddress {
  readonly path: string
  readonly abstract: boolean
}

/**
 * An address of any family as the addon's low-level calls take and give it:
 * IPv4 (`family` 4), IPv6 (6), or Unix (1; `path` "" = unnamed).
 *
 * @example
 * ```ts
 * import { type NativeDriver } from "@netfx/core/Driver"
 *
 * const loopback: NativeDriver.AnyAddress = { family: 4, host: "127.0.0.1", port: 8080 }
 * const unix: NativeDriver.AnyAddress = { family: 1, path: "/run/app.sock", abstract: false }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type AnyAddress =
  | { readonly family: 4; readonly host: string; readonly port: number }
  | {
      readonly family: 6
      readonly host: string
      readonly port: number
      readonly scopeId?: number
      readonly flowInfo?: number
    }
  | { readonly family: 1; readonly path: string; readonly abstract: boolean }

/**
 * The raw addon functions (see `packages/native/src/netfx_native.c`). Every
 * socket call returns a number >= 0 on success or -errno on failure.
 *
 * @example
 * ```ts
 * import { NativeDriver } from "@netfx/core/Driver"
 *
 * const closeFd = (binding: NativeDriver.NativeBinding, fd: number): void => {
 *   const result = binding.close(fd)
 *   if (result < 0) throw new Error(`close failed with errno ${-result}`)
 * }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface NativeBinding {
  socket(type: number, nonblock?: boolean): number
  socketpair(type: number): ReadonlyArray<number> | number
  /** An IP socket (`family` 4 or 6), non-blocking; absent from addons older than this netfx. */
  socketIp?(family: number, type: number): number
  /** Binds an IP socket to a numeric host (IPv6 may carry `%zone`). */
  bindIp?(fd: number, host: string, port: number, scopeId?: number): number
  /** A socket of any family (4, 6, or 1 = Unix), non-blocking: the low-level socket layer (`RawSocket`). */
  socketAny?(family: number, type: number): number
  bindAny?(fd: number, address: AnyAddress): number
  connectAny?(fd: number, address: AnyAddress): number
  getsocknameAny?(fd: number): AnyAddress | number
  getpeernameAny?(fd: number): AnyAddress | number
  /** `address` null: a connected send. */
  sendtoAny?(fd: number, data: Uint8Array, address: AnyAddress | null): number
  recvfromAny?(
    fd: number,
    maxBytes: number,
    peek?: boolean,
  ): { readonly data: Uint8Array; readonly address: AnyAddress | null; readonly truncated: boolean } | number
  /** 1 when a read would not block (data, end of stream, an error), 0 when it would. */
  pollReadable?(fd: number): number
  bind(fd: number, name: string, abstract: boolean): number
  connect(fd: number, name: string, abstract: boolean): number
  listen(fd: number, backlog: number): number
  accept(fd: number): number
  getsockname(fd: number): NativeAddress | number
  getpeername(fd: number): NativeAddress | number
  sendto(fd: number, data: Uint8Array, name: string | null, abstract: boolean): number
  recvfrom(
    fd: number,
    maxBytes: number,
  ): { readonly data: Uint8Array; readonly address: NativeAddress; readonly truncated: boolean } | number
  sendmsg(fd: number, data: Uint8Array, fds: ReadonlyArray<number>): number
  /**
   * `datas[start .. start + count)` (at most 1024) in one `sendmmsg`, all to
   * `name` (null: connected), never blocking: how many went (fewer when the
   * peer's queue filled or a later one failed: retry the next to learn why),
   * or -errno when the first could not go. Absent from older addons.
   */
  sendmmsg?(
    fd: number,
    datas: ReadonlyArray<Uint8Array>,
    start: number,
    count: number,
    name: string | null,
    abstract: boolean,
  ): number
  recvmsg(
    fd: number,
    maxBytes: number,
    maxFds: number,
  ):
    | {
        readonly data: Uint8Array
        readonly fds: ReadonlyArray<number>
        readonly truncated: boolean
        readonly dataTruncated: boolean
      }
    | number
  setsockopt(fd: number, level: number, name: number, value: number): number
  getsockopt(fd: number, level: number, name: number): readonly [number, number]
  shutdown(fd: number, how: number): number
  close(fd: number): number
  dup(fd: number): number
  setNonBlocking(fd: number, on: boolean): number
  sendtoWait(fd: number, data: Uint8Array, name: string, abstract: boolean, callback: (result: number) => void): number
  setTimeout(fd: number, name: number, millis: number): number
  /**
   * Node only (absent from older addons; -ENOSYS under Bun): receives the
   * datagrams of a UDP socket in batches. Watches a duplicate of `fd` and,
   * whenever it is readable, reads what is queued with `recvmmsg` and calls
   * `callback` once per batch of up to 64: `data` holds the datagrams back
   * to back, `meta[i]` is datagram i's length and `meta[64 + i]` the index
   * (in entries of three: host, port, family 4 | 6) of its sender in
   * `senders`, or -1 when it came from the previous datagram's sender. A
   * receive error calls back with `data` null and `error` -errno. Returns
   * the handle for {@link NativeBinding.udpRecvStop}, or -errno.
   */
  udpRecvStart?(
    fd: number,
    callback: (
      data: Uint8Array | null,
      count: number,
      senders: ReadonlyArray<string | number> | undefined,
      error: number,
    ) => void,
    meta: Int32Array,
  ): object | number
  /** Stops a {@link NativeBinding.udpRecvStart} watcher and closes its duplicate descriptor; no callback after it. */
  udpRecvStop?(handle: object): number
  readonly constants: Readonly<Record<string, number>>
}

/**
 * The `@netfx/native` module as its loader exports it: the binding, or why
 * it is missing.
 *
 * @example
 * ```ts
 * import { NativeDriver } from "@netfx/core/Driver"
 *
 * const bindingOf = (addon: NativeDriver.NativeAddon): NativeDriver.NativeBinding => {
 *   if (addon.binding === undefined) throw new Error(`${addon.loadError}; ${addon.fix}`)
 *   return addon.binding
 * }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface NativeAddon {
  readonly binding: NativeBinding | undefined
  readonly loadError: string | undefined
  readonly fix: string
  readonly runtime: string
  readonly readiness: string
  readonly errnoName: (n: number) => string
  readonly watch:
    | ((fd: number, onEvent: (events: number) => void) => { arm(events: number): number; close(): void } | number)
    | undefined
}

/**
 * A plain (non-socket) descriptor as a runtime reads and writes it; used by
 * `FdPassing.toFileHandle`.
 *
 * @example
 * ```ts
 * import { NativeDriver } from "@netfx/core/Driver"
 * import { Effect } from "effect"
 * import * as fs from "node:fs"
 *
 * const ops: NativeDriver.FileOps = NativeDriver.makeFileOps(fs)
 * const readOnce = (fd: number) => ops.read(fd, 4096).pipe(Effect.ensuring(ops.close(fd)))
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface FileOps {
  /** Reads up to `maxBytes` at the current position; an empty array at end of file. */
  readonly read: (fd: number, maxBytes: number) => Effect.Effect<Uint8Array, BrokenResource>
  readonly write: (fd: number, data: Uint8Array) => Effect.Effect<void, BrokenResource>
  readonly close: (fd: number) => Effect.Effect<void>
}

/**
 * The callback half of `node:fs` that {@link makeFileOps} needs; Node and Bun
 * both provide it (pass `import * as fs from "node:fs"`).
 *
 * @example
 * ```ts
 * import { NativeDriver } from "@netfx/core/Driver"
 * import * as fs from "node:fs"
 *
 * const callbacks: NativeDriver.FsCallbacks = fs
 * const ops = NativeDriver.makeFileOps(callbacks)
 * ```
 *
 * @since 0.1.0
 * @category driver
 */
export interface FsCallbacks {
  read(
    fd: number,
    buffer: Uint8Array,
    offset: number,
    length: number,
    position: null,
    callback: (error: Error | null, bytesRead: number) => void,
  ): void
  write(
    fd: number,
    buffer: Uint8Array,
    offset: number,
    length: number,
    position: null,
    callback: (error: Error | null, written: number) => void,
  ): void
  close(fd: number, callback: (error: Error | null) => void): void
}

/**
 * File operations on received descriptors, built once for every runtime
 * from its `node:fs` callbacks. Errors are `BrokenResource` with the errno.
 *
 * **Interruption**: an interrupted read or write stops waiting; the
 * operation already handed to the system completes in the background.
 *
 * @example
 * ```ts
 * import { NativeDriver } from "@netfx/core/Driver"
 * import * as fs from "node:fs"
 *
 * const file = NativeDriver.makeFileOps(fs)
 * ```
 *
 * @since 0.1.0
 * @category driver
 */
export const makeFileOps = (fs: FsCallbacks): FileOps => {
  const broken = (operation: string, error: unknown) =>
    new BrokenResource({ operation, ...errnoOf(error), cause: error })
  return {
    read: (fd, maxBytes) =>
      Effect.async<Uint8Array, BrokenResource>((resume) => {
        const buffer = new Uint8Array(maxBytes)
        fs.read(fd, buffer, 0, maxBytes, null, (error, n) => {
          if (error) resume(Effect.fail(broken("read", error)))
          else resume(Effect.succeed(buffer.subarray(0, n)))
        })
      }),
    write: (fd, data) =>
      Effect.async<void, BrokenResource>((resume) => {
        let offset = 0
        const next = () =>
          fs.write(fd, data, offset, data.length - offset, null, (error, n) => {
            if (error) return resume(Effect.fail(broken("write", error)))
            offset += n
            if (offset < data.length) next()
            else resume(Effect.void)
          })
        next()
      }),
    close: (fd) =>
      Effect.async<void>((resume) => {
        fs.close(fd, () => resume(Effect.void))
      }),
  }
}

/**
 * What a runtime passes to core for the native transports.
 *
 * @example
 * ```ts
 * import { Network } from "@netfx/core"
 * import { type NativeDriver } from "@netfx/core/Driver"
 * import { Effect } from "effect"
 *
 * const addonStatus = Effect.map(
 *   Network.driver("native", "the native addon"),
 *   (native: NativeDriver.NativeDriver) => native.addon.loadError ?? "loaded",
 * )
 * ```
 *
 * @since 0.1.0
 * @category driver
 */
export interface NativeDriver {
  readonly addon: NativeAddon
  /**
   * Wraps a connected stream socket descriptor (TCP or Unix) in the
   * runtime's own socket (Node: `new net.Socket({ fd })`, Bun:
   * `Bun.connect({ fd })`). The runtime owns the descriptor from then on.
   */
  readonly adoptStream: (fd: number) => Effect.Effect<RawConnection, BrokenResource, Scope.Scope>
  readonly file: FileOps
}

/**
 * The `Unsupported` reason when the addon is missing: what was tried, the
 * platforms it ships prebuilt for, and the fix for npm, pnpm and bun users
 * (off Linux: that the addon is Linux-only and what still works).
 *
 * @internal
 */
export const missingAddonReason = (cause: string, platform: string | undefined): string =>
  platform !== undefined && platform !== "linux"
    ? `the @netfx/native addon is Linux-only, so it is not available on ${platform} (${cause}): Unix datagram ` +
      "sockets, fd passing, socket options by descriptor, RawSocket, and reusePort on Node before 22.12 report " +
      "Unsupported there; TCP, TLS, UDP and Unix stream sockets work without it"
    : `the @netfx/native addon is not available (${cause}). It ships prebuilt for Linux x64 and arm64 with glibc ` +
      "2.17 or newer; on other Linux systems (musl libc such as Alpine, other CPUs) its install script compiles it, " +
      "which needs a C compiler, make and python3, and a package manager that runs the script. Fix: install those " +
      "tools, then with npm: `npm rebuild @netfx/native` (installs with --ignore-scripts skip it); pnpm: allow the " +
      'build (`pnpm approve-builds`, or "@netfx/native" in onlyBuiltDependencies in pnpm-workspace.yaml), then ' +
      "`pnpm rebuild @netfx/native`; bun: `bun pm trust @netfx/native` (adds it to trustedDependencies in " +
      "package.json and runs its install script). In a clone of the netfx repository: " +
      "`pnpm --filter @netfx/native rebuild`"

const platformOf = (): string | undefined =>
  (globalThis as { readonly process?: { readonly platform?: unknown } }).process?.platform as string | undefined

/**
 * A runtime's native driver with the addon loaded on first use (so
 * programs that never need it never load it, and a missing addon costs
 * nothing until then): what `NodeNetwork` and `BunNetwork` pass as
 * `native`. `load` requires `@netfx/native` from the runtime package; when
 * it throws (the addon is not installed or not built), the driver's
 * `addon` has no `binding` and a `loadError` naming the fix, so the calls
 * that need it fail with `Unsupported` and everything else works.
 *
 * **Resource**: none until `addon` is first read; then the addon module.
 *
 * **Errors**: none (a failed load is reported through `addon.loadError`).
 *
 * @example
 * ```ts
 * import { NetError } from "@netfx/core"
 * import { NativeDriver } from "@netfx/core/Driver"
 * import { Effect } from "effect"
 * import * as fs from "node:fs"
 * import { createRequire } from "node:module"
 *
 * const driver = NativeDriver.make({
 *   runtime: "example",
 *   load: () => createRequire(import.meta.url)("@netfx/native") as NativeDriver.NativeAddon,
 *   adoptStream: () => Effect.fail(new NetError.BrokenResource({ operation: "adoptStream", code: "ENOSYS" })),
 *   file: NativeDriver.makeFileOps(fs),
 * })
 * ```
 *
 * @since 0.1.0
 * @category driver
 */
export const make = (options: {
  readonly runtime: string
  readonly load: () => NativeAddon
  readonly adoptStream: NativeDriver["adoptStream"]
  readonly file: FileOps
}): NativeDriver => {
  let loaded: NativeAddon | undefined
  const load = (): NativeAddon => {
    try {
      const addon = options.load()
      return addon.binding === undefined
        ? { ...addon, loadError: missingAddonReason(addon.loadError ?? "not loaded", platformOf()) }
        : addon
    } catch (error) {
      const reason = missingAddonReason(
        error instanceof Error ? (error.message.split("\n")[0] ?? "") : String(error),
        platformOf(),
      )
      return {
        binding: undefined,
        loadError: reason,
        fix: reason,
        runtime: options.runtime,
        readiness: "none",
        errnoName: (n) => `E${Math.abs(n)}`,
        watch: undefined,
      }
    }
  }
  return {
    get addon() {
      if (loaded === undefined) loaded = load()
      return loaded
    },
    adoptStream: options.adoptStream,
    file: options.file,
  }
}
