/**
 * TLS over netfx byte streams: the option models of `Tcp.connect({ tls })`
 * and `Tcp.listen({ tls })`, the facts of an established session
 * ({@link TlsInfo}, read with {@link info}) and STARTTLS ({@link wrap}). The
 * `TlsDriver` contract a runtime implements is in the driver tier
 * (`@netfx/core/Driver`).
 *
 * ## Semantics shared by every runtime
 *
 * - **Verification** is on by default: the peer certificate must chain to a
 *   trusted CA (the system store, or `ca` when given) and match the host
 *   name (`serverName`, default the host passed to `Tcp.connect`).
 * - **Errors**: a failed handshake or verification is `TlsFailed` with the
 *   platform's reason code (`DEPTH_ZERO_SELF_SIGNED_CERT`,
 *   `ERR_TLS_CERT_ALTNAME_INVALID`, `CERT_HAS_EXPIRED`,
 *   `UNABLE_TO_VERIFY_LEAF_SIGNATURE`, `ERR_SSL_...`) and the peer address.
 * - **close_notify** (`standardCompatible`, default `true`): a peer that
 *   closes the TCP connection without sending TLS close_notify makes
 *   `receive` fail with `BrokenResource` (code
 *   `ERR_SSL_UNEXPECTED_EOF_WHILE_READING`), because a truncation attack
 *   looks exactly like that. With `standardCompatible: false` (for peers
 *   such as many HTTP servers that never send close_notify) it reads as
 *   `EndOfStream`. A proper close_notify always reads as `EndOfStream`.
 * - **sendEof** sends close_notify and then half-closes TCP. In TLS 1.3
 *   (RFC 8446 §6.1) close_notify closes only the sender's direction, so the
 *   peer may keep sending and `receive` keeps working: a real half close.
 *   In TLS 1.2 (RFC 5246 §7.2.1) a peer that receives close_notify is
 *   expected to answer with its own close_notify and stop; OpenSSL-based
 *   peers (Node, Python, netfx itself) nevertheless keep the other
 *   direction open, but a strict 1.2 peer may discard what it still meant
 *   to send. netfx does not emulate anything: after `sendEof` it reads
 *   whatever the peer still sends, on either version.
 *
 * @since 0.1.0
 */
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Attribute from "./Attribute.ts"
import { SocketStreamImpl } from "./internal/socketStream.ts"
import { clientHandshake, driver, pemFailed, pemInvalid, validateSniKeys } from "./internal/tls.ts"
import { InvalidArgument, type TlsFailed, type Unsupported } from "./NetError.ts"
import type * as Network from "./Network.ts"
import * as SocketAddress from "./SocketAddress.ts"
import * as SocketStream from "./SocketStream.ts"

/**
 * PEM text of certificates, keys or CA bundles, as a string or its bytes
 * (DER is not accepted). Several PEM blocks may be concatenated in one
 * string. Pass the contents of a file, not its path: a value without a
 * `-----BEGIN` line fails what uses it before any socket is opened, a
 * listen (or server-side wrap) with `InvalidArgument` (`argument`
 * `tls.cert`, `tls.key`, `tls.ca`), a connect (or client-side wrap) with
 * `TlsFailed` code `ERR_OSSL_PEM_NO_START_LINE`, as unparseable client
 * credentials always have; the message names the option and, for a path,
 * says so.
 *
 * @example
 * ```ts
 * import type { Tls } from "@netfx/core"
 * import { readFileSync } from "node:fs"
 *
 * const ca: Tls.Pem = readFileSync("ca.pem", "utf8")
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Pem = string | Uint8Array

/**
 * A certificate chain and its private key.
 *
 * @example
 * ```ts
 * import type { Tls } from "@netfx/core"
 *
 * const credentials: Tls.TlsCredentials = { cert: "-----BEGIN CERTIFICATE-----...", key: "-----BEGIN PRIVATE KEY-----..." }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface TlsCredentials {
  /** The certificate (chain), leaf first. */
  readonly cert: Pem | ReadonlyArray<Pem>
  /** The private key. */
  readonly key: Pem
  /** Passphrase of an encrypted `key`. */
  readonly passphrase?: string
}

