import { BunNetwork } from "@netfx/bun"
import { Peers, resolverContract } from "@netfx/core/testing"

resolverContract({
  name: "bun",
  layer: BunNetwork.layer,
  layerWithResolver: BunNetwork.layerWithResolver,
  openFds: Peers.openFds,
})
