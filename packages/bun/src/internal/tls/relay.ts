import type { NetError, SocketAddress } from "@netfx/core"
import type * as Driver from "@netfx/core/Driver"
import * as Effect from "effect/Effect"
import type { BunSocket } from "../connection.ts"
import { tlsFailed } from "./handshake.ts"

/*
 * TLS over any RawConnection: where the socket cannot be upgraded in
 * place, Bun's TLS runs on one end of a Unix socket pair (a one-off
 * abstract name) and `Relay` copies ciphertext between the other end and
 * the connection. `Feed` holds a connection's events (bytes a STARTTLS
 * stream read ahead, a ClientHello read for SNI) until the relay takes it.
 */

/**
 * A started RawConnection whose events are held until a target is attached
 * (bytes read ahead by a plain stream, a ClientHello read for SNI).
 */
export class Feed {
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
export class Relay {
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
export const socketPair = (
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