/**
 * A TLS protocol version.
 *
 * @example
 * ```ts
 * import type { Tls } from "@netfx/core"
 *
 * const modern: Tls.TlsClientOptions = { minVersion: "TLSv1.3" satisfies Tls.TlsVersion }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type TlsVersion = "TLSv1.2" | "TLSv1.3"

/**
 * Client options: `Tcp.connect({ tls })` and `Tls.wrap(stream, { side: "client" })`.
 *
 * **Errors** (of the connect or wrap that uses them): `TlsFailed` with the
 * platform's code when the handshake or verification fails, and before
 * connecting when `ca`, `cert` or `key` is not PEM (see {@link Pem}).
 *
 * @example
 * ```ts
 * import { Tcp } from "@netfx/core"
 *
 * // mutual TLS against a private CA, offering HTTP/2 then HTTP/1.1
 * const conn = Tcp.connect({
 *   host: "api.internal.example",
 *   port: 8443,
 *   tls: { ca: "<ca pem>", cert: "<client cert pem>", key: "<client key pem>", alpnProtocols: ["h2", "http/1.1"] },
 * })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface TlsClientOptions {
  /** Trusted CA certificates; replaces the system store when given. */
  readonly ca?: Pem | ReadonlyArray<Pem>
  /** A client certificate for mutual TLS (with `key`). */
  readonly cert?: Pem | ReadonlyArray<Pem>
  readonly key?: Pem
  readonly passphrase?: string
  /**
   * SNI and the name the certificate must match. Defaults to the host
   * given to `Tcp.connect`. Non-ASCII names are sent in their ASCII (IDNA)
   * form. No SNI is sent for numeric addresses (RFC 6066), but the
   * certificate is still checked against the address.
   */
  readonly serverName?: string
  /** ALPN protocols offered, in preference order (e.g. `["h2", "http/1.1"]`). */
  readonly alpnProtocols?: ReadonlyArray<string>
  /** Lowest acceptable version (default: the runtime's, TLS 1.2 on Node). */
  readonly minVersion?: TlsVersion
  /** Highest acceptable version (default: the runtime's, TLS 1.3). */
  readonly maxVersion?: TlsVersion
  /** Verify the server certificate and name; default `true`. */
  readonly rejectUnauthorized?: boolean
  /** See the module notes on close_notify; default `true`. */
  readonly standardCompatible?: boolean
  /**
   * Time limit for the handshake (after the TCP connection is up); when it
   * passes the connection is closed and the connect or `wrap` fails with
   * `TlsFailed` code `ETIMEDOUT`. Default: none (bound the whole connect
   * with `Tcp.connect`'s `timeout`).
   */
  readonly handshakeTimeout?: Duration.DurationInput
}

