import { BunNetwork } from "@netfx/bun"
import { nativeContract, Peers } from "@netfx/core/testing"

nativeContract({ name: "bun", layer: BunNetwork.layer, openFds: Peers.openFds })
