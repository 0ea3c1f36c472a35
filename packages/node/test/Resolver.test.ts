import { Peers, resolverContract } from "@netfx/core/testing"
import { NodeNetwork } from "@netfx/node"

resolverContract({
  name: "node",
  layer: NodeNetwork.layer,
  layerWithResolver: NodeNetwork.layerWithResolver,
  openFds: Peers.openFds,
})
