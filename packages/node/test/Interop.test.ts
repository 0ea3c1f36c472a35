import { pythonInterop } from "@netfx/core/testing"
import { NodeNetwork } from "@netfx/node"

pythonInterop({ name: "node", layer: NodeNetwork.layer })
