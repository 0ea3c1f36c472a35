import type * as net from "node:net"
import { constants as osConstants } from "node:os"
import { Duplex } from "node:stream"
import * as tls from "node:tls"
import { NetError, SocketAddress, type Tls } from "@netfx/core"
import * as Driver from "@netfx/core/Driver"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import { fdOf, LINGER_MILLIS, NodeConnection } from "./connection.ts"

/** The code a missing close_notify is reported with (OpenSSL's reason, in Node's spelling). */
export const RAGGED_EOF_CODE = "ERR_SSL_UNEXPECTED_EOF_WHILE_READING"

/**
 * A netfx RawConnection (ciphertext) as a Node Duplex, which `node:tls`
 * wraps. Going through a Duplex (rather than handing `node:tls` the
 * net.Socket's handle) is what lets netfx see the order of "TLS saw
 * close_notify" and "TCP saw EOF", which `node:tls` itself does not report,
 * and makes STARTTLS work over any netfx byte stream.
 */
class RawDuplex extends Duplex {
  private pendingWrite: (() => void) | undefined = undefined
  /** Set when ciphertext EOF arrived: `tlsEnded` tells whether TLS had already seen close_notify. */
  ragged = false
  /** The cleartext socket, to read its state when the ciphertext ends. */
  cleartext: tls.TLSSocket | undefined = undefined
  failure: NetError.BrokenResource | undefined = undefined
  /** Whether reading from the raw connection is paused (ciphertext is waiting unread). */
  rawPaused = false

  constructor(readonly raw: Driver.RawConnection) {
    super({ allowHalfOpen: true })
    // Registered before node:tls registers its own 'end' listener, so this runs first.
    this.on("end", () => {
      const state = (this.cleartext as unknown as { _readableState?: { ended?: boolean } } | undefined)?._readableState
      this.ragged = state?.ended !== true
    })
    raw.start({
      onData: (chunk) => {
        if (!this.push(chunk)) {
          this.rawPaused = true
          raw.pause()
        }
      },
      onEnd: () => {
        this.push(null)
      },
      onError: (error) => {
        this.failure = error
        this.destroy(Object.assign(new Error(error.message), { code: error.code, syscall: error.syscall }))
      },
      onDrain: () => {
        const w = this.pendingWrite
        this.pendingWrite = undefined
        w?.()
      },
      onClose: () => {
        this.push(null)
      },
    })
  }

  override _read(): void {
    this.rawPaused = false
    this.raw.resume()
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.raw.write(chunk)) callback()
    else this.pendingWrite = () => callback()
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.raw.shutdown()
    callback()
  }

  /** Set when the cleartext side aborts (closed with data unread): the raw connection is reset too. */
  abort = false

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.raw.close(this.abort)
    const w = this.pendingWrite
    this.pendingWrite = undefined
    w?.()
    callback(error)
  }
}

const EMPTY = Buffer.alloc(0)

/**
 * Whether a TLS socket that owns its handle may still have ciphertext on
 * its way to the TCP handle (see `TlsConnection.end`). Unknown counts as
 * pending.
 */
const ciphertextPending = (socket: net.Socket): boolean => {
  if (socket.writableLength > 0) return true
  const queued = (socket as unknown as { _handle?: { writeQueueSize?: unknown } | null })._handle?.writeQueueSize
  return queued !== 0
}

/** libuv's UV_EALREADY: `uv_read_start` on a stream that is already reading. */
const UV_EALREADY = -osConstants.errno.EALREADY

/** The parts of a Node stream handle (TLSWrap, TCPWrap, PipeWrap) an {@link EndWatch} uses. */
interface StreamHandle {
  onread: (this: StreamHandle, buffer: ArrayBuffer | undefined) => unknown
  readStart(): number
  readStop(): number
  /** On a TLSWrap: the handle of the stream it runs on (TCPWrap, PipeWrap). */
  readonly _parent?: StreamHandle | undefined
  [watchKey]?: EndWatch
}

const watchKey = Symbol("netfx/EndWatch")

// Shared by every watched TLS handle (the handle is `this`): no closures per connection.
function watchedOnread(this: StreamHandle, buffer: ArrayBuffer | undefined): unknown {
  const watch = this[watchKey] as EndWatch
  // node delivers the end of the cleartext (and read errors) without a buffer
  if (buffer === undefined) watch.sawEnd()
  return watch.onread.call(this, buffer)
}
function watchedReadStart(this: StreamHandle): number {
  const watch = this[watchKey] as EndWatch
  watch.stopped = false
  return watch.proto.readStart.call(this)
}
function watchedReadStop(this: StreamHandle): number {
  const watch = this[watchKey] as EndWatch
  watch.stopped = true
  return watch.proto.readStop.call(this)
}

