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

/** A PEM value (string or bytes) carries at least one `-----BEGIN` line; looks at its first 64 KiB. */
const isPem = (value: unknown): boolean => {
  if (typeof value === "string") return value.includes("-----BEGIN")
  if (value instanceof Uint8Array)
    return new TextDecoder("latin1").decode(value.subarray(0, 65536)).includes("-----BEGIN")
  return false
}

/** A string that reads as a file system path rather than PEM text. */
const looksLikePath = (value: unknown): boolean =>
  typeof value === "string" &&
  value.length < 4096 &&
  !/[\r\n]/.test(value) &&
  /^(\.{0,2}\/|~\/|[A-Za-z]:\\)|\.(pem|crt|cer|key)$/i.test(value.trim())

/**
 * The first of `ca`, `cert`, `key` (named under `prefix`) that is not PEM
 * text, with what to do about it: a file path passed where its contents
 * belong is the usual mistake, and the runtimes otherwise ignore a bad CA
 * (the peer then reads as untrusted) or fail only at the handshake with
 * OpenSSL's "no start line". `value` is kept for `ca` and `cert` (public),
 * never for `key`.
 */
export const notPem = (
  prefix: string,
  options: {
    readonly ca?: unknown
    readonly cert?: unknown
    readonly key?: unknown
  },
): { readonly argument: string; readonly reason: string; readonly value?: unknown } | undefined => {
  for (const field of ["ca", "cert", "key"] as const) {
    const value = options[field]
    if (value === undefined) continue
    const values: ReadonlyArray<unknown> = Array.isArray(value) ? value : [value]
    for (const v of values) {
      if (isPem(v)) continue
      const hint = looksLikePath(v)
        ? "it looks like a file path: pass the file's contents (e.g. readFileSync(path)), not its path"
        : "pass PEM text, as a string or its bytes (DER is not accepted)"
      return {
        argument: `${prefix}.${field}`,
        reason: `is not PEM (no "-----BEGIN" line): ${hint}`,
        ...(field === "key" ? {} : { value: v }),
      }
    }
  }
  return undefined
}

/** {@link notPem} as the `InvalidArgument` of a listen or a server-side wrap. */
export const pemInvalid = (
  prefix: string,
  options: { readonly ca?: unknown; readonly cert?: unknown; readonly key?: unknown },
): InvalidArgument | undefined => {
  const bad = notPem(prefix, options)
  return bad === undefined ? undefined : new InvalidArgument(bad)
}

/**
 * {@link notPem} as the `TlsFailed` of a client connect or wrap (unparseable
 * client credentials have always failed the connect with `TlsFailed`), with
 * OpenSSL's code for it, before anything is opened.
 */
export const pemFailed = (
  prefix: string,
  options: { readonly ca?: unknown; readonly cert?: unknown; readonly key?: unknown },
): TlsFailed | undefined => {
  const bad = notPem(prefix, options)
  return bad === undefined
    ? undefined
    : new TlsFailed({ code: "ERR_OSSL_PEM_NO_START_LINE", reason: `${bad.argument} ${bad.reason}` })
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
  const pem = pemInvalid("tls", options) ?? sniPemError(options)
  if (pem !== undefined) return Effect.fail(pem)
  const keys = validateSniKeys(options)
  return keys === undefined ? Effect.succeed(options) : Effect.fail(keys)
}

/** `pemInvalid` for each `sniContexts` entry's credentials. */
const sniPemError = (options: TlsServerOptions): InvalidArgument | undefined => {
  if (options.sniContexts === undefined) return undefined
  for (const [name, credentials] of Object.entries(options.sniContexts)) {
    const error = pemInvalid(`tls.sniContexts[${JSON.stringify(name)}]`, credentials)
    if (error !== undefined) return error
  }
  return undefined
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