/**
 * Server options: `Tcp.listen({ tls })` and `Tls.wrap(stream, { side: "server" })`.
 *
 * **Resource** / **Errors**: a listener with these options hands out only
 * connections whose handshake succeeded; a failed or timed-out handshake
 * (`TlsFailed`, `ETIMEDOUT`) is logged with the peer and the connection
 * closed, never reported to `accept`/`serve`: at Warning, except a peer
 * that closed or reset the connection before the handshake completed
 * (codes `ECONNRESET`, `EPIPE`, `ECONNABORTED`: a TCP health check, a
 * port scan, a client that gave up), logged at Debug. `Tcp.listen` fails with
 * `InvalidArgument` when `cert`, `key` or `ca` is not PEM (see {@link Pem}).
 *
 * @example
 * ```ts
 * import { Tcp } from "@netfx/core"
 *
 * const listener = Tcp.listen({
 *   port: 8443,
 *   tls: { cert: "<cert pem>", key: "<key pem>", requestCert: true, ca: "<client CA pem>", alpnProtocols: ["h2"] },
 * })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface TlsServerOptions extends TlsCredentials {
  /** Ask clients for a certificate (mutual TLS). Default `false`. */
  readonly requestCert?: boolean
  /**
   * With `requestCert`: refuse clients without a certificate trusted by
   * `ca`. Default `true`. With `false` the handshake succeeds and the
   * handler can inspect `Tls.info(stream)` itself.
   */
  readonly rejectUnauthorized?: boolean
  /** CAs trusted for client certificates. */
  readonly ca?: Pem | ReadonlyArray<Pem>
  /** ALPN protocols supported, in preference order. */
  readonly alpnProtocols?: ReadonlyArray<string>
  /**
   * Per-server-name credentials (SNI). `*.example.com` matches one label.
   * Keys may be written in Unicode: they are normalised like the resolver
   * normalises names (IDNA 2008, UTS #46 non-transitional, lower case,
   * without a trailing dot), so `"bücher.example"` matches the
   * `xn--bcher-kva.example` a client sends. A key that is not a valid host
   * name (or a wildcard anywhere but a leading `*.`) is an
   * `InvalidArgument` at listen time (and from a server-side {@link wrap}).
   */
  readonly sniContexts?: Readonly<Record<string, TlsCredentials>>
  /** Chooses credentials by SNI name; `undefined` falls back to `sniContexts`, then the default. */
  readonly sniCallback?: (serverName: string) => TlsCredentials | undefined
  /**
   * Listeners: how long a connection may take to complete its handshake
   * before it is closed (and logged with code `ETIMEDOUT`), as a duration
   * (`"10 seconds"`; a number is milliseconds). Default 10 seconds. Why 10 s: a real handshake takes one or two round
   * trips plus certificate checks, well under a second even across a
   * continent, and 10 s still covers a client on a poor mobile or satellite
   * link that loses its first flights (TCP retransmits after 1, 2 and 4 s);
   * every second longer is a second an idle connection holds a slot.
   * Others choose: Node's `tls.Server` 120 s, nginx's
   * `ssl_handshake_timeout` and Python's asyncio 60 s, ASP.NET Kestrel
   * 10 s; Go's `crypto/tls` has none of its own (`http.Server` bounds it
   * only through `ReadTimeout`/`ReadHeaderTimeout`, off by default). Not
   * used by {@link wrap}: bound a STARTTLS handshake with `Effect.timeout`.
   *
   * **Errors**: `InvalidArgument` at listen time unless a positive duration.
   */
  readonly handshakeTimeout?: Duration.DurationInput
  /**
   * Listeners: the most TLS handshakes in progress at once, per bound
   * address (default 1024). A connection that arrives when all are taken
   * closes the **oldest** handshake in progress (logged at Warning level,
   * at most once per 10 s, with the number closed) and starts its own:
   * healthy clients finish within a round trip or two, so the oldest
   * pending handshakes are idle connections that never sent a
   * ClientHello, and a flood of them cannot shut healthy clients out (an
   * attacker would have to open `maxHandshakes` connections within one
   * healthy client's handshake to displace it). A burst of more
   * legitimate handshakes than this at once (a fleet reconnecting) also
   * closes the oldest of them: raise the cap for such servers.
   *
   * What a slot costs: a descriptor and the runtime's TLS state for a
   * handshake not yet started, measured with 1000 idle peers at about
   * 10 KiB on Node 20 and 42 KiB of resident memory on Bun 1.4.5 per
   * pending handshake (and 0.5–1 ms of CPU to set up), so the default
   * bounds a flood to roughly 10 MiB (Node) or 42 MiB (Bun) per listening
   * address. Independent of `backlog`, which bounds connections waiting in
   * the kernel and those that finished their handshake but nobody accepted
   * yet. Not used by {@link wrap}.
   *
   * **Errors**: `InvalidArgument` at listen time unless an integer >= 1.
   */
  readonly maxHandshakes?: number
  readonly minVersion?: TlsVersion
  readonly maxVersion?: TlsVersion
  /** See the module notes on close_notify; default `true`. */
  readonly standardCompatible?: boolean
}

