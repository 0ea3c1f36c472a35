import type { Driver, Tls } from "@netfx/core"
import { NetError, SocketAddress } from "@netfx/core"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import { BunConnection, type BunSocket, byExtra, LINGER_MILLIS } from "./connection.ts"

/**
 * TLS on Bun's native TLS: the TCP driver's socket is upgraded in place
 * with `socket.upgradeTLS` (client and server side; Bun decides the side
 * from how the socket was made), and the TLS socket is adapted to a
 * RawConnection by the same `BunConnection` as plain TCP (partial writes,
 * real write backpressure, `shutdown` as a half-close that sends
 * close_notify and keeps reading).
 *
 * Measured on Bun 1.4.5, and why this does not use `node:tls`: Bun's
 * node:tls sockets lose data after the peer's close_notify (no TLS
 * half-close) and report no write backpressure; the native TLS socket does
 * both correctly.
 *
 * Limits (Bun 1.4.5):
 * - Bun reports the peer's close_notify and a bare TCP FIN with the same
 *   `end` event, so a missing close_notify cannot be told apart:
 *   `standardCompatible: true` does not turn a ragged EOF into
 *   `BrokenResource` here; it reads as `EndOfStream`.
 * - Bytes already read ahead from a plain stream cannot be handed to Bun's
 *   TLS (it reads the descriptor itself): `Tls.wrap` on such a stream fails
 *   with `TlsFailed` (`ERR_TLS_READ_AHEAD`).
 * - Only sockets of BunNetwork's own TCP/Unix drivers can be upgraded.
 * - `sniContexts` / `sniCallback` need a per-ClientHello certificate choice
 *   that `upgradeTLS` does not offer: such a server handshake fails with
 *   `TlsFailed` (`ERR_TLS_SNI_UNSUPPORTED`).
 *
 * @internal
 */
const bunVersion = (globalThis as { Bun?: { version?: string } }).Bun?.version ?? "unknown"

/** @internal */
export const RUNTIME = `bun ${bunVersion}`

type Pems = string | Uint8Array | Array<string | Uint8Array>

const pems = (value: Tls.Pem | ReadonlyArray<Tls.Pem> | undefined): Pems | undefined =>
  value === undefined ? undefined : Array.isArray(value) ? [...(value as ReadonlyArray<Tls.Pem>)] : (value as Tls.Pem)

/** ALPN protocol names in the wire format Bun expects (length-prefixed). */
const alpnWire = (protocols: ReadonlyArray<string>): Uint8Array => {
  const parts = protocols.map((p) => new TextEncoder().encode(p))
  const out = new Uint8Array(parts.reduce((n, p) => n + 1 + p.length, 0))
  let at = 0
  for (const p of parts) {
    out[at++] = p.length
    out.set(p, at)
    at += p.length
  }
  return out
}

interface BunTlsOptions {
  ca?: Pems
  cert?: Pems
  key?: Tls.Pem
  passphrase?: string
  serverName?: string
  rejectUnauthorized?: boolean
  requestCert?: boolean
  ALPNProtocols?: Uint8Array
  minVersion?: Tls.TlsVersion
  maxVersion?: Tls.TlsVersion
  secureOptions?: number
}

/** BoringSSL's SSL_OP_NO_TLSv1_2 / SSL_OP_NO_TLSv1_3, for min/max version. */
const SSL_OP_NO_TLSv1_2 = 0x08000000
const SSL_OP_NO_TLSv1_3 = 0x20000000

