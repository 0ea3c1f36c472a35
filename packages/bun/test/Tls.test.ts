import { BunNetwork } from "@netfx/bun"
import { Peers, tlsContract } from "@netfx/core/testing"

// The TLS contract on Bun's native TLS (packages/bun/src/internal/tls.ts). One limit,
// measured on Bun 1.4.5: Bun reports a peer's close_notify and a bare TCP FIN with the same
// `end` event, so a missing close_notify reads as EndOfStream even with standardCompatible
// (the contract then checks that documented behaviour instead). SNI and a read-ahead
// ClientHello under STARTTLS work through the loopback relay.
tlsContract({
  name: "bun",
  layer: BunNetwork.layer,
  openFds: Peers.openFds,
  rss: Peers.rss,
  tlsLimits: { raggedEof: false },
})
