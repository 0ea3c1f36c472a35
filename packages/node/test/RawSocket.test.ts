import { canBindUdp6, Peers, rawSocketContract } from "@netfx/core/testing"
import { NodeNetwork } from "@netfx/node"

rawSocketContract({ name: "node", layer: NodeNetwork.layer, openFds: Peers.openFds, ipv6: await canBindUdp6() })