const baseOptions = (c: {
  readonly ca?: Tls.Pem | ReadonlyArray<Tls.Pem> | undefined
  readonly cert?: Tls.Pem | ReadonlyArray<Tls.Pem> | undefined
  readonly key?: Tls.Pem | undefined
  readonly passphrase?: string | undefined
  readonly alpnProtocols?: ReadonlyArray<string> | undefined
  readonly minVersion?: Tls.TlsVersion | undefined
  readonly maxVersion?: Tls.TlsVersion | undefined
}): BunTlsOptions => {
  const o: BunTlsOptions = {}
  const ca = pems(c.ca)
  if (ca !== undefined) o.ca = ca
  const cert = pems(c.cert)
  if (cert !== undefined) o.cert = cert
  if (c.key !== undefined) o.key = c.key
  if (c.passphrase !== undefined) o.passphrase = c.passphrase
  if (c.alpnProtocols !== undefined) o.ALPNProtocols = alpnWire(c.alpnProtocols)
  let secureOptions = 0
  if (c.maxVersion === "TLSv1.2") secureOptions |= SSL_OP_NO_TLSv1_3
  if (c.minVersion === "TLSv1.3") secureOptions |= SSL_OP_NO_TLSv1_2
  if (secureOptions !== 0) o.secureOptions = secureOptions
  return o
}

// ---- session facts ----

interface BunPeerCertificate {
  readonly subject?: unknown
  readonly issuer?: unknown
  readonly subjectaltname?: string
  readonly valid_from?: string
  readonly valid_to?: string
  readonly serialNumber?: string
  readonly fingerprint256?: string
  readonly raw?: Uint8Array
}

interface BunTlsSocket {
  readonly authorized: boolean
  readonly alpnProtocol: string | false | null
  getCipher(): { readonly name: string; readonly standardName?: string }
  getTLSVersion(): string
  getPeerCertificate(): BunPeerCertificate | null | undefined
  getServername(): string | undefined
}

const field = (v: unknown): string => (Array.isArray(v) ? v.join(", ") : String(v))
const fields = (o: unknown): Record<string, string> => {
  const out: Record<string, string> = {}
  if (typeof o === "object" && o !== null) for (const [k, v] of Object.entries(o)) out[k] = field(v)
  return out
}

const peerCertificate = (socket: BunTlsSocket): Option.Option<Tls.PeerCertificate> => {
  let c: BunPeerCertificate | null | undefined
  try {
    c = socket.getPeerCertificate()
  } catch {
    c = undefined
  }
  if (c === null || c === undefined || c.raw === undefined) return Option.none()
  return Option.some({
    subject: fields(c.subject),
    issuer: fields(c.issuer),
    subjectAltNames: c.subjectaltname === undefined ? [] : c.subjectaltname.split(", "),
    validFrom: new Date(c.valid_from ?? 0),
    validTo: new Date(c.valid_to ?? 0),
    serialNumber: c.serialNumber ?? "",
    fingerprint256: c.fingerprint256 ?? "",
    der: new Uint8Array(c.raw),
  })
}

const infoOf = (
  socket: BunTlsSocket,
  serverSide: boolean,
  authorized: boolean,
  serverName: string | undefined,
): Tls.TlsInfo => {
  const cipher = socket.getCipher()
  let sni = serverName
  if (serverSide) {
    try {
      sni = socket.getServername()
    } catch {
      sni = undefined
    }
  }
  return {
    alpnProtocol: typeof socket.alpnProtocol === "string" ? Option.some(socket.alpnProtocol) : Option.none(),
    cipher: { name: cipher.name, standardName: cipher.standardName ?? cipher.name },
    version: socket.getTLSVersion() ?? "unknown",
    peerCertificate: peerCertificate(socket),
    authorized,
    serverSide,
    serverName: typeof sni === "string" && sni.length > 0 ? Option.some(sni) : Option.none(),
  }
}

// ---- the TLS connection ----

/**
 * The cleartext side: a BunConnection over the TLS socket, with TLS's
 * close: close_notify, then keep reading (and dropping) until the peer
 * closes too, so unread input (TLS 1.3 session tickets, the peer's own
 * close_notify) never makes the kernel reset the connection; bounded by
 * LINGER_MILLIS.
 */