/**
 * Tells close_notify from a bare FIN while `node:tls` runs on the socket's
 * own handle (no JS stream in between), from the state of the TCP (or
 * Unix) handle at the moment TLS reports its end.
 *
 * Node's TLSWrap reports the end in two ways: from its cleartext read, when
 * OpenSSL saw close_notify in ciphertext that just arrived (the TCP handle
 * is then still reading), or from the TCP handle's own end of stream (a
 * FIN: libuv stopped reading the TCP handle just before). So at the end:
 * - the TCP handle is still reading (`uv_read_start` answers
 *   `UV_EALREADY`): the end is close_notify;
 * - node itself stopped reading (backpressure, in the same read that
 *   carried close_notify): the TCP handle cannot have read a FIN since, so
 *   the end is close_notify too;
 * - otherwise the TCP handle stopped on its own at a FIN: a bare close,
 *   unless TLS reports a second end right behind it (OpenSSL found
 *   close_notify in ciphertext it only read at the FIN), which the
 *   connection waits for before it calls the end ragged.
 * The probe that restarted reading a stopped TCP handle stops it again at
 * once.
 */
class EndWatch {
  /** Whether node's last request to the TLS handle was to stop reading. */
  stopped = false
  /** How many ends (or read errors) TLS reported. */
  ends = 0
  /** Set once the end is known to be close_notify. */
  clean = false

  constructor(
    readonly tcp: StreamHandle,
    readonly onread: StreamHandle["onread"],
    readonly proto: StreamHandle,
  ) {}

  /** Installs a watch on a TLSSocket's handle; `undefined` when the handle is not the kind this knows. */
  static install(socket: tls.TLSSocket): EndWatch | undefined {
    const handle = (socket as unknown as { _handle?: StreamHandle | null })._handle
    const tcp = handle?._parent
    if (
      handle == null ||
      tcp == null ||
      typeof handle.onread !== "function" ||
      typeof handle.readStart !== "function" ||
      typeof handle.readStop !== "function" ||
      typeof tcp.readStart !== "function" ||
      typeof tcp.readStop !== "function"
    )
      return undefined
    const watch = new EndWatch(tcp, handle.onread, Object.getPrototypeOf(handle) as StreamHandle)
    handle[watchKey] = watch
    handle.onread = watchedOnread
    handle.readStart = watchedReadStart
    handle.readStop = watchedReadStop
    return watch
  }

  sawEnd(): void {
    this.ends++
    if (this.clean) return
    if (this.ends > 1 || this.stopped) {
      this.clean = true
      return
    }
    const tcp = this.tcp
    const started = tcp.readStart()
    if (started === UV_EALREADY) this.clean = true
    else if (started === 0) tcp.readStop()
  }
}

/**
 * The cleartext side as a RawConnection: a NodeConnection over the
 * TLSSocket, with the close_notify policy applied to its end.
 */
class TlsConnection extends NodeConnection {
  constructor(
    socket: tls.TLSSocket,
    readonly raw: Driver.RawConnection,
    /** The Duplex node:tls runs over; `undefined` when node:tls owns the net.Socket's handle. */
    readonly duplex: RawDuplex | undefined,
    /** Tells close_notify from a bare FIN when node:tls owns the handle and the session checks it. */
    readonly watch: EndWatch | undefined,
    info: Tls.TlsInfo,
    readonly standardCompatible: boolean,
    /**
     * How `close` ends a graceful close. `false`: it releases the socket as
     * soon as close_notify and every pending write are out, or after
     * CLOSE_WAIT_MILLIS (what a client's Scope always did: it waited that
     * long, then closed the TCP connection under the session). `true`:
     * after that it also reads until the peer closes, for up to
     * LINGER_MILLIS (what a connection a listener handed out does).
     */
    readonly awaitsPeer: boolean,
  ) {
    super(socket, { ...raw.extra, tls: info }, { local: raw.localAddress, remote: raw.remoteAddress })
    this.fd = raw.fd
  }

  override refresh(): void {}

  /**
   * Ends the cleartext side: close_notify, then FIN. On its own handle,
   * node:tls sends the FIN as soon as the last write's callback ran, which
   * can be before the ciphertext of that write (and the close_notify behind
   * it) left the TLS layer (the handshake's last flight too: the client's
   * Finished, the server's session tickets); the close_notify then never
   * reaches the peer. An empty write completes only once the TLS layer has
   * handed all its ciphertext on, so ending behind one keeps the order. It
   * costs a write request, a zero-length write(2) and a turn of the event
   * loop, so it is made only when ciphertext may still be on its way: writes
   * queued in the socket, or the TLS handle's own queue (`writeQueueSize`,
   * the ciphertext it handed to the TCP handle and not yet seen written)
   * not empty or not readable.
   */
  private end(): void {
    const s = this.socket
    if (this.duplex === undefined && !s.writableEnded && !s.destroyed && ciphertextPending(s)) s.write(EMPTY)
    s.end()
  }