/**
 * A parsed peer certificate.
 *
 * @example
 * ```ts
 * import { Tls, type SocketStream } from "@netfx/core"
 * import { Option } from "effect"
 *
 * const peerName = (conn: SocketStream.SocketStream) =>
 *   Tls.info(conn).pipe(Option.flatMap((i) => i.peerCertificate), Option.map((c) => c.subject.CN))
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface PeerCertificate {
  /** Subject fields (`CN`, `O`, ...). Repeated fields are joined with `, `. */
  readonly subject: Readonly<Record<string, string>>
  readonly issuer: Readonly<Record<string, string>>
  /** Subject alternative names as `DNS:name` / `IP Address:addr` entries. */
  readonly subjectAltNames: ReadonlyArray<string>
  readonly validFrom: Date
  readonly validTo: Date
  /** Hex serial number. */
  readonly serialNumber: string
  /** SHA-256 fingerprint, colon-separated hex. */
  readonly fingerprint256: string
  /** The DER encoding. */
  readonly der: Uint8Array
}

/**
 * Facts of an established TLS session: `stream.attribute(Tls.Info)`, or
 * one fact at a time with `Tls.AlpnProtocol`, `Tls.PeerCertificate`, ...
 *
 * @example
 * ```ts
 * import { Tls, type SocketStream } from "@netfx/core"
 * import { Option } from "effect"
 *
 * const version = (conn: SocketStream.SocketStream) => Option.map(Tls.info(conn), (i) => i.version)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface TlsInfo {
  /** The negotiated ALPN protocol, if any. */
  readonly alpnProtocol: Option.Option<string>
  /** The cipher suite (OpenSSL name and IANA name). */
  readonly cipher: { readonly name: string; readonly standardName: string }
  /** `"TLSv1.2"`, `"TLSv1.3"`, ... */
  readonly version: string
  /** The peer's certificate (on a server: the client's, if it sent one). */
  readonly peerCertificate: Option.Option<PeerCertificate>
  /** Whether the peer's certificate was verified. */
  readonly authorized: boolean
  /** `true` on the accepting side. */
  readonly serverSide: boolean
  /** The SNI name (sent by a client / received by a server). */
  readonly serverName: Option.Option<string>
}

/**
 * Reads the TLS facts of a stream: `None` for a stream without TLS. The
 * same as `stream.attribute(Tls.Info)`.
 *
 * **Resource**: none. **Errors**: none.
 * **Interruption**: not applicable (synchronous).
 *
 * @example
 * ```ts
 * import { Tls, Tcp } from "@netfx/core"
 * import { Effect, Option } from "effect"
 *
 * const alpn = Effect.gen(function* () {
 *   const conn = yield* Tcp.connect({ host: "example.com", port: 443, tls: { alpnProtocols: ["h2"] } })
 *   return Tls.info(conn).pipe(Option.flatMap((i) => i.alpnProtocol))
 * })
 * ```
 *
 * @since 0.1.0
 * @category accessors
 */
export const info = (stream: Attribute.HasAttributes): Option.Option<TlsInfo> => stream.attribute(Info)

const tlsOf = (facts: Attribute.Facts): TlsInfo | undefined => {
  const tls = facts.extra.tls
  return typeof tls === "object" && tls !== null && "serverSide" in tls ? (tls as TlsInfo) : undefined
}

/**
 * Every TLS fact of the session at once; `None` without TLS.
 *
 * @example
 * ```ts
 * import { Tls, type SocketStream } from "@netfx/core"
 *
 * const session = (conn: SocketStream.SocketStream) => conn.attribute(Tls.Info)
 * ```
 *
 * @since 0.2.0
 * @category attributes
 */
