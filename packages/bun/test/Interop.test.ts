import { BunNetwork } from "@netfx/bun"
import { pythonInterop } from "@netfx/core/testing"

pythonInterop({ name: "bun", layer: BunNetwork.layer })
