import { NetError, type SocketAddress } from "@netfx/core"
import * as Effect from "effect/Effect"
import type { BunConnection, BunSocket } from "../connection.ts"

/*
 * The handshake of one upgrade: Bun's TLS socket handlers (`tlsHandlers`)
 * report to the upgrade's `Session` until the handshake settles, then to
 * the connection adapter. Bun's own handshake result is only an input:
 * whether the peer is accepted is `verdict.ts`'s decision.
 */

export type Outcome =
  | {
      readonly _tag: "secure"
      /** The certificate verification error Bun reported with the completed handshake, if any. */
      readonly verifyError: Error | null
    }
  | { readonly _tag: "failed"; readonly error: NetError.TlsFailed }

export interface TlsData {
  conn: BunConnection | undefined
  session: Session | undefined
}

/** One upgrade in progress: settles once with the handshake's outcome. */
export class Session {
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

export const tlsFailed = (
  error: unknown,
  address: SocketAddress.SocketAddress,
  fallback: string,
): NetError.TlsFailed => {
  const code = NetError.tlsCodeOf(error)
  const reason = NetError.tlsReasonOf(error, fallback)
  return new NetError.TlsFailed({ code, reason, address, cause: error ?? undefined })
}

const dataOf = (socket: { data: unknown }): TlsData => socket.data as TlsData

export const tlsHandlers = {
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
