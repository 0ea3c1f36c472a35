import type { SocketAddress, Tls } from "@netfx/core"
import type * as Driver from "@netfx/core/Driver"
import { type BunConnection, type BunSocket, LINGER_MILLIS } from "../connection.ts"
import type { Relay } from "./relay.ts"

/*
 * The established TLS connection as a RawConnection: the cleartext side,
 * a `BunConnection` over Bun's TLS socket, with TLS's way of closing (and,
 * through a relay, the raw connection's failure reported in place of the
 * TLS side's end).
 */

/**
 * The cleartext side: a BunConnection over the TLS socket, with TLS's
 * close: close_notify, then keep reading (and dropping) until the peer
 * closes too, so unread input (TLS 1.3 session tickets, the peer's own
 * close_notify) never makes the kernel reset the connection; bounded by
 * LINGER_MILLIS.
 */
export class TlsConnection implements Driver.RawConnection {
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