class TlsConnection implements Driver.RawConnection {
  private handlers: Driver.ConnectionHandlers | undefined = undefined
  private closing = false
  private peerEnded = false
  private released = false
  private linger: ReturnType<typeof setTimeout> | undefined = undefined
  readonly localAddress: SocketAddress.SocketAddress
  readonly remoteAddress: SocketAddress.SocketAddress
  readonly fd: number | undefined
  readonly extra: Readonly<Record<string, unknown>>

  constructor(
    readonly inner: BunConnection,
    readonly socket: BunSocket,
    raw: Driver.RawConnection,
    info: Tls.TlsInfo,
  ) {
    this.localAddress = raw.localAddress
    this.remoteAddress = raw.remoteAddress
    this.fd = raw.fd
    this.extra = { ...raw.extra, tls: info }
  }

  start(handlers: Driver.ConnectionHandlers): void {
    this.handlers = handlers
    this.inner.start({
      onData: (chunk) => {
        if (!this.closing) this.handlers?.onData(chunk)
      },
      onEnd: () => {
        this.peerEnded = true
        if (this.closing) this.release()
        else this.handlers?.onEnd()
      },
      onError: (error) => {
        if (this.closing) this.release()
        else this.handlers?.onError(error)
      },
      onDrain: () => {
        if (!this.closing) this.handlers?.onDrain()
      },
      onClose: () => {
        if (this.linger !== undefined) clearTimeout(this.linger)
        this.released = true
        if (!this.closing) this.handlers?.onClose()
      },
    })
  }

  pause(): void {
    this.inner.pause()
  }

  resume(): void {
    this.inner.resume()
  }

  write(data: Uint8Array): boolean {
    return this.closing ? true : this.inner.write(data)
  }

  shutdown(): void {
    if (!this.closing) this.inner.shutdown()
  }

  close(unread?: boolean): void {
    if (this.closing) return
    this.closing = true
    if (this.released) return
    if (unread === true) {
      // Closing with received data unread aborts, as TCP does: no
      // close_notify, so the peer cannot mistake it for a clean end.
      this.released = true
      this.socket.terminate()
      return
    }
    if (this.peerEnded) {
      this.release()
      return
    }
    this.linger = setTimeout(() => {
      this.released = true
      this.socket.terminate()
    }, LINGER_MILLIS)
    this.linger.unref?.()
    // close_notify (after pending writes), then drain until the peer ends
    this.inner.shutdown()
    if (this.handlers === undefined) this.start({ onData() {}, onEnd() {}, onError() {}, onDrain() {}, onClose() {} })
    this.inner.resume()
  }

  private release(): void {
    if (this.released) return
    this.released = true
    if (this.linger !== undefined) clearTimeout(this.linger)
    // flushes what is still pending (bounded by LINGER_MILLIS), then closes
    this.inner.close()
  }
}

// ---- the handshake ----

type Outcome =
  | { readonly _tag: "secure"; readonly authorized: boolean }
  | { readonly _tag: "failed"; readonly error: NetError.TlsFailed }

interface TlsData {
  conn: BunConnection | undefined
  session: Session | undefined
}

/** One upgrade in progress: settles once with the handshake's outcome. */
class Session {
  outcome: Outcome | undefined = undefined
  private waiter: ((outcome: Outcome) => void) | undefined = undefined
  /** cleartext that arrived before the connection adapter exists */
  early: Array<Uint8Array> = []
  earlyEnd = false
  earlyClose: { readonly error: unknown } | undefined = undefined
  tls: BunSocket | undefined = undefined

  constructor(
    readonly address: SocketAddress.SocketAddress,
    readonly serverSide: boolean,
    readonly requestCert: boolean,
  ) {}

  handshake(success: boolean, error: Error | null): void {
    if (!success) {
      this.settle({ _tag: "failed", error: tlsFailed(error, this.address, "the TLS handshake was refused") })
      return
    }
    const authorized = this.serverSide ? this.requestCert && error === null : error === null
    this.settle({ _tag: "secure", authorized })
  }

  error(error: unknown): void {
    this.settle({ _tag: "failed", error: tlsFailed(error, this.address, "the TLS handshake failed") })
  }

