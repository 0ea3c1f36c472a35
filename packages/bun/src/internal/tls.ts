import { NetError, SocketAddress, type Tls } from "@netfx/core"
import * as Driver from "@netfx/core/Driver"
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
 * When the socket cannot be upgraded in place — a STARTTLS stream that
 * already read ciphertext ahead (Bun's TLS reads the descriptor itself and
 * cannot be handed those bytes), a server with `sniContexts`/`sniCallback`
 * (`upgradeTLS` takes one certificate and refuses an array of per-name
 * contexts, so the ClientHello is read first to choose it), or a
 * connection from another driver — Bun's TLS runs on one end of a Unix
 * socket pair (abstract names) whose other end is relayed to the connection
 * (see `Relay`). That costs two more descriptors and one more copy per
 * connection, so an SNI listener pays it on every connection.
 *
 * Limit (Bun 1.4.5): Bun reports the peer's close_notify and a bare TCP FIN
 * with the same `end` event, so a missing close_notify cannot be told
 * apart: `standardCompatible: true` does not turn a ragged EOF into
 * `BrokenResource` here; it reads as `EndOfStream`.
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

interface BunTlsSocket {
  readonly authorized: boolean
  readonly alpnProtocol: string | false | null
  getCipher(): { readonly name: string; readonly standardName?: string }
  getTLSVersion(): string
  getPeerCertificate(): Driver.RuntimePeerCertificate | null | undefined
  getServername(): string | undefined
}

const peerCertificate = (socket: BunTlsSocket): Option.Option<Tls.PeerCertificate> => {
  try {
    return Driver.peerCertificateOf(socket.getPeerCertificate())
  } catch {
    return Option.none()
  }
}

const infoOf = (
  socket: BunTlsSocket,
  serverSide: boolean,
  authorized: boolean,
  serverName: string | undefined,
  peer: Option.Option<Tls.PeerCertificate>,
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
    peerCertificate: peer,
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
    readonly relay: Relay | undefined,
  ) {
    this.localAddress = raw.localAddress
    this.remoteAddress = raw.remoteAddress
    this.fd = raw.fd
    this.extra = { ...raw.extra, tls: info }
  }

  /** The TLS `Bun.Socket`, for `Attribute.NativeHandle`. */
  get handle(): BunSocket {
    return this.socket
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
        else this.report(() => this.handlers?.onEnd())
      },
      onError: (error) => {
        if (this.closing) this.release()
        else this.report(() => this.handlers?.onError(error))
      },
      onDrain: () => {
        if (!this.closing) this.handlers?.onDrain()
      },
      onClose: () => {
        if (this.linger !== undefined) clearTimeout(this.linger)
        this.released = true
        if (!this.closing) this.report(() => this.handlers?.onClose(), true)
      },
    })
  }

  private failureReported = false

  /** Through the relay, a failure of the raw connection (a reset) is what the TLS side's end means. */
  private report(otherwise: () => void, isClose = false): void {
    const failure = this.relay?.failure
    if (failure === undefined) {
      otherwise()
      return
    }
    if (!this.failureReported) {
      this.failureReported = true
      this.handlers?.onError(failure)
    }
    if (isClose) otherwise()
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
      this.relay?.abort()
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
  | {
      readonly _tag: "secure"
      /** The certificate verification error Bun reported with the completed handshake, if any. */
      readonly verifyError: Error | null
    }
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
    readonly rejectUnauthorized: boolean,
  ) {}

  handshake(success: boolean, error: Error | null): void {
    // With rejectUnauthorized off Bun may still report success = false for an
    // unverified peer (e.g. with a serverName); the session goes on, unauthorized.
    if (!success && !this.rejectUnauthorized) {
      this.settle({ _tag: "secure", verifyError: error ?? new Error("the peer was not verified") })
      return
    }
    if (!success) {
      this.settle({ _tag: "failed", error: tlsFailed(error, this.address, "the TLS handshake was refused") })
      return
    }
    // Bun completes a server-side handshake whose client certificate failed
    // verification (success = true with the verification error) even when it
    // was asked to reject such peers: the verdict is `verdict`'s, not Bun's.
    this.settle({ _tag: "secure", verifyError: error })
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
  const code = NetError.tlsCodeOf(error)
  const reason = NetError.tlsReasonOf(error, fallback)
  return new NetError.TlsFailed({ code, reason, address, cause: error ?? undefined })
}

