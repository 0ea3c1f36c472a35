import { BunNetwork } from "@netfx/bun"
import { Peers, tlsContract } from "@netfx/core/testing"

// The TLS contract on Bun's native TLS (packages/bun/src/internal/tls.ts), with the
// limits measured on Bun 1.4.5:
// - raggedEof: Bun reports a peer's close_notify and a bare TCP FIN with the same `end`
//   event, so a missing close_notify reads as EndOfStream even with standardCompatible.
// - sni: socket.upgradeTLS takes one certificate (an array of per-name contexts is refused
//   with "TLSOptions must be an object"), so an SNI listener's handshakes fail with TlsFailed.
// - readAheadHandOver: Bun's TLS reads the descriptor itself, so ciphertext a plain stream
//   already read ahead cannot be handed to it; Tls.wrap then fails with TlsFailed
//   ERR_TLS_READ_AHEAD (tested in BunTls.test.ts).
tlsContract({
  name: "bun",
  layer: BunNetwork.layer,
  openFds: Peers.openFds,
  rss: Peers.rss,
  tlsLimits: { raggedEof: false, sni: false, readAheadHandOver: false },
})
