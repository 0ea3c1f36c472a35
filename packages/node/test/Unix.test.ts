import { Peers, unixContract } from "@netfx/core/testing"
import { NodeNetwork } from "@netfx/node"

unixContract({
  name: "node",
  layer: NodeNetwork.layer,
  openFds: Peers.openFds,
  rss: Peers.rss,
})