  override shutdown(): void {
    this.end()
  }

  private closing = false

  /**
   * Closes with close_notify (so a standard-compatible peer reads a clean
   * end), then releases the socket once the alert and pending writes are
   * out (and, when it `awaitsPeer`, the peer closed too), or after
   * CLOSE_WAIT_MILLIS (LINGER_MILLIS when it `awaitsPeer`). The raw
   * connection is closed when the TLS socket closed.
   */
  override close(unread?: boolean): void {
    if (this.closing) return
    this.closing = true
    const s = this.socket
    const duplex = this.duplex
    if (s.destroyed) {
      if (duplex !== undefined) duplex.destroy()
      else this.raw.close()
      return
    }
    if (
      !s.readableEnded &&
      (unread === true ||
        s.readableLength > 0 ||
        (duplex !== undefined && (duplex.readableLength > 0 || duplex.rawPaused)))
    ) {
      // Closing with received data unread aborts, as TCP does (RST): no
      // close_notify, so the peer cannot mistake it for a clean end.
      if (duplex !== undefined) duplex.abort = true
      this.raw.close(true)
      s.destroy()
      return
    }
    const timer = setTimeout(() => s.destroy(), this.awaitsPeer ? LINGER_MILLIS : CLOSE_WAIT_MILLIS)
    timer.unref()
    s.once("close", () => clearTimeout(timer))
    // After our close_notify is out, read (and drop) until the peer closes
    // too: releasing the descriptor with unread input (TLS 1.3 session
    // tickets, the peer's own close_notify) would make the kernel reset the
    // connection, which the peer would see as ECONNRESET instead of an end.
    const afterFinish = () => {
      if (s.readableEnded || !this.awaitsPeer) s.destroy()
      else {
        s.once("end", () => s.destroy())
        s.resume()
      }
    }
    if (s.writableFinished) afterFinish()
    else {
      s.once("finish", afterFinish)
      this.end()
    }
  }

  /** An end waiting for the verdict of the {@link EndWatch} (delivered at the latest before an error or close). */
  private pendingEnd: (() => void) | undefined = undefined

  private ragged(): NetError.BrokenResource {
    return new NetError.BrokenResource({
      operation: "receive",
      code: RAGGED_EOF_CODE,
      address: this.remoteAddress,
      cause: "the peer closed the connection without sending TLS close_notify",
    })
  }

  private flushEnd(): void {
    const pending = this.pendingEnd
    this.pendingEnd = undefined
    pending?.()
  }

  override start(handlers: Driver.ConnectionHandlers): void {
    super.start({
      onData: (chunk) => handlers.onData(chunk),
      onEnd: () => {
        const failure = this.duplex?.failure
        if (failure !== undefined) return handlers.onError(failure)
        if (!this.standardCompatible) return handlers.onEnd()
        if (this.duplex !== undefined) return this.duplex.ragged ? handlers.onError(this.ragged()) : handlers.onEnd()
        const watch = this.watch
        if (watch?.clean === true) return handlers.onEnd()
        if (watch === undefined) return handlers.onError(this.ragged())
        // The TCP handle ended first. TLS may still report close_notify it
        // found in ciphertext read at that FIN, within the same read callback:
        // decide once that callback is over.
        const decide = () => {
          if (this.pendingEnd !== decide) return
          this.pendingEnd = undefined
          if (watch.clean) handlers.onEnd()
          else handlers.onError(this.ragged())
        }
        this.pendingEnd = decide
        setImmediate(decide)
      },
      onError: (error) => {
        this.flushEnd()
        handlers.onError(this.duplex?.failure ?? error)
      },
      onDrain: () => handlers.onDrain(),
      onClose: () => {
        this.flushEnd()
        // node:tls closes quietly when the raw connection broke underneath it
        const failure = this.duplex?.failure
        if (failure !== undefined) handlers.onError(failure)
        handlers.onClose()
      },
    })
  }
}

const pem = (value: Tls.Pem): string | Buffer => (typeof value === "string" ? value : Buffer.from(value))
const pems = (
  value: Tls.Pem | ReadonlyArray<Tls.Pem> | undefined,
): string | Buffer | Array<string | Buffer> | undefined =>
  value === undefined ? undefined : Array.isArray(value) ? value.map(pem) : pem(value as Tls.Pem)

