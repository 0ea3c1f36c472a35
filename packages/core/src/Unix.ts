/**
 * Unix domain stream sockets: connect and listen on a file system path or a
 * Linux abstract-namespace name.
 *
 * Connections are ordinary {@link SocketStream.SocketStream}s and listeners
 * ordinary {@link Listener}s: the byte-stream and `serve` contracts are the
 * same as TCP's. Abstract names are `SocketAddress.unixAbstract(name)`,
 * never `"\0..."` strings.
 *
 * Differences from AnyIO's `create_unix_listener`:
 * - a socket file left behind by a dead process is removed and reused, but a
 *   path held by a **live** listener fails with `ListenFailed` (`EADDRINUSE`)
 *   instead of being stolen, and a regular file or directory is never touched;
 * - the listener removes its socket file when its Scope closes (AnyIO leaves
 *   it behind); `removeOnClose: false` keeps it.
 *
 * @since 0.1.0
 */
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { FsSync, UnixDriver } from "./Driver.ts"
import { withConnectTimeout } from "./internal/connect.ts"
import * as internalListener from "./internal/listener.ts"
import * as validate from "./internal/validate.ts"
import type { Listener } from "./Listener.ts"
import type { NativeAddon, NativeBinding } from "./NativeDriver.ts"
import { ConnectFailed, InvalidArgument, ListenFailed, type Unsupported } from "./NetError.ts"
import * as Network from "./Network.ts"
import * as SocketAddress from "./SocketAddress.ts"
import * as SocketStream from "./SocketStream.ts"

/**
 * A Unix socket address: a path string, or a `SocketAddress` (`UnixPath` or
 * `UnixAbstract`).
 *
 * @example
 * ```ts
 * import { SocketAddress, Unix } from "@netfx/core"
 *
 * const inputs: ReadonlyArray<Unix.UnixAddressInput> = ["/run/app.sock", SocketAddress.unixAbstract("app")]
 * const connections = inputs.map((path) => Unix.connect({ path }))
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type UnixAddressInput = string | SocketAddress.UnixPath | SocketAddress.UnixAbstract

/**
 * What a path in the file system currently is, as a driver reports it.
 *
 * @example
 * ```ts
 * import * as Driver from "@netfx/core/Driver"
 * import { Unix } from "@netfx/core"
 * import { Effect } from "effect"
 * import * as fs from "node:fs"
 * import * as assert from "node:assert"
 *
 * const kind: Unix.PathKind = Effect.runSync(Driver.makePathOps(fs).pathKind("/nonexistent/app.sock"))
 * assert.strictEqual(kind._tag, "Missing")
 * ```
 *
 * @since 0.1.0
 * @category driver
 */
export type PathKind =
  | { readonly _tag: "Missing" }
  | { readonly _tag: "Socket"; readonly ino: number }
  | { readonly _tag: "Other"; readonly kind: string }

/**
 * Runs a runtime's listener `close` while keeping its socket file: libuv
 * (Node) and Bun unlink a listener's path when it closes, but whether the
 * file goes is core's decision (`removeOnClose`). The file is kept through
 * a temporary hard link and put back, never replacing a newer socket that
 * somebody bound at the path meanwhile. Abstract names have no file.
 *
 * @example
 * ```ts
 * import { SocketAddress, Unix } from "@netfx/core"
 * import * as fs from "node:fs"
 *
 * Unix.closeKeepingFile(fs, SocketAddress.unixPath("/tmp/app.sock"), () => {
 *   // server.close()
 * })
 * ```
 *
 * @since 0.1.0
 * @category driver
 */
export const closeKeepingFile = (
  fs: FsSync,
  address: SocketAddress.UnixPath | SocketAddress.UnixAbstract,
  close: () => void,
): void => {
  if (address._tag !== "UnixPath") {
    close()
    return
  }
  const path = address.path
  const keep = `${path}.netfx-${process.pid}-${Date.now()}`
  let linked = false
  try {
    fs.linkSync(path, keep)
    linked = true
  } catch {
    // the file is gone or the directory is not writable: nothing to keep
  }
  close()
  if (!linked) return
  try {
    fs.linkSync(keep, path) // never replaces a newer socket at the path
  } catch {
    // somebody bound the path meanwhile: theirs wins
  }
  try {
    fs.unlinkSync(keep)
  } catch {
    // nothing left to clean
  }
}