export const Info: Attribute.Attribute<TlsInfo> = Attribute.make("tls", tlsOf)

/**
 * The negotiated ALPN protocol; `None` without TLS or when none was agreed.
 *
 * @example
 * ```ts
 * import { Tls, type SocketStream } from "@netfx/core"
 * import { Option } from "effect"
 *
 * const isH2 = (conn: SocketStream.SocketStream) => Option.contains(conn.attribute(Tls.AlpnProtocol), "h2")
 * ```
 *
 * @since 0.2.0
 * @category attributes
 */
export const AlpnProtocol: Attribute.Attribute<string> = Attribute.make("tls.alpnProtocol", (f) => {
  const tls = tlsOf(f)
  return tls === undefined ? undefined : Option.getOrUndefined(tls.alpnProtocol)
})

/**
 * The cipher suite (OpenSSL and IANA names).
 *
 * @example
 * ```ts
 * import { Tls, type SocketStream } from "@netfx/core"
 * import { Option } from "effect"
 *
 * const iana = (conn: SocketStream.SocketStream) => Option.map(conn.attribute(Tls.Cipher), (c) => c.standardName)
 * ```
 *
 * @since 0.2.0
 * @category attributes
 */
export const Cipher: Attribute.Attribute<TlsInfo["cipher"]> = Attribute.make("tls.cipher", (f) => tlsOf(f)?.cipher)

/**
 * The protocol version, `"TLSv1.2"`, `"TLSv1.3"`, ...
 *
 * @example
 * ```ts
 * import { Tls, type SocketStream } from "@netfx/core"
 *
 * const version = (conn: SocketStream.SocketStream) => conn.attribute(Tls.Version)
 * ```
 *
 * @since 0.2.0
 * @category attributes
 */
export const Version: Attribute.Attribute<string> = Attribute.make("tls.version", (f) => tlsOf(f)?.version)

/**
 * The peer's certificate (on a server: the client's, when it sent one).
 *
 * @example
 * ```ts
 * import { Tls, type SocketStream } from "@netfx/core"
 * import { Option } from "effect"
 *
 * const clientCn = (conn: SocketStream.SocketStream) =>
 *   Option.map(conn.attribute(Tls.PeerCertificate), (cert) => cert.subject.CN)
 * ```
 *
 * @since 0.2.0
 * @category attributes
 */
export const PeerCertificate: Attribute.Attribute<PeerCertificate> = Attribute.make("tls.peerCertificate", (f) => {
  const tls = tlsOf(f)
  return tls === undefined ? undefined : Option.getOrUndefined(tls.peerCertificate)
})

/**
 * The SNI name: sent by this client, or received by this server.
 *
 * @example
 * ```ts
 * import { Tls, type SocketStream } from "@netfx/core"
 *
 * const vhost = (conn: SocketStream.SocketStream) => conn.attribute(Tls.ServerName)
 * ```
 *
 * @since 0.2.0
 * @category attributes
 */
export const ServerName: Attribute.Attribute<string> = Attribute.make("tls.serverName", (f) => {
  const tls = tlsOf(f)
  return tls === undefined ? undefined : Option.getOrUndefined(tls.serverName)
})

/**
 * Whether the peer's certificate was verified (`false` on a server that
 * accepted an unverified client with `rejectUnauthorized: false`).
 *
 * @example
 * ```ts
 * import { Tls, type SocketStream } from "@netfx/core"
 * import { Option } from "effect"
 *
 * const verified = (conn: SocketStream.SocketStream) => Option.getOrElse(conn.attribute(Tls.Authorized), () => false)
 * ```
 *
 * @since 0.2.0
 * @category attributes
 */
export const Authorized: Attribute.Attribute<boolean> = Attribute.make("tls.authorized", (f) => tlsOf(f)?.authorized)