const credentials = (c: {
  readonly cert?: Tls.Pem | ReadonlyArray<Tls.Pem> | undefined
  readonly key?: Tls.Pem | undefined
  readonly passphrase?: string | undefined
  readonly ca?: Tls.Pem | ReadonlyArray<Tls.Pem> | undefined
  readonly minVersion?: Tls.TlsVersion | undefined
  readonly maxVersion?: Tls.TlsVersion | undefined
}): tls.SecureContextOptions => {
  const o: tls.SecureContextOptions = {}
  const cert = pems(c.cert)
  if (cert !== undefined) o.cert = cert
  if (c.key !== undefined) o.key = pem(c.key)
  if (c.passphrase !== undefined) o.passphrase = c.passphrase
  const ca = pems(c.ca)
  if (ca !== undefined) o.ca = ca
  if (c.minVersion !== undefined) o.minVersion = c.minVersion
  if (c.maxVersion !== undefined) o.maxVersion = c.maxVersion
  return o
}

/**
 * The session facts. The peer certificate is taken as an `X509Certificate`
 * (a reference to OpenSSL's copy, cheap) and turned into a
 * `Tls.PeerCertificate` (subject, fingerprint, ...: the expensive part)
 * only when someone reads it; the reference keeps it readable after the
 * connection closed.
 */
const infoOf = (socket: tls.TLSSocket, serverSide: boolean, serverName: string | undefined): Tls.TlsInfo => {
  const cipher = socket.getCipher()
  const sni = serverSide ? (socket as unknown as { servername?: string | false }).servername : serverName
  const x509 = socket.getPeerX509Certificate()
  let peerCertificate: Option.Option<Tls.PeerCertificate> | undefined
  return {
    alpnProtocol: typeof socket.alpnProtocol === "string" ? Option.some(socket.alpnProtocol) : Option.none(),
    cipher: { name: cipher.name, standardName: cipher.standardName },
    version: socket.getProtocol() ?? "unknown",
    get peerCertificate() {
      if (peerCertificate === undefined)
        peerCertificate =
          x509 === undefined
            ? Option.none()
            : Driver.peerCertificateOf(x509.toLegacyObject() as Partial<tls.PeerCertificate>)
      return peerCertificate
    },
    authorized: socket.authorized,
    serverSide,
    serverName: typeof sni === "string" && sni.length > 0 ? Option.some(sni) : Option.none(),
  }
}

const tlsFailed = (error: unknown, address: SocketAddress.SocketAddress): NetError.TlsFailed => {
  const code = NetError.tlsCodeOf(error)
  const reason = NetError.tlsReasonOf(error, String(error))
  return new NetError.TlsFailed({ code, reason, address, cause: error })
}

const ignoreError = (_error: Error): void => {}

/**
 * The net.Socket node:tls may own directly: a Node TCP or Unix connection
 * nobody has read from yet (nothing read ahead to hand over). node:tls then
 * runs on the socket's native handle, with no JS stream in between, and an
 * {@link EndWatch} tells close_notify from a bare FIN; every other case
 * (STARTTLS over a stream that was read from, TLS over TLS, another
 * driver's connection) goes through a {@link RawDuplex}.
 */
/** Whether {@link EndWatch} could be installed on this Node's TLS handles (assumed until one install fails). */
let endWatchWorks = true

const directSocket = (raw: Driver.RawConnection): net.Socket | undefined =>
  raw instanceof NodeConnection &&
  !(raw instanceof TlsConnection) &&
  !raw.started &&
  raw.socket.readableLength === 0 &&
  !raw.socket.destroyed &&
  fdOf(raw.socket) !== undefined &&
  typeof (raw.socket as unknown as { _handle?: Partial<StreamHandle> })._handle?.readStart === "function"
    ? raw.socket
    : undefined

/** What a client or server handshake does differently (one object per request or per server options, not per handshake). */
interface Side {
  readonly standardCompatible: boolean
  readonly secureEvent: "secureConnect" | "secure"
  /** Creates the TLS socket on its carrier (may throw: options node:tls refuses). */
  open(carrier: net.Socket | RawDuplex): tls.TLSSocket
  /** A failure for an established session that must not be handed on (an unauthorized client). */
  check(socket: tls.TLSSocket, raw: Driver.RawConnection): NetError.TlsFailed | undefined
  /** The cleartext connection of an established session. */
  finish(handshake: Handshake): Driver.RawConnection
}

/** Where a TLS socket's handshake and session listeners find their {@link Handshake}. */
const handshakeKey = Symbol("netfx/TlsHandshake")
type HandshakeSocket = tls.TLSSocket & { [handshakeKey]: Handshake }

// One listener function per event for every handshake (the socket is `this`),
// instead of five closures per handshake.
function onHandshakeSecure(this: HandshakeSocket): void {
  this[handshakeKey].secured()
}
function onHandshakeError(this: HandshakeSocket, error: Error): void {
  this[handshakeKey].failed(tlsFailed(error, this[handshakeKey].raw.remoteAddress))
}
function onHandshakeEnd(this: HandshakeSocket): void {
  this[handshakeKey].ended()
}
/** After the session: the TLS socket closed, so what it ran on is closed too. */
function onSessionClose(this: HandshakeSocket): void {
  this[handshakeKey].releaseCarrier()
}