/** The kernel limit of `sun_path` (108 bytes including the NUL for paths). */
const SUN_PATH_MAX = 108

/** @internal */
export const toAddress = (
  argument: string,
  input: UnixAddressInput,
): Effect.Effect<SocketAddress.UnixPath | SocketAddress.UnixAbstract, InvalidArgument> => {
  const address = typeof input === "string" ? SocketAddress.unixPath(input) : input
  if (
    typeof address !== "object" ||
    address === null ||
    (address._tag !== "UnixPath" && address._tag !== "UnixAbstract")
  )
    return Effect.fail(
      new InvalidArgument({ argument, reason: "must be a path or a Unix SocketAddress", value: input }),
    )
  const name = address._tag === "UnixPath" ? address.path : address.name
  // paths need a terminating NUL, abstract names a leading one
  const limit = SUN_PATH_MAX - 1
  if (typeof name !== "string" || name.includes("\0"))
    return Effect.fail(new InvalidArgument({ argument, reason: "must not contain NUL bytes", value: input }))
  if (address._tag === "UnixPath" && name.length === 0)
    return Effect.fail(new InvalidArgument({ argument, reason: "must be a non-empty path", value: input }))
  if (new TextEncoder().encode(name).length > limit)
    return Effect.fail(
      new InvalidArgument({ argument, reason: `is longer than the kernel's limit of ${limit} bytes`, value: input }),
    )
  return Effect.succeed(address)
}

/**
 * Options of {@link connect}: the address as `path`, shaped like
 * `Tcp.connect`'s `{ host, port }`.
 *
 * @example
 * ```ts
 * import { SocketAddress, Unix } from "@netfx/core"
 *
 * const options: Unix.ConnectOptions = { path: "/run/app.sock", highWaterMark: 16 * 1024, timeout: "2 seconds" }
 * const conn = Unix.connect(options)
 * const abstract = Unix.connect({ path: SocketAddress.unixAbstract("app") })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface ConnectOptions {
  /** A file system path, or a `SocketAddress` (`UnixPath`, `UnixAbstract`). */
  readonly path: UnixAddressInput
  /** Read-ahead bound while nobody receives (default 65536 bytes). */
  readonly highWaterMark?: number
  /**
   * A limit for the connect (a listener whose backlog is full keeps a
   * client waiting): when it passes the socket is closed and `connect`
   * fails with `ConnectFailed` code `ETIMEDOUT`. Default: none.
   */
  readonly timeout?: Duration.DurationInput
}

/**
 * Connects to a Unix stream socket.
 *
 * **Resource**: the socket belongs to the current Scope and is closed when
 * it closes (or by `close`).
 *
 * **Errors**: `InvalidArgument` for an empty, too long or NUL-containing
 * path or a bad `timeout`; `ConnectFailed` with `ENOENT` (no such path),
 * `ECONNREFUSED` (a socket file nobody listens on), `EACCES`, ... (`host`
 * is the formatted address, `port` is -1), with `code: "ETIMEDOUT"` when
 * `timeout` passed; `Unsupported` when the runtime has no Unix sockets.
 *
 * **Interruption**: closes the socket; nothing leaks.
 *
 * **Tracing**: runs in a span `netfx.Unix.connect` (attribute `path`).
 *
 * @example
 * ```ts
 * import { Unix } from "@netfx/core"
 * import { NodeNetwork } from "@netfx/node"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function* () {
 *   const conn = yield* Unix.connect({ path: "/tmp/mysock" })
 *   yield* conn.send(new TextEncoder().encode("Hi"))
 * }).pipe(Effect.scoped, Effect.provide(NodeNetwork.layer))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const connect = (
  options: ConnectOptions,
): Effect.Effect<
  SocketStream.SocketStream,
  ConnectFailed | InvalidArgument | Unsupported,
  Scope.Scope | Network.Network
> =>
  Effect.gen(function* () {
    const address = yield* toAddress("path", options.path)
    if (options.highWaterMark !== undefined) yield* validate.positiveInt("highWaterMark", options.highWaterMark)
    const timeout =
      options.timeout === undefined ? undefined : yield* validate.positiveDuration("timeout", options.timeout)
    const unix = yield* Network.driver("unix", "Unix sockets")
    const raw =
      timeout === undefined
        ? yield* unix.connect(address)
        : yield* withConnectTimeout(unix.connect(address), timeout, () => [{ address, code: "ETIMEDOUT" }])(
            SocketAddress.format(address),
            -1,
          )
    return yield* SocketStream.makeScoped(
      raw,
      options.highWaterMark === undefined ? undefined : { highWaterMark: options.highWaterMark },
    )
  }).pipe(Effect.withSpan("netfx.Unix.connect", { attributes: { path: spanPath(options) } }))

/** @internal The path for a span attribute (whatever the caller passed, printable). */
export const spanPath = (options: { readonly path?: unknown } | undefined): string => {
  const path = options?.path
  if (typeof path === "string") return path
  return typeof path === "object" && path !== null && "_tag" in path
    ? SocketAddress.format(path as SocketAddress.SocketAddress)
    : String(path)
}

