import { BunNetwork } from "@netfx/bun"
import { canBindUdp6, Peers, rawSocketContract } from "@netfx/core/testing"

rawSocketContract({ name: "bun", layer: BunNetwork.layer, openFds: Peers.openFds, ipv6: await canBindUdp6() })
