import { Peers, tcpContract } from "@netfx/core/testing"
import { NodeNetwork } from "@netfx/node"

tcpContract({
  name: "node",
  layer: NodeNetwork.layer,
  openFds: Peers.openFds,
  rss: Peers.rss,
  unresolvableHost: "nonexistent.invalid",
  blackhole: Peers.blackhole,
})