/**
 * Options of {@link listen}.
 *
 * @example
 * ```ts
 * import { Unix } from "@netfx/core"
 *
 * const options: Unix.ListenOptions = { path: "/run/app.sock", mode: 0o660, backlog: 128, removeOnClose: false }
 * const listener = Unix.listen(options)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface ListenOptions {
  /** A file system path, or a `SocketAddress` (`UnixPath`, `UnixAbstract`). */
  readonly path: UnixAddressInput
  /**
   * Permission bits for the socket file (e.g. `0o600`); paths only.
   * Default: as the umask gives. Applied with chmod right after bind, so
   * for a moment the file has the umask's permissions: to be strict from
   * the first instant, put the socket in a directory only the intended
   * users can enter.
   */
  readonly mode?: number
  /**
   * Kernel backlog and netfx accept-queue bound (default 511). Bun's
   * `Bun.listen` takes no backlog: there it bounds netfx's queue only.
   */
  readonly backlog?: number
  /** Remove the socket file when the listener's Scope closes (default `true`). */
  readonly removeOnClose?: boolean
  /** Read-ahead bound for accepted connections (default 65536 bytes). */
  readonly highWaterMark?: number
}

const listenFailed = (address: SocketAddress.UnixPath | SocketAddress.UnixAbstract, code: string, syscall: string) =>
  new ListenFailed({ address, code, syscall })

