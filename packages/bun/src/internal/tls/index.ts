import { type NetError, SocketAddress, type Tls } from "@netfx/core"
import * as Driver from "@netfx/core/Driver"
import type * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { type BunTlsOptions, baseOptions } from "./options.ts"
import { upgrade } from "./upgrade.ts"

/*
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
 * Here: the driver's `connect` (client) and `accept` (server) turn their
 * options into Bun's (`options.ts`) and upgrade (`upgrade.ts`: in place or
 * over `relay.ts`, SNI in `sni.ts`); `handshake.ts` follows the handshake,
 * `verdict.ts` judges the peer, `connection.ts` adapts the result.
 */

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
