/**
 * The one error vocabulary of netfx. Every transport, every runtime and the
 * in-memory network fail with these classes and nothing else in their typed
 * error channels. Each error is a `Data.TaggedError` whose `_tag` equals the
 * class name, carries the facts a caller needs to act (errno code, syscall,
 * address, the original platform error as `cause`) and has a readable
 * `message`.
 *
 * Defects (the `die` channel) are reserved for bugs in netfx itself, never
 * for the network misbehaving.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import { printable } from "./internal/printable.ts"
import * as SocketAddress from "./SocketAddress.ts"

const at = (address: SocketAddress.SocketAddress | undefined): string =>
  address === undefined ? "" : ` (${SocketAddress.format(address)})`

/**
 * The peer ended the stream (it sent FIN / EOF). Buffered bytes, if any, were
 * all returned before this error; further `receive` calls fail the same way.
 *
 * @example
 * ```ts
 * import { NetError } from "@netfx/core"
 * import * as assert from "node:assert"
 *
 * assert.strictEqual(new NetError.EndOfStream().message, "end of stream")
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class EndOfStream extends Data.TaggedError("EndOfStream")<{}> {
  override get message(): string {
    return "end of stream"
  }
}

/**
 * The resource was closed locally (by `close`, or by closing its Scope) and
 * can no longer be used.
 *
 * @example
 * ```ts
 * import { NetError } from "@netfx/core"
 * import * as assert from "node:assert"
 *
 * const e = new NetError.ClosedResource({ operation: "receive" })
 * assert.strictEqual(e.message, "receive on a closed resource")
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class ClosedResource extends Data.TaggedError("ClosedResource")<{
  readonly operation: string
}> {
  override get message(): string {
    return `${this.operation} on a closed resource`
  }
}

/**
 * The connection broke: reset by the peer (`ECONNRESET`), `EPIPE`, an abrupt
 * TLS end, or any other platform failure after it was established. Keeps the
 * errno `code`, the `syscall` and the original error as `cause`.
 *
 * @example
 * ```ts
 * import { NetError } from "@netfx/core"
 * import * as assert from "node:assert"
 *
 * const e = new NetError.BrokenResource({ operation: "receive", code: "ECONNRESET" })
 * assert.strictEqual(e.code, "ECONNRESET")
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class BrokenResource extends Data.TaggedError("BrokenResource")<{
  readonly operation: string
  readonly code: string
  readonly syscall?: string | undefined
  readonly address?: SocketAddress.SocketAddress | undefined
  readonly cause?: unknown
}> {
  override get message(): string {
    return `${this.operation} failed: connection broken with ${this.code}${this.syscall ? ` in ${this.syscall}` : ""}${at(this.address)}`
  }
}

/**
 * Another fiber is already performing the same operation (`receive`, `send`
 * or `accept`) on this resource. Byte streams have one reader and one
 * writer at a time; use a queue or a `Semaphore` to share them.
 *
 * @example
 * ```ts
 * import { NetError } from "@netfx/core"
 * import * as assert from "node:assert"
 *
 * assert.strictEqual(new NetError.BusyResource({ operation: "send" })._tag, "BusyResource")
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class BusyResource extends Data.TaggedError("BusyResource")<{
  readonly operation: string
}> {
  override get message(): string {
    return `another fiber is already waiting in ${this.operation} on this resource`
  }
}

/**
 * One failed connection attempt inside a {@link ConnectFailed}.
 *
 * @example
 * ```ts
 * import { NetError, SocketAddress } from "@netfx/core"
 * import * as assert from "node:assert"
 *
 * const attempt: NetError.ConnectAttempt = { address: SocketAddress.ipv4("10.0.0.5", 80), code: "ECONNREFUSED" }
 * const e = new NetError.ConnectFailed({ host: "db.test", port: 80, attempts: [attempt] })
 * assert.strictEqual(e.message, "cannot connect to db.test:80 (10.0.0.5:80: ECONNREFUSED): nothing is listening there")
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface ConnectAttempt {
  readonly address: SocketAddress.SocketAddress
  readonly code: string
  readonly syscall?: string | undefined
  readonly cause?: unknown
}

/**
 * Every address was tried and none accepted the connection. `attempts`
 * lists each address with its errno code (`ECONNREFUSED`, `ETIMEDOUT`,
 * `EHOSTUNREACH`, ...), in the order they were tried.
 *
 * @example
 * ```ts
 * import { NetError } from "@netfx/core"
 * import * as assert from "node:assert"
 *
 * const e = new NetError.ConnectFailed({ host: "localhost", port: 1, attempts: [] })
 * assert.strictEqual(e.attempts.length, 0)
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class ConnectFailed extends Data.TaggedError("ConnectFailed")<{
  readonly host: string
  readonly port: number
  readonly attempts: ReadonlyArray<ConnectAttempt>
  /**
   * Set when the connect as a whole failed for one reason: `ETIMEDOUT`
   * when the `timeout` option passed (every attempted socket was closed).
   */
  readonly code?: string | undefined
  /** The `timeout` that passed, with `code: "ETIMEDOUT"`. */
  readonly timeout?: Duration.Duration | undefined
}> {
  override get message(): string {
    const tried = this.attempts.map((a) => `${SocketAddress.format(a.address)}: ${a.code}`).join(", ")
    const why =
      this.code === undefined
        ? ""
        : this.code === "ETIMEDOUT" && this.timeout !== undefined
          ? `: timed out after ${Duration.format(this.timeout)}`
          : `: ${this.code}`
    const hint = this.code === undefined ? connectHint(this.attempts) : undefined
    return `cannot connect to ${printable(this.host)}${this.port >= 0 ? `:${this.port}` : ""}${why}${tried ? ` (${tried})` : ""}${hint === undefined ? "" : `: ${hint}`}`
  }
}