type Done = (result: Either.Either<Driver.RawConnection, NetError.TlsFailed>) => void

/**
 * A handshake on `raw`: the TLS socket, what it runs on (the raw
 * connection's own handle, or a {@link RawDuplex}), and the wait for the
 * session. `done` is called once: with the established connection, or with
 * the failure once everything the handshake opened (the raw connection
 * included) is closed.
 */
class Handshake {
  private done: Done | undefined = undefined
  /** Set once `done` was called or the handshake was released. */
  private over = false

  constructor(
    readonly raw: Driver.RawConnection,
    readonly side: Side,
    readonly socket: tls.TLSSocket,
    readonly duplex: RawDuplex | undefined,
    readonly watch: EndWatch | undefined,
  ) {
    ;(socket as HandshakeSocket)[handshakeKey] = this
  }

  /**
   * Opens the TLS socket of a handshake on `raw`: on its native handle
   * when it can, over a {@link RawDuplex} otherwise. Throws what node:tls
   * throws for options it refuses (after closing what it opened; `raw`
   * stays to the caller).
   */
  static open(raw: Driver.RawConnection, side: Side): Handshake {
    const standardCompatible = side.standardCompatible
    const direct = standardCompatible && !endWatchWorks ? undefined : directSocket(raw)
    if (direct !== undefined) {
      const socket = side.open(direct)
      // installed before node reads anything (its first read is on the next tick)
      const watch = standardCompatible ? EndWatch.install(socket) : undefined
      // A Node whose TLS handles this does not know: this session's end
      // counts as a bare close (never a truncation taken for a clean
      // end), and later sessions that check close_notify take the Duplex.
      if (standardCompatible && watch === undefined) endWatchWorks = false
      socket.on("error", ignoreError)
      socket.pause()
      return new Handshake(raw, side, socket, undefined, watch)
    }
    const duplex = new RawDuplex(raw)
    let socket: tls.TLSSocket
    try {
      socket = side.open(duplex)
    } catch (error) {
      // the Duplex started the raw connection: it must not be left reading into nothing
      duplex.on("error", ignoreError)
      duplex.destroy()
      throw error
    }
    duplex.cleartext = socket
    // Node emits some handshake failures after a tick (e.g. "socket
    // disconnected before secure TLS connection was established" from
    // its own 'end' handler), possibly after the handshake listeners
    // are gone: a permanent sink keeps such an 'error' from being an
    // uncaught exception. Every failure is still reported through the
    // handshake listeners or the established connection's handlers.
    socket.on("error", ignoreError)
    duplex.on("error", ignoreError)
    socket.pause()
    return new Handshake(raw, side, socket, duplex, undefined)
  }

  /** Waits for the session; `done` is called once (not after {@link release}). */
  wait(done: Done): void {
    this.done = done
    const socket = this.socket
    socket.once(this.side.secureEvent, onHandshakeSecure)
    socket.on("error", onHandshakeError)
    socket.once("close", onHandshakeEnd)
    // the peer went away mid-handshake (a half-open socket gets no 'close')
    socket.once("end", onHandshakeEnd)
  }

  /** Stops waiting: the callback, if the handshake was still waiting (and then not after this). */
  private settle(): Done | undefined {
    if (this.over) return undefined
    this.over = true
    const done = this.done
    this.done = undefined
    const socket = this.socket
    socket.off(this.side.secureEvent, onHandshakeSecure)
    socket.off("error", onHandshakeError)
    socket.off("close", onHandshakeEnd)
    socket.off("end", onHandshakeEnd)
    return done
  }

  secured(): void {
    const done = this.settle()
    if (done === undefined) return
    const failure = this.side.check(this.socket, this.raw)
    if (failure !== undefined) {
      this.releaseCarrier()
      done(Either.left(failure))
      return
    }
    const conn = this.side.finish(this)
    this.socket.once("close", onSessionClose)
    done(Either.right(conn))
  }

  failed(failure: NetError.TlsFailed): void {
    const done = this.settle()
    if (done === undefined) return
    this.releaseCarrier()
    done(Either.left(failure))
  }

  ended(): void {
    const failure = this.duplex?.failure
    this.failed(
      new NetError.TlsFailed({
        code: failure?.code ?? "ECONNRESET",
        reason: "the connection closed before the TLS handshake completed",
        address: this.raw.remoteAddress,
        cause: failure,
      }),
    )
  }

