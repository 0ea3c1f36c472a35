import type { Tls } from "@netfx/core"
import { NetError } from "@netfx/core"
import * as Effect from "effect/Effect"

const bunVersion = (globalThis as { Bun?: { version?: string } }).Bun?.version ?? "unknown"

/**
 * Why BunNetwork does not offer TLS yet, measured on Bun 1.4.5 against the
 * TLS contract (packages/core/testing/TlsContract.ts):
 *
 * - `node:tls` over a netfx stream (the Node driver's approach) passes
 *   verification, mTLS, ALPN, STARTTLS, close_notify detection and the
 *   OpenSSL peer tests, but Bun's TLSSocket closes its sending side as
 *   soon as the peer's close_notify arrives (`allowHalfOpen` is ignored),
 *   so a reply after the peer's `sendEof` is silently lost, and its
 *   `write` never reports backpressure (64 MiB accepted with no reader).
 * - Bun's native TLS (`Bun.connect({ tls })`, `socket.upgradeTLS`) does
 *   half-close correctly, but needs the TCP driver's sockets to be
 *   upgraded in place (client and server side); that integration is not
 *   written yet.
 *
 * Rather than a TLS that loses data, `Tcp.connect({ tls })`,
 * `Tcp.listen({ tls })` and `Tls.wrap` fail with this `Unsupported`.
 *
 * @internal
 */
export const unsupported = new NetError.Unsupported({
  feature: "TLS",
  runtime: `bun ${bunVersion}`,
  reason:
    "Bun's node:tls sockets lose data after the peer's close_notify (no TLS half-close) and report no write backpressure; " +
    "the native Bun TLS integration (socket.upgradeTLS on netfx TCP sockets) is not implemented yet. Use NodeNetwork for TLS.",
})

const unreachable = Effect.dieMessage("netfx: the Bun TLS driver is unsupported and must not be called")

/** @internal */
export const driver: Tls.TlsDriver = {
  unsupported,
  connect: () => unreachable,
  accept: () => unreachable,
}
