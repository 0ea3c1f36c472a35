import { Peers, tlsContract } from "@netfx/core/testing"
import { NodeNetwork } from "@netfx/node"

tlsContract({
  name: "node",
  layer: NodeNetwork.layer,
  openFds: Peers.openFds,
  rss: Peers.rss,
})