/**
 * Whether an established session's peer is authorized, and the refusal when
 * the policy rejects unauthorized peers: a client verifies the server
 * always (unless `rejectUnauthorized: false`); a server verifies clients
 * when it asked for a certificate (`requestCert`), and a client that sent
 * none is unauthorized too. Nothing unauthorized is ever handed on unless
 * the user turned `rejectUnauthorized` off.
 */
const verdict = (
  side: { readonly serverSide: boolean; readonly requestCert: boolean; readonly rejectUnauthorized: boolean },
  verifyError: Error | null,
  hasPeerCertificate: boolean,
  address: SocketAddress.SocketAddress,
): { readonly authorized: boolean; readonly refusal: NetError.TlsFailed | undefined } => {
  const verifies = !side.serverSide || side.requestCert
  const authorized = verifies && verifyError === null && hasPeerCertificate
  if (authorized || !verifies || !side.rejectUnauthorized) return { authorized, refusal: undefined }
  const cause = verifyError ?? new Error("the peer sent no certificate")
  const code = verifyError === null ? "PEER_DID_NOT_RETURN_A_CERTIFICATE" : NetError.errnoOf(verifyError).code
  return {
    authorized,
    refusal: new NetError.TlsFailed({
      code,
      reason: `the ${side.serverSide ? "client" : "server"} certificate was not accepted: ${cause.message}`,
      address,
      cause,
    }),
  }
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

// ---- the relay: TLS over any RawConnection ----

/**
 * A started RawConnection whose events are held until a target is attached
 * (bytes read ahead by a plain stream, a ClientHello read for SNI).
 */
class Feed {
  chunks: Array<Uint8Array> = []
  size = 0
  ended = false
  failed: NetError.BrokenResource | undefined = undefined
  closed = false
  private target: Driver.ConnectionHandlers | undefined = undefined
  onChange: (() => void) | undefined = undefined

  constructor(readonly raw: Driver.RawConnection) {
    raw.start({
      onData: (chunk) => {
        if (this.target !== undefined) return this.target.onData(chunk)
        this.chunks.push(chunk)
        this.size += chunk.length
        this.onChange?.()
      },
      onEnd: () => {
        if (this.target !== undefined) return this.target.onEnd()
        this.ended = true
        this.onChange?.()
      },
      onError: (error) => {
        if (this.target !== undefined) return this.target.onError(error)
        this.failed = error
        this.onChange?.()
      },
      onDrain: () => this.target?.onDrain(),
      onClose: () => {
        if (this.target !== undefined) return this.target.onClose()
        this.closed = true
        this.onChange?.()
      },
    })
  }

  get bytes(): Uint8Array {
    if (this.chunks.length === 1) return this.chunks[0] as Uint8Array
    const out = new Uint8Array(this.size)
    let at = 0
    for (const c of this.chunks) {
      out.set(c, at)
      at += c.length
    }
    return out
  }

  attach(target: Driver.ConnectionHandlers): void {
    this.target = target
    this.onChange = undefined
    const chunks = this.chunks
    this.chunks = []
    for (const c of chunks) target.onData(c)
    if (this.failed !== undefined) target.onError(this.failed)
    else if (this.ended) target.onEnd()
    if (this.closed) target.onClose()
  }
}

interface PumpData {
  relay: Relay | undefined
}

/**
 * Copies ciphertext between a RawConnection and one end of a Unix socket
 * pair whose other end Bun's TLS was upgraded on, with backpressure both
 * ways and half-close / close carried over.
 */
class Relay {
  private pending: Array<Uint8Array> = []
  private rawEnded = false
  private rawClosed = false
  /** the TLS side's FIN was handed to the raw connection (its close_notify is out) */
  pumpEnded = false
  pumpClosed = false
  /** the raw connection failed (e.g. a reset): reported in place of the TLS side's end */
  failure: NetError.BrokenResource | undefined = undefined
  private waiters: Array<() => void> = []

  constructor(
    readonly feed: Feed,
    readonly pump: BunSocket,
  ) {
    ;(pump as { data: unknown }).data = { relay: this } satisfies PumpData
    pump.resume()
    feed.attach({
      onData: (chunk) => this.toPump(chunk),
      onEnd: () => {
        this.rawEnded = true
        if (this.pending.length === 0) pump.shutdown()
      },
      onError: (error) => {
        this.failure = error
        this.pending = []
        pump.terminate()
      },
      onDrain: () => pump.resume(),
      onClose: () => {
        this.rawClosed = true
        if (this.pending.length === 0) pump.end()
      },
    })
  }

  private toPump(chunk: Uint8Array): void {
    if (this.pumpClosed) return
    if (this.pending.length > 0) {
      this.pending.push(chunk)
      return
    }
    const n = this.pump.write(chunk)
    if (n < chunk.length) {
      this.pending.push(n <= 0 ? chunk : chunk.subarray(n))
      this.feed.raw.pause()
    }
  }

  /** @internal */
  pumpDrain(): void {
    while (this.pending.length > 0) {
      const chunk = this.pending[0] as Uint8Array
      const n = this.pump.write(chunk)
      if (n < chunk.length) {
        if (n > 0) this.pending[0] = chunk.subarray(n)
        return
      }
      this.pending.shift()
    }
    if (this.rawClosed) this.pump.end()
    else if (this.rawEnded) this.pump.shutdown()
    else this.feed.raw.resume()
  }

  /** @internal */
  pumpData(chunk: Uint8Array): void {
    if (!this.feed.raw.write(chunk)) this.pump.pause()
  }

  /** @internal */
  pumpEnd(): void {
    this.feed.raw.shutdown()
    this.markEnded()
  }

  /** @internal */
  pumpClose(error: unknown): void {
    if (this.pumpClosed) return
    this.pumpClosed = true
    this.feed.raw.close(error !== undefined && error !== null)
    this.markEnded()
  }

  /** Resets the raw connection (a close with input unread) and drops the pair. */
  abort(): void {
    this.pending = []
    this.pumpClosed = true
    this.feed.raw.close(true)
    this.pump.terminate()
    this.markEnded()
  }

  private markEnded(): void {
    this.pumpEnded = true
    for (const w of this.waiters.splice(0)) w()
  }

  /** Waits (bounded) until the TLS side's close_notify went out to the raw connection. */
  flushed(): Effect.Effect<void> {
    return Effect.async<void>((resume) => {
      if (this.pumpEnded) return resume(Effect.void)
      const timer = setTimeout(() => resume(Effect.void), CLOSE_WAIT_MILLIS)
      this.waiters.push(() => {
        clearTimeout(timer)
        resume(Effect.void)
      })
      return Effect.sync(() => clearTimeout(timer))
    })
  }
}

const CLOSE_WAIT_MILLIS = 2_000

const pumpOf = (socket: { data: unknown }): Relay | undefined => (socket.data as PumpData | undefined)?.relay

const pumpHandlers = {
  binaryType: "uint8array",
  data: (socket: BunSocket, chunk: Uint8Array) => pumpOf(socket)?.pumpData(chunk),
  drain: (socket: BunSocket) => pumpOf(socket)?.pumpDrain(),
  end: (socket: BunSocket) => pumpOf(socket)?.pumpEnd(),
  error: () => {},
  close: (socket: BunSocket, error?: Error) => pumpOf(socket)?.pumpClose(error),
} as const

let relayCount = 0

/**
 * A connected pair of Unix sockets under a one-off abstract name (no file,
 * no loopback interface needed): `accepted` (server role for TLS) and
 * `connected` (client role).
 */
const socketPair = (
  address: SocketAddress.SocketAddress,
): Effect.Effect<{ readonly accepted: BunSocket; readonly connected: BunSocket }, NetError.TlsFailed> =>
  Effect.async((resume) => {
    let accepted: BunSocket | undefined
    let connected: BunSocket | undefined
    let done = false
    const finish = () => {
      if (done || accepted === undefined || connected === undefined) return
      done = true
      resume(Effect.succeed({ accepted, connected }))
    }
    const fail = (error: unknown) => {
      if (done) return
      done = true
      accepted?.terminate()
      connected?.terminate()
      resume(Effect.fail(tlsFailed(error, address, "the TLS relay could not be set up")))
    }
    try {
      const name = `\0netfx-tls-relay-${process.pid}-${++relayCount}-${Math.random().toString(36).slice(2)}`
      const listener = Bun.listen<PumpData>({
        unix: name,
        allowHalfOpen: true,
        data: { relay: undefined },
        socket: {
          ...pumpHandlers,
          open: (socket: BunSocket) => {
            ;(socket as { data: unknown }).data = { relay: undefined }
            accepted = socket as unknown as BunSocket
            listener.stop(false)
            finish()
          },
        } as unknown as Bun.SocketHandler<PumpData>,
      })
      Bun.connect<PumpData>({
        unix: name,
        allowHalfOpen: true,
        data: { relay: undefined },
        socket: {
          ...pumpHandlers,
          open: (socket: BunSocket) => {
            connected = socket as unknown as BunSocket
            finish()
          },
          connectError: (_socket: unknown, error: Error) => {
            listener.stop(false)
            fail(error)
          },
        } as unknown as Bun.SocketHandler<PumpData>,
      }).catch(() => {})
    } catch (error) {
      fail(error)
    }
    return Effect.sync(() => {
      if (done) return
      done = true
      accepted?.terminate()
      connected?.terminate()
    })
  })

// ---- SNI: the server name from the first ClientHello record ----

const CLIENT_HELLO_LIMIT = 16_384 + 5

/** The SNI host name in a ClientHello record; undefined without one, "incomplete" when more bytes are needed. */
export const sniOf = (b: Uint8Array): string | undefined | "incomplete" => {
  if (b.length < 5) return "incomplete"
  if (b[0] !== 22) return undefined
  const recordEnd = 5 + (((b[3] as number) << 8) | (b[4] as number))
  if (b.length < recordEnd) return b.length >= CLIENT_HELLO_LIMIT ? undefined : "incomplete"
  const u8 = (i: number) => (i < recordEnd ? (b[i] as number) : 0)
  const u16 = (i: number) => (u8(i) << 8) | u8(i + 1)
  let i = 5
  if (u8(i) !== 1) return undefined // not a ClientHello
  i += 4 // type, length
  i += 2 + 32 // version, random
  i += 1 + u8(i) // session id
  i += 2 + u16(i) // cipher suites
  i += 1 + u8(i) // compression methods
  const extensionsEnd = Math.min(recordEnd, i + 2 + u16(i))
  i += 2
  while (i + 4 <= extensionsEnd) {
    const type = u16(i)
    const length = u16(i + 2)
    i += 4
    if (type === 0) {
      // server_name: list length, then (name type, name length, name)
      let j = i + 2
      while (j + 3 <= i + length) {
        const nameType = u8(j)
        const nameLength = u16(j + 1)
        j += 3
        if (nameType === 0 && j + nameLength <= recordEnd)
          return new TextDecoder().decode(b.subarray(j, j + nameLength))
        j += nameLength
      }
      return undefined
    }
    i += length
  }
  return undefined
}

/** Reads (into the feed) until the first ClientHello record is complete, and returns its SNI name. */
const readServerName = (feed: Feed): Effect.Effect<string | undefined> =>
  Effect.async<string | undefined>((resume) => {
    const check = () => {
      const name = feed.size === 0 ? "incomplete" : sniOf(feed.bytes)
      if (name !== "incomplete") {
        feed.onChange = undefined
        resume(Effect.succeed(name))
      } else if (feed.ended || feed.failed !== undefined || feed.closed) {
        feed.onChange = undefined
        resume(Effect.succeed(undefined))
      }
    }
    feed.onChange = check
    check()
    return Effect.sync(() => {
      feed.onChange = undefined
    })
  })

// ---- the upgrade ----

interface Side {
  readonly serverSide: boolean
  readonly requestCert: boolean
  readonly serverName: string | undefined
  /** server side with SNI: the options for the name in the ClientHello */
  readonly sni?: ((name: string | undefined) => BunTlsOptions) | undefined
}

/**
 * Upgrades the connection and waits for the handshake. A BunNetwork socket
 * is upgraded in place (`socket.upgradeTLS`); when that cannot be done (a
 * STARTTLS stream that already read ciphertext ahead, a server that must
 * read the ClientHello to choose its certificate, a connection from another
 * driver) Bun's TLS runs on one end of a Unix socket pair whose other end
 * is relayed to the connection. Everything is registered in the Scope
 * first, so an interrupted or failed handshake releases the descriptors.
 */
const upgrade = (
  raw: Driver.RawConnection,
  options: BunTlsOptions,
  side: Side,
): Effect.Effect<Driver.RawConnection, NetError.TlsFailed, Scope.Scope> =>
  Effect.gen(function* () {
    const bun = bunConnectionOf(raw)
    let feed: Feed | undefined
    if (bun !== undefined && !(raw instanceof BunConnection)) {
      // A STARTTLS detach: bytes it read ahead (delivered by start) must reach TLS.
      feed = new Feed(raw)
      if (feed.size === 0 && !feed.ended && feed.failed === undefined && !feed.closed && side.sni === undefined) {
        feed = undefined
      }
    }
    const direct = bun !== undefined && feed === undefined && side.sni === undefined
    const session = new Session(
      raw.remoteAddress,
      side.serverSide,
      side.requestCert,
      options.rejectUnauthorized !== false,
    )
    let established: TlsConnection | undefined
    let relay: Relay | undefined
    let pair: { readonly accepted: BunSocket; readonly connected: BunSocket } | undefined
    yield* Effect.addFinalizer(() =>
      established === undefined
        ? Effect.sync(() => {
            session.tls?.terminate()
            pair?.accepted.terminate()
            pair?.connected.terminate()
          })
        : relay === undefined
          ? Effect.void
          : relay.flushed(),
    )
    let tlsOptions = options
    let target: BunSocket
    if (direct) {
      const socket = bun.handOver()
      if (socket === undefined) return yield* cannot(raw, "ECONNRESET", "the connection is closed or still flushing")
      target = socket
    } else {
      const f = feed ?? new Feed(raw)
      feed = f
      if (side.sni !== undefined) {
        const name = yield* readServerName(f)
        const choose = side.sni
        // a throwing sniCallback fails this handshake, as on Node
        tlsOptions = yield* Effect.try({
          try: () => choose(name),
          catch: (error) => tlsFailed(error, raw.remoteAddress, "sniCallback failed"),
        })
      }
      pair = yield* socketPair(raw.remoteAddress)
      target = side.serverSide ? pair.accepted : pair.connected
    }
    const data: TlsData = { conn: undefined, session }
    try {
      const [plain, tls] = target.upgradeTLS({
        data,
        tls: tlsOptions as Bun.TLSOptions,
        socket: tlsHandlers as unknown as Bun.SocketHandler<TlsData>,
      })
      // the ciphertext side keeps its old handlers: let them see nothing
      ;(plain as { data: unknown }).data = { conn: undefined, relay: undefined }
      session.tls = tls as unknown as BunSocket
      target.resume()
      tls.resume()
    } catch (error) {
      target.terminate()
      return yield* Effect.fail(tlsFailed(error, raw.remoteAddress, "the TLS options were refused"))
    }
    if (pair !== undefined && feed !== undefined) {
      relay = new Relay(feed, side.serverSide ? pair.connected : pair.accepted)
    }
    const outcome = yield* session.await()
    if (outcome._tag === "failed") return yield* Effect.fail(outcome.error)
    const tls = session.tls as BunSocket
    const peer = peerCertificate(tls as unknown as BunTlsSocket)
    const judged = verdict(session, outcome.verifyError, Option.isSome(peer), raw.remoteAddress)
    // refused: the finalizer terminates the TLS socket (and the relay) before anyone sees it
    if (judged.refusal !== undefined) return yield* Effect.fail(judged.refusal)
    const info = infoOf(tls as unknown as BunTlsSocket, side.serverSide, judged.authorized, side.serverName, peer)
    const inner = new BunConnection(tls, { noDelay: true })
    for (const chunk of session.early) inner.handleData(chunk)
    if (session.earlyEnd) inner.handleEnd()
    if (session.earlyClose !== undefined) inner.handleClose(session.earlyClose.error)
    session.early = []
    established = new TlsConnection(inner, tls, raw, info, relay)
    return established as Driver.RawConnection
  })

/** @internal */
export const connect = (
  raw: Driver.RawConnection,
  request: Driver.ClientRequest,
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
  const requestCert = options.requestCert ?? false
  const o: BunTlsOptions = {
    ...baseOptions(options),
    requestCert,
    rejectUnauthorized: options.rejectUnauthorized ?? true,
  }
  const sni =
    options.sniContexts === undefined && options.sniCallback === undefined
      ? undefined
      : (name: string | undefined): BunTlsOptions => {
          if (name === undefined) return o
          const chosen = Driver.credentialsFor(options, name)
          return chosen === undefined ? o : { ...o, ...baseOptions(chosen) }
        }
  return upgrade(raw, o, { serverSide: true, requestCert, serverName: undefined, sni })
}

/** @internal */
export const driver: Driver.TlsDriver = { connect, accept }