  closed(error: unknown): void {
    this.settle({
      _tag: "failed",
      error: new NetError.TlsFailed({
        code: NetError.errnoOf(error).code === "UNKNOWN" ? "ECONNRESET" : NetError.errnoOf(error).code,
        reason: "the connection closed before the TLS handshake completed",
        address: this.address,
        cause: error,
      }),
    })
  }

  private settle(outcome: Outcome): void {
    if (this.outcome !== undefined) return
    this.outcome = outcome
    const w = this.waiter
    this.waiter = undefined
    w?.(outcome)
  }

  await(): Effect.Effect<Outcome> {
    return Effect.async<Outcome>((resume) => {
      if (this.outcome !== undefined) return resume(Effect.succeed(this.outcome))
      this.waiter = (o) => resume(Effect.succeed(o))
      return Effect.sync(() => {
        this.waiter = undefined
      })
    })
  }
}

const tlsFailed = (error: unknown, address: SocketAddress.SocketAddress, fallback: string): NetError.TlsFailed => {
  const { code } = NetError.errnoOf(error)
  const reason = error instanceof Error ? error.message : fallback
  return new NetError.TlsFailed({ code, reason, address, cause: error ?? undefined })
}

const dataOf = (socket: { data: unknown }): TlsData => socket.data as TlsData

const tlsHandlers = {
  binaryType: "uint8array",
  data: (socket: BunSocket, chunk: Uint8Array) => {
    const d = dataOf(socket)
    if (d.conn !== undefined) d.conn.handleData(chunk)
    else d.session?.early.push(chunk)
  },
  end: (socket: BunSocket) => {
    const d = dataOf(socket)
    if (d.conn !== undefined) d.conn.handleEnd()
    else if (d.session !== undefined) {
      // an end before the handshake completed fails it (allowHalfOpen keeps Bun from closing)
      if (d.session.outcome === undefined) d.session.closed(undefined)
      else d.session.earlyEnd = true
    }
  },
  drain: (socket: BunSocket) => dataOf(socket).conn?.handleDrain(),
  error: (socket: BunSocket, error: Error) => {
    const d = dataOf(socket)
    if (d.conn !== undefined) d.conn.handleError(error)
    else d.session?.error(error)
  },
  close: (socket: BunSocket, error?: Error) => {
    const d = dataOf(socket)
    if (d.conn !== undefined) d.conn.handleClose(error)
    else if (d.session !== undefined) {
      if (d.session.outcome === undefined) d.session.closed(error)
      else d.session.earlyClose = { error }
    }
  },
  handshake: (socket: BunSocket, success: boolean, error: Error | null) =>
    dataOf(socket).session?.handshake(success, error),
} as const

/** The BunConnection under a RawConnection (itself, or the one a STARTTLS detach wraps). */
const bunConnectionOf = (raw: Driver.RawConnection): BunConnection | undefined =>
  raw instanceof BunConnection ? raw : byExtra.get(raw.extra)

const cannot = (raw: Driver.RawConnection, code: string, reason: string) =>
  Effect.fail(new NetError.TlsFailed({ code, reason: `${reason} (${RUNTIME})`, address: raw.remoteAddress }))

/**
 * Upgrades the Bun socket under `raw` and waits for the handshake. The TLS
 * socket is registered in the Scope first, so an interrupted or failed
 * handshake releases the descriptor.
 */
