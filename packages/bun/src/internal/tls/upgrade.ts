import { NetError } from "@netfx/core"
import type * as Driver from "@netfx/core/Driver"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import { BunConnection, type BunSocket, byExtra } from "../connection.ts"
import { TlsConnection } from "./connection.ts"
import { Session, type TlsData, tlsFailed, tlsHandlers } from "./handshake.ts"
import type { BunTlsOptions } from "./options.ts"
import { Feed, Relay, socketPair } from "./relay.ts"
import { readServerName } from "./sni.ts"
import { type BunTlsSocket, infoOf, peerCertificate, verdict } from "./verdict.ts"

/*
 * The upgrade: in place (`socket.upgradeTLS` on a BunNetwork socket) or
 * over a relay (a STARTTLS stream that already read ciphertext ahead, a
 * server that reads the ClientHello for SNI, a connection from another
 * driver), then the handshake, the verdict, and the connection adapter.
 */

const bunVersion = (globalThis as { Bun?: { version?: string } }).Bun?.version ?? "unknown"

/** @internal */
export const RUNTIME = `bun ${bunVersion}`

/** The BunConnection under a RawConnection (itself, or the one a STARTTLS detach wraps). */
const bunConnectionOf = (raw: Driver.RawConnection): BunConnection | undefined =>
  raw instanceof BunConnection ? raw : byExtra.get(raw.extra)

const cannot = (raw: Driver.RawConnection, code: string, reason: string) =>
  Effect.fail(new NetError.TlsFailed({ code, reason: `${reason} (${RUNTIME})`, address: raw.remoteAddress }))

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
export const upgrade = (
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