  /**
   * Stops waiting and closes everything the handshake opened, however far
   * it got: the release of an Effect wait that failed or was interrupted
   * (an interruption can arrive in the same instant as the session, whose
   * connection then belongs to nobody).
   */
  release(): void {
    this.settle()
    this.releaseCarrier()
  }

  /**
   * Abandons a handshake in progress: closes everything it opened, and
   * `done` is not called; once `done` ran it does nothing.
   */
  abandon(): void {
    if (this.settle() !== undefined) this.releaseCarrier()
  }

  /** Closes the TLS socket and what it runs on (the raw connection included). */
  releaseCarrier(): void {
    this.socket.destroy()
    if (this.duplex !== undefined) this.duplex.destroy()
    else this.raw.close()
  }
}

/** {@link Handshake.open}, with what node:tls throws as a `TlsFailed` (the raw connection then closed). */
const openHandshake = (raw: Driver.RawConnection, side: Side): Handshake | NetError.TlsFailed => {
  try {
    return Handshake.open(raw, side)
  } catch (error) {
    raw.close()
    return tlsFailed(error, raw.remoteAddress)
  }
}

// The parts of an Effect handshake, module-level (no closures per handshake).
const awaitSession = (h: Handshake | NetError.TlsFailed): Effect.Effect<Driver.RawConnection, NetError.TlsFailed> =>
  h instanceof NetError.TlsFailed
    ? Effect.fail(h)
    : Effect.async<Driver.RawConnection, NetError.TlsFailed>((resume) => h.wait(resume))
const releaseHandshake = (h: Handshake | NetError.TlsFailed): void => {
  if (!(h instanceof NetError.TlsFailed)) h.release()
}
const closeSession = (h: Handshake | NetError.TlsFailed, conn: Driver.RawConnection): Effect.Effect<void> =>
  h instanceof NetError.TlsFailed ? Effect.void : gracefulClose(h.socket, conn)

/**
 * Runs a handshake on a fresh TLSSocket and waits for it. An interrupted
 * or failed handshake destroys the socket and closes the raw connection at
 * once; an established session is registered in the Scope, closed
 * gracefully by {@link gracefulClose} (`Driver.acquireUntilReady`: no
 * FiberRefs snapshot and patch around the release, which needs none).
 */
const handshake = (
  raw: Driver.RawConnection,
  side: Side,
): Effect.Effect<Driver.RawConnection, NetError.TlsFailed, Scope.Scope> =>
  Driver.acquireUntilReady(() => openHandshake(raw, side), awaitSession, releaseHandshake, closeSession)

/**
 * {@link handshake} for a caller that owns the connection
 * (`TlsDriver.connectOwned`): no Scope; a handshake that fails or is
 * interrupted has closed everything it opened, the raw connection
 * included. The connection's own `close` ends the session and closes the
 * raw connection once the TLS socket closed.
 */
const handshakeOwned = (
  raw: Driver.RawConnection,
  side: Side,
  restore: Driver.Restore | undefined,
): Effect.Effect<Driver.RawConnection, NetError.TlsFailed> =>
  Driver.acquireOwned(() => openHandshake(raw, side), awaitSession, releaseHandshake, restore)

/**
 * {@link handshake} without the Effect runtime (`TlsDriver.acceptNow`):
 * `done` is called once, after a failure with everything already closed;
 * the returned function abandons the handshake and closes everything.
 */
const handshakeNow = (raw: Driver.RawConnection, side: Side, done: Done): (() => void) => {
  const h = openHandshake(raw, side)
  if (h instanceof NetError.TlsFailed) {
    done(Either.left(h))
    return noop
  }
  h.wait(done)
  return () => h.abandon()
}

const noop = (): void => {}

/**
 * Scope release of an established session: close it gracefully and wait
 * (briefly) until close_notify was handed to the raw connection, which the
 * Scope closes right after; a peer that does not read cannot hold the
 * Scope longer than CLOSE_WAIT_MILLIS (the raw connection still flushes
 * what it holds in the background).
 */
const gracefulClose = (socket: tls.TLSSocket, conn: Driver.RawConnection): Effect.Effect<void> =>
  Effect.async<void>((resume) => {
    if (socket.closed || socket.writableFinished) {
      conn.close()
      return resume(Effect.void)
    }
    const done = () => {
      clearTimeout(timer)
      socket.off("close", done)
      socket.off("finish", done)
      resume(Effect.void)
    }
    const timer = setTimeout(done, CLOSE_WAIT_MILLIS)
    socket.once("close", done)
    socket.once("finish", done)
    conn.close()
  })

const CLOSE_WAIT_MILLIS = 2_000

/**
 * Client secure contexts, by credentials: building one parses the CA and
 * keys, which would otherwise happen on every connect. Only credentials
 * given as PEM strings (or absent) are cached, keyed by their content
 * (strings compare by value); the cache is bounded, since every distinct
 * set of credentials adds an entry.
 */
