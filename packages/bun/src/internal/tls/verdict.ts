import { NetError, type SocketAddress, type Tls } from "@netfx/core"
import * as Driver from "@netfx/core/Driver"
import * as Option from "effect/Option"

/*
 * What an established session is worth: the verdict on the peer (whether
 * it is authorized, and the refusal when the policy rejects it), and the
 * facts of the session (`TlsInfo`: ALPN, cipher, version, the peer's
 * certificate, SNI) read from Bun's TLS socket.
 */

export interface BunTlsSocket {
  readonly authorized: boolean
  readonly alpnProtocol: string | false | null
  getCipher(): { readonly name: string; readonly standardName?: string }
  getTLSVersion(): string
  getPeerCertificate(): Driver.RuntimePeerCertificate | null | undefined
  getServername(): string | undefined
}

export const peerCertificate = (socket: BunTlsSocket): Option.Option<Tls.PeerCertificate> => {
  try {
    return Driver.peerCertificateOf(socket.getPeerCertificate())
  } catch {
    return Option.none()
  }
}

export const infoOf = (
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

/**
 * Whether an established session's peer is authorized, and the refusal when
 * the policy rejects unauthorized peers: a client verifies the server
 * always (unless `rejectUnauthorized: false`); a server verifies clients
 * when it asked for a certificate (`requestCert`), and a client that sent
 * none is unauthorized too. Nothing unauthorized is ever handed on unless
 * the user turned `rejectUnauthorized` off.
 */
export const verdict = (
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