/** What a connect failure means when every attempt failed with the same code. */
const CONNECT_HINTS: Readonly<Record<string, string>> = {
  ECONNREFUSED: "nothing is listening there",
  ENOENT: "no socket at that path: is the server running?",
  EHOSTUNREACH: "no route to the host",
  ENETUNREACH: "no route to the network",
}

const connectHint = (attempts: ReadonlyArray<ConnectAttempt>): string | undefined => {
  const code = attempts[0]?.code
  return code !== undefined && attempts.every((a) => a.code === code) ? CONNECT_HINTS[code] : undefined
}

/**
 * Name resolution failed. `code` is the resolver's code (`ENOTFOUND`,
 * `EAI_NONAME`, `EAI_AGAIN`, `EAI_FAIL`, ...), `host` the name asked for.
 *
 * @example
 * ```ts
 * import { NetError } from "@netfx/core"
 * import * as assert from "node:assert"
 *
 * const e = new NetError.ResolveFailed({ host: "x.invalid", code: "ENOTFOUND" })
 * assert.strictEqual(e.message, `cannot resolve "x.invalid": ENOTFOUND (the name does not exist)`)
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class ResolveFailed extends Data.TaggedError("ResolveFailed")<{
  readonly host: string
  readonly code: string
  readonly syscall?: string | undefined
  readonly cause?: unknown
}> {
  override get message(): string {
    const reason = resolveReason(this.code, this.cause)
    return `cannot resolve "${printable(this.host)}": ${this.code}${reason === undefined ? "" : ` (${reason})`}`
  }
}

const RESOLVE_REASONS: Readonly<Record<string, string>> = {
  ENOTFOUND: "the name does not exist",
  EAI_NONAME: "the name does not exist",
  EAI_AGAIN: "temporary failure in name resolution; try again",
  EAI_FAIL: "the resolver failed permanently",
  ENODATA: "the name has no address of the requested family",
  EAI_NODATA: "the name has no address of the requested family",
  EAI_ADDRFAMILY: "the name has no address of the requested family",
  EAI_FAMILY: "the address family is not supported",
  EAI_SERVICE: "the port is not valid for this socket type",
  EAI_MEMORY: "the resolver ran out of memory",
  ETIMEOUT: "the name server did not answer in time",
  ETIMEDOUT: "the name server did not answer in time",
  ESERVFAIL: "the name server failed",
  EREFUSED: "the name server refused the query",
  ECONNREFUSED: "the name server refused the connection",
}

/** Why a resolution failed, in words: the cause's own words where it has them, else the code's meaning. */
const resolveReason = (code: string, cause: unknown): string | undefined => {
  if (typeof cause === "string" && cause !== "") return printable(cause)
  const known = RESOLVE_REASONS[code]
  if (known !== undefined) return known
  const text = cause instanceof Error ? cause.message : undefined
  return text === undefined || text === "" ? undefined : printable(text)
}