const clientContexts = new Map<string, tls.SecureContext>()
const CLIENT_CONTEXTS_MAX = 64

const pemKey = (value: Tls.Pem | ReadonlyArray<Tls.Pem> | undefined): string | undefined =>
  value === undefined ? "" : typeof value === "string" ? value : undefined

/**
 * The common case, a CA alone (no client certificate, no version bounds),
 * keyed by the CA's PEM string itself: no key to build per connect, and a
 * string's hash is computed once per string, so a caller that passes the
 * same CA string every time pays one lookup.
 */
const caContexts = new Map<string, tls.SecureContext>()

const cached = (contexts: Map<string, tls.SecureContext>, id: string, request: Driver.ClientRequest) => {
  let context = contexts.get(id)
  if (context === undefined) {
    context = tls.createSecureContext(credentials(request))
    if (contexts.size >= CLIENT_CONTEXTS_MAX) contexts.clear()
    contexts.set(id, context)
  }
  return context
}

const clientContext = (request: Driver.ClientRequest): tls.SecureContext => {
  const ca = pemKey(request.ca)
  const cert = pemKey(request.cert)
  const key = pemKey(request.key)
  if (ca === undefined || cert === undefined || key === undefined) return tls.createSecureContext(credentials(request))
  if (
    cert === "" &&
    key === "" &&
    request.passphrase === undefined &&
    request.minVersion === undefined &&
    request.maxVersion === undefined
  )
    return cached(caContexts, ca, request)
  // lengths first, so different fields cannot run into each other
  const id = [
    ca.length,
    cert.length,
    key.length,
    request.passphrase ?? "",
    request.minVersion ?? "",
    request.maxVersion ?? "",
    ca,
    cert,
    key,
  ].join("\0")
  return cached(clientContexts, id, request)
}

/** The client side of a handshake: one per connect. */
class ClientSide implements Side {
  readonly secureEvent = "secureConnect"
  readonly standardCompatible: boolean
  /** The name the certificate is checked against; sent as SNI unless numeric. */
  readonly name: string
  readonly numeric: boolean

  constructor(
    readonly request: Driver.ClientRequest,
    /** Whether the caller owns the connection (`connectOwned`): its close then releases the socket itself. */
    readonly owned: boolean,
  ) {
    this.name = request.serverName ?? request.host
    this.numeric = SocketAddress.numericFamily(this.name) !== 0
    this.standardCompatible = request.standardCompatible ?? true
  }

  open(carrier: net.Socket | RawDuplex): tls.TLSSocket {
    const request = this.request
    const options: tls.ConnectionOptions = {
      secureContext: clientContext(request),
      socket: carrier,
      host: this.name,
      rejectUnauthorized: request.rejectUnauthorized ?? true,
    }
    if (!this.numeric) options.servername = this.name
    if (request.alpnProtocols !== undefined) options.ALPNProtocols = [...request.alpnProtocols]
    return tls.connect(options)
  }

  // node:tls already failed the handshake for a rejected certificate when
  // rejectUnauthorized is on; nothing more to check here.
  check(): undefined {
    return undefined
  }

  finish(h: Handshake): Driver.RawConnection {
    const socket = h.socket
    return new TlsConnection(
      socket,
      h.raw,
      h.duplex,
      h.watch,
      infoOf(socket, false, this.numeric ? undefined : this.name),
      this.standardCompatible,
      // a Scope's connection is released by the Scope: gracefulClose, then the raw connection's finalizer
      !this.owned,
    )
  }
}

/** @internal */
export const connect = (
  raw: Driver.RawConnection,
  request: Driver.ClientRequest,
): Effect.Effect<Driver.RawConnection, NetError.TlsFailed, Scope.Scope> =>
  Effect.suspend(() => handshake(raw, new ClientSide(request, false)))

/** @internal */
export const connectOwned = (
  raw: Driver.RawConnection,
  request: Driver.ClientRequest,
  restore?: Driver.Restore,
): Effect.Effect<Driver.RawConnection, NetError.TlsFailed> =>
  handshakeOwned(raw, new ClientSide(request, true), restore)

/**
 * Secure contexts are built once per server options object (a listener
 * passes the same one for every connection) and once per SNI credentials
 * object, not per handshake: building one parses keys and certificates.
 */
const sniContexts = new WeakMap<Tls.TlsServerOptions, WeakMap<object, tls.SecureContext>>()

const sniContext = (
  options: Tls.TlsServerOptions,
  chosen: object & Parameters<typeof credentials>[0],
): tls.SecureContext => {
  let perOptions = sniContexts.get(options)
  if (perOptions === undefined) {
    perOptions = new WeakMap()
    sniContexts.set(options, perOptions)
  }
  let context = perOptions.get(chosen)
  if (context === undefined) {
    context = tls.createSecureContext({ ...credentials(options), ...credentials(chosen) })
    perOptions.set(chosen, context)
  }
  return context
}