/**
 * Binds and listens on a Unix stream socket.
 *
 * Stale paths: when the path holds a socket file nobody listens on (a
 * crashed server's leftover), it is removed and the bind retried. When a
 * live listener holds it, the result is `ListenFailed` with `EADDRINUSE`
 * (it is not stolen). A regular file, directory or other non-socket at the
 * path fails with `ListenFailed` (`EADDRINUSE`) and is left untouched.
 *
 * **Resource**: the listening socket belongs to the current Scope. When the
 * Scope closes the socket is closed and, unless `removeOnClose: false`, its
 * socket file is removed (only if it is still the file this listener
 * created). AnyIO does not remove the file; netfx does by default.
 *
 * **Errors**: `InvalidArgument` for a bad path, backlog or mode;
 * `ListenFailed` with `EADDRINUSE`, `EACCES`, `ENOENT` (missing directory),
 * ...; `Unsupported` when the runtime has no Unix sockets.
 *
 * **Interruption**: closes whatever it bound.
 *
 * **Tracing**: runs in a span `netfx.Unix.listen` (attribute `path`).
 *
 * @example
 * ```ts
 * import { SocketStream, Unix } from "@netfx/core"
 * import { NodeNetwork } from "@netfx/node"
 * import { Effect } from "effect"
 *
 * const server = Effect.gen(function* () {
 *   const listener = yield* Unix.listen({ path: "/tmp/mysock", mode: 0o600 })
 *   yield* listener.serve((conn) => SocketStream.pipe(conn, conn))
 * }).pipe(Effect.scoped, Effect.provide(NodeNetwork.layer))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const listen = (
  options: ListenOptions,
): Effect.Effect<Listener, ListenFailed | InvalidArgument | Unsupported, Scope.Scope | Network.Network> =>
  Effect.gen(function* () {
    const address = yield* toAddress("path", options.path)
    const backlog = yield* validate.positiveInt("backlog", options.backlog ?? internalListener.DEFAULT_BACKLOG)
    if (options.highWaterMark !== undefined) yield* validate.positiveInt("highWaterMark", options.highWaterMark)
    yield* validateMode(options.mode)
    const unix = yield* Network.driver("unix", "Unix sockets")
    const raw = yield* bindAt(
      unix,
      address,
      unix.listen({ address, backlog }),
      Effect.map(Effect.scoped(Effect.either(unix.connect(address))), (probe) =>
        probe._tag === "Right" ? "alive" : probe.left.attempts[0]?.code === "ECONNREFUSED" ? "stale" : "unknown",
      ),
      options,
    )
    return yield* internalListener.make([raw], {
      backlog,
      ...(options.highWaterMark === undefined ? {} : { streamOptions: { highWaterMark: options.highWaterMark } }),
    })
  }).pipe(Effect.withSpan("netfx.Unix.listen", { attributes: { path: spanPath(options) } }))

/**
 * Binds at a Unix address with netfx's path rules: a stale socket file is
 * replaced, a live one is not stolen, other files are left alone; applies
 * `mode` and registers the removal of the socket file.
 *
 * @internal
 */
export const bindAt = <A>(
  unix: UnixDriver,
  address: SocketAddress.UnixPath | SocketAddress.UnixAbstract,
  bindOnce: Effect.Effect<A, ListenFailed, Scope.Scope>,
  probe: Effect.Effect<"alive" | "stale" | "unknown">,
  options: { readonly mode?: number | undefined; readonly removeOnClose?: boolean | undefined },
): Effect.Effect<A, ListenFailed, Scope.Scope> =>
  Effect.gen(function* () {
    const bound = yield* Effect.catchTag(bindOnce, "ListenFailed", (error) => {
      if (error.code !== "EADDRINUSE" || address._tag !== "UnixPath") return Effect.fail(error)
      return Effect.flatMap(unix.pathKind(address.path), (kind) => {
        if (kind._tag !== "Socket") return Effect.fail(error)
        // A socket file: is anybody using it?
        return Effect.flatMap(probe, (state) => {
          if (state === "alive") return Effect.fail(listenFailed(address, "EADDRINUSE", "bind"))
          if (state !== "stale") return Effect.fail(error)
          return Effect.zipRight(unix.unlink(address.path), bindOnce)
        })
      })
    })
    if (address._tag === "UnixPath") {
      const created = yield* unix.pathKind(address.path)
      if (options.removeOnClose ?? true) {
        yield* Effect.addFinalizer(() =>
          Effect.flatMap(unix.pathKind(address.path), (now) =>
            now._tag === "Socket" && created._tag === "Socket" && now.ino === created.ino
              ? unix.unlink(address.path)
              : Effect.void,
          ),
        )
      }
      if (options.mode !== undefined) yield* unix.chmod(address.path, options.mode)
    }
    return bound
  })

/** @internal */
export const validateMode = (mode: number | undefined): Effect.Effect<void, InvalidArgument> =>
  mode !== undefined && !(Number.isInteger(mode) && mode >= 0 && mode <= 0o7777)
    ? Effect.fail(
        new InvalidArgument({ argument: "mode", reason: "must be permission bits in 0..0o7777", value: mode }),
      )
    : Effect.void

/** @internal */
export const connectFailed = (
  address: SocketAddress.UnixPath | SocketAddress.UnixAbstract,
  code: string,
  syscall: string | undefined,
  cause: unknown,
): ConnectFailed =>
  new ConnectFailed({ host: SocketAddress.format(address), port: -1, attempts: [{ address, code, syscall, cause }] })