/**
 * Options of {@link wrap}: which side of the handshake this end plays.
 *
 * @example
 * ```ts
 * import type { Tls } from "@netfx/core"
 *
 * const asServer: Tls.WrapOptions = { side: "server", cert: "<cert pem>", key: "<key pem>" }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type WrapOptions =
  | ({ readonly side: "client"; readonly host?: string } & TlsClientOptions)
  | ({ readonly side: "server" } & TlsServerOptions)

/**
 * STARTTLS: upgrades an established netfx byte stream to TLS, as client or
 * server, and returns the TLS stream.
 *
 * Use it after a plaintext exchange (SMTP `STARTTLS`, a custom greeting):
 * both ends agree in plaintext, then both call `wrap`. The client's host
 * for verification is `serverName`, else `host`, else the numeric remote
 * address.
 *
 * Rule for the bytes in flight: the old stream must be idle (no `receive`
 * or `send` in progress). Bytes it already read ahead but nobody received
 * are **handed over** to TLS as the first ciphertext, which is right for
 * STARTTLS (a client may send its ClientHello right behind the command).
 * Bytes you pulled out with `receive` and buffered yourself cannot be
 * given back: stop reading plaintext exactly at the upgrade point.
 *
 * **Resource**: the old stream is consumed: from now on it reads as closed
 * and closing it does nothing. The TLS stream owns the connection and
 * belongs to the current Scope.
 *
 * **Errors**: `InvalidArgument` when `stream` was not made by netfx, is
 * closed, or has a receive or send in progress, for an `sniContexts`
 * key that is not a host name, or on the server side when `ca`, `cert` or
 * `key` is not PEM (`options.cert`, ...); `TlsFailed` when the
 * handshake fails (the connection is then closed) or, on the client side,
 * when `ca`, `cert` or `key` is not PEM; `Unsupported` when the
 * runtime has no TLS driver.
 *
 * **Interruption**: interrupting the handshake closes the connection.
 *
 * @example
 * ```ts
 * import { Tls, Tcp } from "@netfx/core"
 * import { Effect } from "effect"
 *
 * const smtpLike = Effect.gen(function* () {
 *   const plain = yield* Tcp.connect({ host: "localhost", port: 2525 })
 *   yield* plain.send(new TextEncoder().encode("STARTTLS\r\n"))
 *   yield* plain.receive() // "220 go ahead"
 *   const secure = yield* Tls.wrap(plain, { side: "client", host: "localhost" })
 *   yield* secure.send(new TextEncoder().encode("EHLO me\r\n"))
 * })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const wrap = (
  stream: SocketStream.SocketStream,
  options: WrapOptions,
): Effect.Effect<SocketStream.SocketStream, TlsFailed | InvalidArgument | Unsupported, Scope.Scope | Network.Network> =>
  Effect.gen(function* () {
    const tls = yield* driver
    const badKey =
      options.side === "server"
        ? (pemInvalid("options", options) ?? validateSniKeys(options))
        : pemFailed("options", options)
    if (badKey !== undefined) return yield* Effect.fail(badKey)
    if (!(stream instanceof SocketStreamImpl)) {
      return yield* Effect.fail(
        new InvalidArgument({ argument: "stream", reason: "is not a netfx socket stream", value: undefined }),
      )
    }
    const detached = stream.detach()
    if (typeof detached === "string") {
      return yield* Effect.fail(new InvalidArgument({ argument: "stream", reason: detached, value: undefined }))
    }
    const raw = yield* Effect.acquireRelease(Effect.succeed(detached), (r) => Effect.sync(() => r.close()))
    const secured =
      options.side === "server"
        ? yield* tls.accept(raw, options)
        : yield* clientHandshake(tls, raw, { ...options, host: options.host ?? hostOf(raw.remoteAddress) })
    return yield* SocketStream.makeScoped(secured)
  })

const hostOf = (address: SocketAddress.SocketAddress): string =>
  SocketAddress.isIp(address) ? address.host : "localhost"
