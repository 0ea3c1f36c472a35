import { BunNetwork } from "@netfx/bun"
import { Peers, unixContract } from "@netfx/core/testing"

unixContract({ name: "bun", layer: BunNetwork.layer, openFds: Peers.openFds, rss: Peers.rss })