/**
 * Binding or listening failed: `EADDRINUSE`, `EACCES`, `EADDRNOTAVAIL`, or a
 * path problem for Unix sockets (`ENOENT`, `ENOTSOCK`, `EISDIR`, ...).
 *
 * @example
 * ```ts
 * import { NetError } from "@netfx/core"
 * import * as assert from "node:assert"
 *
 * import { SocketAddress } from "@netfx/core"
 * const e = new NetError.ListenFailed({ address: SocketAddress.ipv4("0.0.0.0", 80), code: "EACCES" })
 * assert.strictEqual(e.code, "EACCES")
 * assert.strictEqual(
 *   e.message,
 *   "cannot listen on 0.0.0.0:80: EACCES (ports below 1024 need root or CAP_NET_BIND_SERVICE)",
 * )
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class ListenFailed extends Data.TaggedError("ListenFailed")<{
  readonly address: SocketAddress.SocketAddress
  readonly code: string
  readonly syscall?: string | undefined
  readonly cause?: unknown
}> {
  override get message(): string {
    const hint = listenHint(this.address, this.code)
    return `cannot listen on ${SocketAddress.format(this.address)}: ${this.code}${hint === undefined ? "" : ` (${hint})`}`
  }
}

/** What a listen failure means, where its code tells. */
const listenHint = (address: SocketAddress.SocketAddress, code: string): string | undefined => {
  const ip = SocketAddress.isIp(address)
  switch (code) {
    case "EADDRINUSE":
      return ip
        ? "another socket is bound to that port: pick another, or port 0 for any free one"
        : "another socket is bound to that path or name"
    case "EACCES":
      return ip && address.port > 0 && address.port < 1024
        ? "ports below 1024 need root or CAP_NET_BIND_SERVICE"
        : "permission denied"
    case "EADDRNOTAVAIL":
      return ip
        ? "the address is not one of this machine's: listen on 127.0.0.1, 0.0.0.0 or an interface's address"
        : undefined
    default:
      return undefined
  }
}

/** Codes of a certificate chain that does not lead to a trusted CA. */
const UNTRUSTED = new Set([
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
])

/** Codes of a peer whose bytes are not TLS records (a plaintext server, an HTTP request). */
const NOT_TLS = new Set([
  "ERR_SSL_WRONG_VERSION_NUMBER",
  "ERR_SSL_PACKET_LENGTH_TOO_LONG",
  "ERR_SSL_HTTP_REQUEST",
  "ERR_SSL_HTTPS_PROXY_REQUEST",
  "ERR_SSL_UNKNOWN_PROTOCOL",
])

/**
 * What a user can do about a TLS failure, when its code says what caused
 * it (`TlsFailed.hint`).
 */
const tlsHint = (code: string): string | undefined =>
  UNTRUSTED.has(code)
    ? "the peer's certificate does not chain to a trusted CA: pass that CA (PEM) in tls.ca"
    : NOT_TLS.has(code)
      ? "the peer did not answer with TLS records: is the peer speaking TLS (right port, STARTTLS step done)?"
      : code === "ERR_TLS_CERT_ALTNAME_INVALID"
        ? "the name checked is not in the certificate: connect by a name it lists or set tls.serverName"
        : undefined

/**
 * A TLS handshake or certificate verification failed. `code` is the
 * platform's reason code (`DEPTH_ZERO_SELF_SIGNED_CERT`,
 * `ERR_TLS_CERT_ALTNAME_INVALID`, `ERR_SSL_WRONG_VERSION_NUMBER`,
 * `CERT_HAS_EXPIRED`, ...), `reason` the short text (`"wrong version
 * number"`, not OpenSSL's full error line), and `hint`, where the code says
 * what caused the failure, what to do about it (an untrusted certificate:
 * pass the CA in `tls.ca`; a peer that is not speaking TLS). The `message`
 * includes the hint.
 *
 * @example
 * ```ts
 * import { NetError } from "@netfx/core"
 * import * as assert from "node:assert"
 *
 * const e = new NetError.TlsFailed({ code: "CERT_HAS_EXPIRED", reason: "certificate has expired" })
 * assert.strictEqual(e.code, "CERT_HAS_EXPIRED")
 * const plain = new NetError.TlsFailed({ code: "ERR_SSL_WRONG_VERSION_NUMBER", reason: "wrong version number" })
 * assert.ok(plain.hint?.includes("is the peer speaking TLS"))
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class TlsFailed extends Data.TaggedError("TlsFailed")<{
  readonly code: string
  readonly reason: string
  readonly address?: SocketAddress.SocketAddress | undefined
  readonly cause?: unknown
}> {
  /** What to do about the failure, when its code tells the cause. */
  get hint(): string | undefined {
    return tlsHint(this.code)
  }
  override get message(): string {
    const hint = this.hint
    return `TLS failed${at(this.address)}: ${this.code}: ${this.reason}${hint === undefined ? "" : ` (${hint})`}`
  }
}

