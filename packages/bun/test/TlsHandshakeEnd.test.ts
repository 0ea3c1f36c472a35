import { BunNetwork } from "@netfx/bun"
import { tlsAbruptPeer } from "@netfx/core/testing"

tlsAbruptPeer({ name: "bun", layer: BunNetwork.layer })