/** The server side of handshakes: one per server options object (see {@link serverSideOf}). */
class ServerSide implements Side {
  readonly secureEvent = "secure"
  readonly standardCompatible: boolean
  readonly requestCert: boolean
  readonly rejectUnauthorized: boolean
  readonly alpnProtocols: Array<string> | undefined
  readonly sni: ((servername: string, cb: (err: Error | null, ctx?: tls.SecureContext) => void) => void) | undefined

  constructor(
    readonly options: Tls.TlsServerOptions,
    readonly secureContext: tls.SecureContext,
  ) {
    this.standardCompatible = options.standardCompatible ?? true
    this.requestCert = options.requestCert ?? false
    this.rejectUnauthorized = options.rejectUnauthorized ?? true
    this.alpnProtocols = options.alpnProtocols === undefined ? undefined : [...options.alpnProtocols]
    this.sni =
      options.sniCallback === undefined && options.sniContexts === undefined
        ? undefined
        : (servername, cb) => {
            try {
              const chosen = Driver.credentialsFor(options, servername)
              cb(null, chosen === undefined ? secureContext : sniContext(options, chosen))
            } catch (error) {
              cb(error instanceof Error ? error : new Error(String(error)))
            }
          }
  }

  open(carrier: net.Socket | RawDuplex): tls.TLSSocket {
    const o: tls.TLSSocketOptions = {
      isServer: true,
      secureContext: this.secureContext,
      requestCert: this.requestCert,
      rejectUnauthorized: this.rejectUnauthorized,
    }
    if (this.alpnProtocols !== undefined) o.ALPNProtocols = this.alpnProtocols
    if (this.sni !== undefined) o.SNICallback = this.sni
    // allowHalfOpen is inherited from the carrier (true)
    return new tls.TLSSocket(carrier as net.Socket, o)
  }

  check(socket: tls.TLSSocket, raw: Driver.RawConnection): NetError.TlsFailed | undefined {
    if (!this.requestCert) return undefined
    // What tls.Server does for its sockets, done here for a standalone TLSSocket.
    const handle = (socket as unknown as { _handle?: { verifyError?: () => Error | null } })._handle
    const verifyError = handle?.verifyError?.() ?? null
    const mutable = socket as unknown as { authorized: boolean; authorizationError?: Error | string }
    if (verifyError === null) {
      mutable.authorized = true
      return undefined
    }
    const code = NetError.errnoOf(verifyError).code
    mutable.authorized = false
    mutable.authorizationError = code
    return this.rejectUnauthorized
      ? new NetError.TlsFailed({
          code,
          reason: `the client certificate was not accepted: ${NetError.tlsReasonOf(verifyError, String(verifyError))}`,
          address: raw.remoteAddress,
          cause: verifyError,
        })
      : undefined
  }

  finish(h: Handshake): Driver.RawConnection {
    const socket = h.socket
    return new TlsConnection(
      socket,
      h.raw,
      h.duplex,
      h.watch,
      infoOf(socket, true, undefined),
      this.standardCompatible,
      true,
    )
  }
}

/**
 * The server side for `options`, built once per options object (a listener
 * passes the same one for every connection), or the failure to build its
 * secure context (not kept: the next handshake tries again).
 */
const serverSides = new WeakMap<Tls.TlsServerOptions, ServerSide>()

const serverSideOf = (raw: Driver.RawConnection, options: Tls.TlsServerOptions): ServerSide | NetError.TlsFailed => {
  let side = serverSides.get(options)
  if (side === undefined) {
    try {
      side = new ServerSide(options, tls.createSecureContext(credentials(options)))
    } catch (error) {
      return tlsFailed(error, raw.remoteAddress)
    }
    serverSides.set(options, side)
  }
  return side
}

/** @internal */
export const accept = (
  raw: Driver.RawConnection,
  options: Tls.TlsServerOptions,
): Effect.Effect<Driver.RawConnection, NetError.TlsFailed, Scope.Scope> =>
  Effect.suspend(() => {
    const side = serverSideOf(raw, options)
    return side instanceof NetError.TlsFailed ? Effect.fail(side) : handshake(raw, side)
  })

/** @internal */
export const acceptNow = (raw: Driver.RawConnection, options: Tls.TlsServerOptions, done: Done): (() => void) => {
  const side = serverSideOf(raw, options)
  if (side instanceof NetError.TlsFailed) {
    raw.close()
    done(Either.left(side))
    return noop
  }
  return handshakeNow(raw, side, done)
}

/** @internal */
export const driver: Driver.TlsDriver = { connect, connectOwned, accept, acceptNow }
