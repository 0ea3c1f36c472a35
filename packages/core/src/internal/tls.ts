// What core asks of a runtime's TLS driver, shared by `Tcp` and `Tls.wrap`:
// the driver itself, the client request (SNI in its ASCII form), the client
// handshake under `handshakeTimeout`, and the server options, validated
// once at listen time.
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as Scope from "effect/Scope"
import type { ClientRequest, RawConnection, TlsDriver } from "../Driver.ts"
import { InvalidArgument, TlsFailed, type Unsupported } from "../NetError.ts"
import * as Network from "../Network.ts"
import type { TlsClientOptions, TlsServerOptions } from "../Tls.ts"
import { releasingOnFailure } from "./connect.ts"
import { toAscii } from "./resolver/idna.ts"
import { sniKey } from "./sni.ts"
import * as validate from "./validate.ts"

/**
 * The current network's TLS driver, failing with `Unsupported` when the
 * runtime has none or declares it unusable.
 */
export const driver: Effect.Effect<TlsDriver, Unsupported, Network.Network> = Effect.flatMap(
  Network.driver("tls", "TLS"),
  (d) => (d.unsupported === undefined ? Effect.succeed(d) : Effect.fail(d.unsupported)),
)

/**
 * The client request `Tcp.connect` builds from its `tls` option.
 */
export const clientRequest = (host: string, tls: true | TlsClientOptions): ClientRequest => {
  const bare = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host
  const options: TlsClientOptions = tls === true ? {} : tls
  const name = options.serverName ?? bare
  // SNI carries the ASCII (IDNA 2008) form of internationalised names.
  const serverName = Either.getOrElse(toAscii(name), () => name)
  return { ...options, host: bare, serverName }
}

/**
 * The client handshake with the request's `handshakeTimeout` applied:
 * `TlsFailed` code `ETIMEDOUT` when it passes (the interrupted handshake
 * closes what it opened), `InvalidArgument` for a bad duration.
 */
export const clientHandshake = (
  tls: TlsDriver,
  raw: RawConnection,
  request: ClientRequest,
): Effect.Effect<RawConnection, TlsFailed | InvalidArgument, Scope.Scope> => {
  const limit = request.handshakeTimeout
  if (limit === undefined) return tls.connect(raw, request)
  return Effect.flatMap(validate.positiveDuration("tls.handshakeTimeout", limit), (duration) =>
    // on timeout, what the handshake opened is released at once (the raw connection too)
    releasingOnFailure(
      tls.connect(raw, request).pipe(
        Effect.timeoutFail({
          duration,
          onTimeout: () =>
            new TlsFailed({
              code: "ETIMEDOUT",
              reason: `TLS handshake did not complete within ${Duration.format(duration)}`,
              address: raw.remoteAddress,
            }),
        }),
        Effect.tapError(() => Effect.sync(() => raw.close())),
      ),
    ),
  )
}

/**
 * Validates server options once, at listen time.
 */
export const validateServer = (options: TlsServerOptions): Effect.Effect<TlsServerOptions, InvalidArgument> => {
  const t = options.handshakeTimeout
  if (t !== undefined && !validate.isPositiveDuration(t)) {
    return Effect.fail(
      new InvalidArgument({ argument: "tls.handshakeTimeout", reason: "must be a positive duration", value: t }),
    )
  }
  const m = options.maxHandshakes
  if (m !== undefined && (typeof m !== "number" || !Number.isInteger(m) || m < 1)) {
    return Effect.fail(
      new InvalidArgument({ argument: "tls.maxHandshakes", reason: "must be an integer >= 1", value: m }),
    )
  }
  if (options.cert === undefined || options.key === undefined) {
    return Effect.fail(
      new InvalidArgument({ argument: "tls", reason: "a TLS listener needs cert and key", value: undefined }),
    )
  }
  const keys = validateSniKeys(options)
  return keys === undefined ? Effect.succeed(options) : Effect.fail(keys)
}

/** An `InvalidArgument` for the first `sniContexts` key that is not a valid host name (or wildcard). */
export const validateSniKeys = (options: TlsServerOptions): InvalidArgument | undefined => {
  if (options.sniContexts === undefined) return undefined
  for (const key of Object.keys(options.sniContexts)) {
    if (sniKey(key) === undefined) {
      return new InvalidArgument({
        argument: "tls.sniContexts",
        reason: `the key ${JSON.stringify(key)} is not a valid host name (IDNA 2008, UTS #46) or "*." wildcard`,
        value: key,
      })
    }
  }
  return undefined
}