/**
 * The stream ended before the wanted bytes arrived. `partial` holds what was
 * read; for buffered streams those bytes also stay buffered, so nothing is
 * lost. `expected` is the wanted count when one was asked for.
 *
 * @example
 * ```ts
 * import { NetError } from "@netfx/core"
 * import * as assert from "node:assert"
 *
 * const e = new NetError.IncompleteRead({ partial: new Uint8Array(2), expected: 4 })
 * assert.strictEqual(e.partial.length, 2)
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class IncompleteRead extends Data.TaggedError("IncompleteRead")<{
  readonly partial: Uint8Array
  readonly expected?: number | undefined
}> {
  override get message(): string {
    return `stream ended after ${this.partial.length} bytes${this.expected === undefined ? "" : ` of ${this.expected} expected`}`
  }
}

/**
 * A delimiter was not found within the allowed number of bytes. The data
 * stays buffered and can still be read. `operation` names the read
 * (`receiveLine`, `receiveUntil`, `readuntil`, ...) and `delimiter` the
 * bytes searched for.
 *
 * @example
 * ```ts
 * import { NetError } from "@netfx/core"
 * import * as assert from "node:assert"
 *
 * const e = new NetError.LimitExceeded({
 *   limit: 8,
 *   buffered: 9,
 *   operation: "receiveLine",
 *   delimiter: new TextEncoder().encode("\r\n"),
 * })
 * assert.strictEqual(e.message, `receiveLine: delimiter "\\r\\n" not found within 8 bytes (9 buffered)`)
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class LimitExceeded extends Data.TaggedError("LimitExceeded")<{
  readonly limit: number
  readonly buffered: number
  readonly operation?: string | undefined
  readonly delimiter?: Uint8Array | undefined
}> {
  override get message(): string {
    const what = this.delimiter === undefined ? "delimiter" : `delimiter "${showBytes(this.delimiter)}"`
    const op = this.operation === undefined ? "" : `${this.operation}: `
    return `${op}${what} not found within ${this.limit} bytes (${this.buffered} buffered)`
  }
}

const SHORT_ESCAPES: Readonly<Record<number, string>> = {
  0: "\\0",
  9: "\\t",
  10: "\\n",
  13: "\\r",
  34: '\\"',
  92: "\\\\",
}

/** Bytes for a message: printable ASCII as it is, everything else as `\xNN`. */
const showBytes = (bytes: Uint8Array): string => {
  let out = ""
  for (const b of bytes.length > 64 ? bytes.subarray(0, 64) : bytes) {
    out +=
      b >= 0x20 && b < 0x7f && b !== 0x5c && b !== 0x22
        ? String.fromCharCode(b)
        : (SHORT_ESCAPES[b] ?? `\\x${b.toString(16).padStart(2, "0")}`)
  }
  return bytes.length > 64 ? `${out}...` : out
}