const upgrade = (
  raw: Driver.RawConnection,
  options: BunTlsOptions,
  side: { readonly serverSide: boolean; readonly requestCert: boolean; readonly serverName: string | undefined },
): Effect.Effect<Driver.RawConnection, NetError.TlsFailed, Scope.Scope> =>
  Effect.gen(function* () {
    const bun = bunConnectionOf(raw)
    if (bun === undefined) {
      return yield* cannot(
        raw,
        "ERR_TLS_UNSUPPORTED_TRANSPORT",
        "Bun's native TLS can only upgrade sockets of BunNetwork's own TCP and Unix drivers",
      )
    }
    if (!(raw instanceof BunConnection)) {
      // A STARTTLS detach: bytes it read ahead are ciphertext Bun's TLS cannot be given.
      let readAhead = false
      raw.start({
        onData: () => {
          readAhead = true
        },
        onEnd: () => {},
        onError: () => {},
        onDrain: () => {},
        onClose: () => {},
      })
      if (readAhead) {
        return yield* cannot(
          raw,
          "ERR_TLS_READ_AHEAD",
          "the plain stream had already read bytes past the STARTTLS point, which Bun's native TLS cannot be given",
        )
      }
    }
    const session = new Session(raw.remoteAddress, side.serverSide, side.requestCert)
    let established: TlsConnection | undefined
    yield* Effect.acquireRelease(
      Effect.suspend(() => {
        const socket = bun.handOver()
        if (socket === undefined) {
          return cannot(raw, "ECONNRESET", "the connection is closed or still flushing plaintext")
        }
        const data: TlsData = { conn: undefined, session }
        try {
          const [plain, tls] = socket.upgradeTLS({
            data,
            tls: options as Bun.TLSOptions,
            socket: tlsHandlers as unknown as Bun.SocketHandler<TlsData>,
          })
          // the ciphertext side keeps the TCP driver's handlers: let them see nothing
          ;(plain as { data: unknown }).data = { conn: undefined }
          session.tls = tls as unknown as BunSocket
          socket.resume()
          tls.resume()
        } catch (error) {
          socket.terminate()
          return Effect.fail(tlsFailed(error, raw.remoteAddress, "the TLS options were refused"))
        }
        return Effect.void
      }),
      () =>
        Effect.sync(() => {
          if (established === undefined) session.tls?.terminate()
        }),
    )
    const outcome = yield* session.await()
    if (outcome._tag === "failed") return yield* Effect.fail(outcome.error)
    const tls = session.tls as BunSocket
    const info = infoOf(tls as unknown as BunTlsSocket, side.serverSide, outcome.authorized, side.serverName)
    const inner = new BunConnection(tls, { noDelay: true })
    for (const chunk of session.early) inner.handleData(chunk)
    if (session.earlyEnd) inner.handleEnd()
    if (session.earlyClose !== undefined) inner.handleClose(session.earlyClose.error)
    session.early = []
    established = new TlsConnection(inner, tls, raw, info)
    return established as Driver.RawConnection
  })

/** @internal */
export const connect = (
  raw: Driver.RawConnection,
  request: Tls.ClientRequest,
): Effect.Effect<Driver.RawConnection, NetError.TlsFailed, Scope.Scope> => {
  const name = request.serverName ?? request.host
  const numeric = SocketAddress.numericFamily(name) !== 0
  const options: BunTlsOptions = {
    ...baseOptions(request),
    rejectUnauthorized: request.rejectUnauthorized ?? true,
  }
  if (!numeric) options.serverName = name
  return upgrade(raw, options, { serverSide: false, requestCert: false, serverName: numeric ? undefined : name })
}

/** @internal */
export const accept = (
  raw: Driver.RawConnection,
  options: Tls.TlsServerOptions,
): Effect.Effect<Driver.RawConnection, NetError.TlsFailed, Scope.Scope> => {
  if (options.sniContexts !== undefined || options.sniCallback !== undefined) {
    return cannot(
      raw,
      "ERR_TLS_SNI_UNSUPPORTED",
      "sniContexts/sniCallback: Bun's socket.upgradeTLS takes one certificate, with no per-ClientHello choice",
    )
  }
  const requestCert = options.requestCert ?? false
  const o: BunTlsOptions = {
    ...baseOptions(options),
    requestCert,
    rejectUnauthorized: options.rejectUnauthorized ?? true,
  }
  return upgrade(raw, o, { serverSide: true, requestCert, serverName: undefined })
}

/** @internal */
export const driver: Tls.TlsDriver = { connect, accept }
