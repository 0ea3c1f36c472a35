import { tlsAbruptPeer } from "@netfx/core/testing"
import { NodeNetwork } from "@netfx/node"

tlsAbruptPeer({ name: "node", layer: NodeNetwork.layer })
