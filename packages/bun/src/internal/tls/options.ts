import type { Tls } from "@netfx/core"

/*
 * The TLS options in the form Bun's `upgradeTLS` takes: PEM values, ALPN
 * in wire format, and the minimum/maximum version as BoringSSL option
 * bits. `baseOptions` is what a client request, server options and an
 * SNI context have in common (credentials, ALPN, versions).
 */

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

export interface BunTlsOptions {
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

export const baseOptions = (c: {
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