/**
 * Runs `use` with a Unix stream socket the `@netfx/native` addon opened and
 * connected to `address` with its exact length (so abstract names reach
 * every other program; node:net before Node 22 pads them to 108 bytes).
 * The descriptor belongs to the Scope until `use` succeeds, which hands it
 * to the runtime; a full backlog (EAGAIN) is retried with a short, growing
 * delay. For runtime drivers.
 *
 * @internal
 */
export const connectNative = <A, E>(
  addon: NativeAddon,
  binding: NativeBinding,
  address: SocketAddress.UnixPath | SocketAddress.UnixAbstract,
  use: (fd: number) => Effect.Effect<A, E, Scope.Scope>,
): Effect.Effect<A, ConnectFailed | E, Scope.Scope> =>
  withNativeFd(
    binding,
    () => binding.socket(binding.constants.SOCK_STREAM as number),
    (code) => connectFailed(address, code, "socket", undefined),
    (fd) =>
      Effect.gen(function* () {
        const [name, abstract] = nativeName(address)
        let delay = 5
        while (true) {
          const r = binding.connect(fd, name, abstract)
          if (r >= 0) return
          const code = addon.errnoName(r)
          if (code !== "EAGAIN") return yield* Effect.fail(connectFailed(address, code, "connect", undefined))
          // the listener's backlog is full; Linux has no readiness for "room again"
          yield* Effect.sleep(delay)
          delay = Math.min(delay * 2, 100)
        }
      }),
    addon,
    use,
  )

/**
 * Runs `use` with a Unix stream socket the `@netfx/native` addon opened,
 * bound to `address` with its exact length and set listening. The
 * descriptor belongs to the Scope until `use` succeeds. For runtime drivers
 * whose own bind mangles abstract names.
 *
 * @internal
 */
export const listenNative = <A, E>(
  addon: NativeAddon,
  binding: NativeBinding,
  address: SocketAddress.UnixPath | SocketAddress.UnixAbstract,
  backlog: number,
  use: (fd: number) => Effect.Effect<A, E, Scope.Scope>,
): Effect.Effect<A, ListenFailed | E, Scope.Scope> =>
  withNativeFd(
    binding,
    () => binding.socket(binding.constants.SOCK_STREAM as number),
    (code) => new ListenFailed({ address, code, syscall: "socket" }),
    (fd) => {
      const [name, abstract] = nativeName(address)
      const bound = binding.bind(fd, name, abstract)
      if (bound < 0) return Effect.fail(new ListenFailed({ address, code: addon.errnoName(bound), syscall: "bind" }))
      const listening = binding.listen(fd, backlog)
      if (listening < 0)
        return Effect.fail(new ListenFailed({ address, code: addon.errnoName(listening), syscall: "listen" }))
      return Effect.void
    },
    addon,
    use,
  )

const nativeName = (address: SocketAddress.UnixPath | SocketAddress.UnixAbstract): readonly [string, boolean] =>
  address._tag === "UnixPath" ? [address.path, false] : [address.name, true]

const withNativeFd = <A, E, E2>(
  binding: NativeBinding,
  open: () => number,
  openFailed: (code: string) => E2,
  prepare: (fd: number) => Effect.Effect<void, E2>,
  addon: NativeAddon,
  use: (fd: number) => Effect.Effect<A, E, Scope.Scope>,
): Effect.Effect<A, E | E2, Scope.Scope> =>
  Effect.gen(function* () {
    const fd = open()
    if (fd < 0) return yield* Effect.fail(openFailed(addon.errnoName(fd)))
    let owned = true
    const release = Effect.sync(() => {
      if (owned) binding.close(fd)
      owned = false
    })
    yield* Effect.addFinalizer(() => release)
    yield* Effect.onError(prepare(fd), () => release)
    // handing over must not be cut short: either the runtime owns it or we close it
    return yield* Effect.uninterruptible(
      use(fd).pipe(
        Effect.tap(() =>
          Effect.sync(() => {
            owned = false
          }),
        ),
        Effect.onError(() => release),
      ),
    )
  })
