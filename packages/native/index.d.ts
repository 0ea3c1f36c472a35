/**
 * @netfx/native: the compiled Node-API addon and its loader. netfx's
 * platform packages pass this module to `NativeDriver.make` from
 * `@netfx/core`; users do not call it directly.
 *
 * Every socket call returns a number >= 0 on success or -errno on failure.
 */

/** A Unix socket address as the addon reports it ("" = unnamed). */
export interface NativeAddress {
  readonly path: string
  readonly abstract: boolean
}

/** An address of any family: IPv4 (4), IPv6 (6), Unix (1). */
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

/** The raw addon functions. */
export interface NativeBinding {
  /** A Unix socket; `nonblock` defaults to true (every call uses MSG_DONTWAIT either way). */
  socket(type: number, nonblock?: boolean): number
  socketpair(type: number): ReadonlyArray<number> | number
  /** An IP socket (`family` 4 or 6), non-blocking: for options that must be set before bind. */
  socketIp(family: number, type: number): number
  /** Binds an IP socket to a numeric host (IPv6 may carry `%zone`; `scopeId` for link-local). */
  bindIp(fd: number, host: string, port: number, scopeId?: number): number
  /** Any family (4, 6, 1 = Unix), non-blocking: the low-level socket layer. */
  socketAny(family: number, type: number): number
  bindAny(fd: number, address: AnyAddress): number
  connectAny(fd: number, address: AnyAddress): number
  getsocknameAny(fd: number): AnyAddress | number
  getpeernameAny(fd: number): AnyAddress | number
  sendtoAny(fd: number, data: Uint8Array, address: AnyAddress | null): number
  recvfromAny(
    fd: number,
    maxBytes: number,
    peek?: boolean,
  ): { readonly data: Uint8Array; readonly address: AnyAddress | null; readonly truncated: boolean } | number
  /** poll(POLLIN, 0): 1 readable, 0 not, -errno. */
  pollReadable(fd: number): number
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
  /** `datas[start .. start + count)` (at most 1024) in one sendmmsg to `name` (null: connected): how many went, or -errno. */
  sendmmsg(
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
  /** `[errno (0 = ok), value]`. */
  getsockopt(fd: number, level: number, name: number): readonly [number, number]
  shutdown(fd: number, how: number): number
  close(fd: number): number
  dup(fd: number): number
  setNonBlocking(fd: number, on: boolean): number
  /** Blocking sendto on a worker thread (see the C source); `callback` gets bytes or -errno. */
  sendtoWait(fd: number, data: Uint8Array, name: string, abstract: boolean, callback: (result: number) => void): number
  /** SO_SNDTIMEO / SO_RCVTIMEO in milliseconds. */
  setTimeout(fd: number, name: number, millis: number): number
  /**
   * Node only (-ENOSYS under Bun): batched UDP receive on a duplicate of
   * `fd` (recvmmsg, up to 64 per callback). `meta[i]` is datagram i's
   * length in `data`, `meta[64 + i]` the entry (host, port, family) in
   * `senders` of a sender that differs from the previous datagram's, else
   * -1. A receive error: `data` null, `error` -errno. See the C source.
   */
  udpRecvStart(
    fd: number,
    callback: (
      data: Uint8Array | null,
      count: number,
      senders: ReadonlyArray<string | number> | undefined,
      error: number,
    ) => void,
    meta: Int32Array,
  ): object | number
  /** Stops a `udpRecvStart` watcher and closes its duplicate; no callback after it. */
  udpRecvStop(handle: object): number
  readonly constants: Readonly<Record<string, number>>
}

/** One-shot readiness on a descriptor. */
export interface NativeWatch {
  /** Asks for one `onEvent` call when any of `events` (1 read, 2 write) is ready; 0 disarms. */
  arm(events: number): number
  /** Stops watching; call before closing the descriptor. Idempotent. */
  close(): void
}

/** The addon, or why it is missing. */
export declare const binding: NativeBinding | undefined
/** What was tried and why each failed, when `binding` is undefined. */
export declare const loadError: string | undefined
/**
 * One sentence on how to get the addon on this platform; in a worker thread
 * that does not own the addon's readiness (another thread loaded it first),
 * why `watch` is undefined there.
 */
export declare const fix: string
/** This process's target, e.g. "linux-x64-glibc"; undefined off Linux or when the C library is unknown. */
export declare const target: string | undefined
/** The targets shipped prebuilt in `prebuilds/`. */
export declare const prebuilt: ReadonlyArray<string>
/** The file the binding was loaded from. */
export declare const loadedFrom: string | undefined
export declare const runtime: "node" | "bun"
export declare const readiness: string
export declare const errnoName: (n: number) => string
/**
 * One-shot readiness on a descriptor; undefined without the addon, and in a
 * worker thread when another thread loaded the addon first (its readiness
 * belongs to that thread's event loop).
 */
export declare const watch: ((fd: number, onEvent: (events: number) => void) => NativeWatch | number) | undefined