/**
 * This runtime cannot do what was asked: `feature` says what, `runtime`
 * where, and `reason` why and how to enable it.
 *
 * @example
 * ```ts
 * import { NetError } from "@netfx/core"
 * import * as assert from "node:assert"
 *
 * const e = new NetError.Unsupported({ feature: "fd passing", runtime: "memory", reason: "no descriptors" })
 * assert.ok(e.message.startsWith("fd passing"))
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class Unsupported extends Data.TaggedError("Unsupported")<{
  readonly feature: string
  readonly runtime: string
  readonly reason: string
}> {
  override get message(): string {
    return `${this.feature} is not supported on ${this.runtime}: ${this.reason}`
  }
}

/**
 * A caller passed a value that cannot work (a port outside 0..65535,
 * `maxBytes` < 1, an empty fd list, ...). Nothing was done and no buffered
 * data was touched.
 *
 * @example
 * ```ts
 * import { NetError } from "@netfx/core"
 * import * as assert from "node:assert"
 *
 * import { Tcp } from "@netfx/core"
 * // Tcp.connect({ host: "localhost", port: 70000 }) fails with InvalidArgument { argument: "port" }
 * assert.strictEqual(new NetError.InvalidArgument({ argument: "port", reason: "out of range" })._tag, "InvalidArgument")
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidArgument extends Data.TaggedError("InvalidArgument")<{
  readonly argument: string
  readonly reason: string
  readonly value?: unknown
}> {
  override get message(): string {
    return `invalid ${this.argument}: ${this.reason}`
  }
}

/**
 * One operation failed and the resource stays usable: a datagram too large
 * for the socket (`EMSGSIZE`), no route (`ENETUNREACH`, `EHOSTUNREACH`),
 * broadcast without permission (`EACCES`), an ICMP error reported on a
 * connected datagram socket (`ECONNREFUSED`), or a socket option the kernel
 * refused (`EADDRNOTAVAIL` joining a multicast group, ...). Unlike
 * {@link BrokenResource}, the next operation may well succeed.
 *
 * @example
 * ```ts
 * import { NetError } from "@netfx/core"
 * import * as assert from "node:assert"
 *
 * const e = new NetError.OperationFailed({ operation: "sendTo", code: "EMSGSIZE" })
 * assert.ok(e.message.startsWith("sendTo failed with EMSGSIZE: the datagram is larger than the socket can send"))
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class OperationFailed extends Data.TaggedError("OperationFailed")<{
  readonly operation: string
  readonly code: string
  readonly syscall?: string | undefined
  readonly address?: SocketAddress.SocketAddress | undefined
  readonly cause?: unknown
}> {
  override get message(): string {
    const hint = operationHint(this.code)
    return `${this.operation} failed with ${this.code}${this.syscall ? ` in ${this.syscall}` : ""}${at(this.address)}${hint === undefined ? "" : `: ${hint}`}`
  }
}

/** What an `OperationFailed` code means, where the code alone says it (mostly datagram sends and receives). */
const operationHint = (code: string): string | undefined => {
  switch (code) {
    case "EMSGSIZE":
      return "the datagram is larger than the socket can send (UDP: at most 65,507 bytes over IPv4, 65,527 over IPv6)"
    case "ECONNREFUSED":
      return "nothing listens at the destination (on a connected datagram socket: an ICMP port unreachable answered an earlier datagram)"
    case "ENETUNREACH":
    case "EHOSTUNREACH":
      return "no route to that address"
    default:
      return undefined
  }
}

/**
 * The errors of receiving from a byte stream.
 *
 * @example
 * ```ts
 * import { NetError } from "@netfx/core"
 * import * as assert from "node:assert"
 *
 * const e: NetError.ReceiveError = new NetError.EndOfStream()
 * assert.strictEqual(e._tag, "EndOfStream")
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type ReceiveError = EndOfStream | ClosedResource | BrokenResource | BusyResource | InvalidArgument

/**
 * The errors of sending on a byte stream. `InvalidArgument` only for data
 * that is no bytes, which the types already forbid (a string or `null` from
 * JavaScript): nothing is sent then.
 *
 * @example
 * ```ts
 * import { NetError } from "@netfx/core"
 * import * as assert from "node:assert"
 *
 * const e: NetError.SendError = new NetError.ClosedResource({ operation: "send" })
 * assert.strictEqual(e.message, "send on a closed resource")
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type SendError = ClosedResource | BrokenResource | BusyResource | InvalidArgument

/**
 * Every error netfx can produce.
 *
 * @example
 * ```ts
 * import { NetError } from "@netfx/core"
 * import * as assert from "node:assert"
 *
 * const retryable = (e: NetError.NetError) => e._tag === "ConnectFailed" || e._tag === "BrokenResource"
 * assert.strictEqual(retryable(new NetError.EndOfStream()), false)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type NetError =
  | EndOfStream
  | ClosedResource
  | BrokenResource
  | BusyResource
  | ConnectFailed
  | ResolveFailed
  | ListenFailed
  | TlsFailed
  | IncompleteRead
  | LimitExceeded
  | Unsupported
  | InvalidArgument
  | OperationFailed

/**
 * Reads the errno-style facts from a platform error (Node's `code`,
 * `syscall`), falling back to `"EUNKNOWN"`.
 *
 * @example
 * ```ts
 * import { NetError } from "@netfx/core"
 * import * as assert from "node:assert"
 *
 * const err = Object.assign(new Error("boom"), { code: "EPIPE", syscall: "write" })
 * assert.deepStrictEqual(NetError.errnoOf(err), { code: "EPIPE", syscall: "write" })
 * ```
 *
 * @since 0.1.0
 * @category utils
 */
