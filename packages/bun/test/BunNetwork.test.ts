import { BunNetwork } from "@netfx/bun"
import { Peers, tcpContract } from "@netfx/core/testing"

tcpContract({
  name: "bun",
  layer: BunNetwork.layer,
  openFds: Peers.openFds,
  rss: Peers.rss,
  unresolvableHost: "nonexistent.invalid",
  blackhole: Peers.blackhole,
})