export const errnoOf = (error: unknown): { readonly code: string; readonly syscall?: string | undefined } => {
  if (typeof error === "object" && error !== null) {
    const e = error as { code?: unknown; syscall?: unknown; errno?: unknown }
    const code = typeof e.code === "string" ? e.code : typeof e.errno === "string" ? e.errno : "EUNKNOWN"
    return { code, syscall: typeof e.syscall === "string" ? e.syscall : undefined }
  }
  return { code: "EUNKNOWN" }
}

/**
 * The short reason of a TLS failure from a platform error: Node's and
 * Bun's `reason` (`"wrong version number"`; BoringSSL's
 * `WRONG_VERSION_NUMBER` spelled the same way), else the message with
 * OpenSSL's error-line framing (queue id, library, function, source file
 * and line) removed, else `fallback`.
 *
 * @example
 * ```ts
 * import { NetError } from "@netfx/core"
 * import * as assert from "node:assert"
 *
 * const err = Object.assign(new Error("80:error:0A00010B:SSL routines:ssl3_get_record:wrong version number:ssl/record/ssl3_record.c:350:\n"), {
 *   code: "ERR_SSL_WRONG_VERSION_NUMBER",
 * })
 * assert.strictEqual(NetError.tlsReasonOf(err, "handshake failed"), "wrong version number")
 * ```
 *
 * @since 0.1.0
 * @category utils
 */
export const tlsReasonOf = (error: unknown, fallback: string): string => {
  const ssl = sslReasonOf(error)
  if (ssl !== undefined) return ssl
  const message = typeof error === "object" && error !== null ? (error as { message?: unknown }).message : undefined
  return typeof message === "string" && message.trim().length > 0 ? message.trim() : fallback
}

/** The reason an SSL library named (its `reason` field or its error-line framing), in lower case words. */
const sslReasonOf = (error: unknown): string | undefined => {
  if (typeof error !== "object" || error === null) return undefined
  const { reason, message } = error as { reason?: unknown; message?: unknown }
  const words = (r: string) => r.toLowerCase().replaceAll("_", " ")
  if (typeof reason === "string" && reason.length > 0) return /^[A-Z0-9_]+$/.test(reason) ? words(reason) : reason
  if (typeof message !== "string") return undefined
  // OpenSSL 3: "<id>:error:<code>:<library>:<function>:<reason>:<file>:<line>:"
  const openssl = /^[0-9A-Fa-f]*:error:[0-9A-Fa-f]+:[^:]*:[^:]*:([^:]+)(?::[^:]*:\d+:?)?\s*$/.exec(message)
  if (openssl?.[1] !== undefined) return openssl[1]
  // BoringSSL: "error:<code>:<library>:OPENSSL_internal:<REASON>"
  const boring = /^error:[0-9A-Fa-f]+:[^:]*:[^:]*:([A-Z0-9_]+)\s*$/.exec(message)
  return boring?.[1] === undefined ? undefined : words(boring[1])
}

/**
 * The code of a TLS failure from a platform error: its `code`, except that
 * a generic `EPROTO` (how Bun reports BoringSSL failures) becomes Node's
 * spelling `ERR_SSL_<REASON>` when the error names the SSL reason, so a
 * plaintext peer is `ERR_SSL_WRONG_VERSION_NUMBER` on every runtime.
 *
 * @example
 * ```ts
 * import { NetError } from "@netfx/core"
 * import * as assert from "node:assert"
 *
 * const bun = Object.assign(new Error("error:100000f7:SSL routines:OPENSSL_internal:WRONG_VERSION_NUMBER"), {
 *   code: "EPROTO",
 *   reason: "WRONG_VERSION_NUMBER",
 * })
 * assert.strictEqual(NetError.tlsCodeOf(bun), "ERR_SSL_WRONG_VERSION_NUMBER")
 * ```
 *
 * @since 0.1.0
 * @category utils
 */
export const tlsCodeOf = (error: unknown): string => {
  const { code } = errnoOf(error)
  if (code !== "EPROTO" && code !== "EUNKNOWN") return code
  const reason = sslReasonOf(error)
  return reason !== undefined && /^[a-z0-9 ]+$/.test(reason)
    ? `ERR_SSL_${reason.toUpperCase().replaceAll(" ", "_")}`
    : code
}
