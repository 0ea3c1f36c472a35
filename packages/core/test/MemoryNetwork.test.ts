import { MemoryNetwork } from "@netfx/core"
import { tcpContract } from "@netfx/core/testing"
import * as Effect from "effect/Effect"

tcpContract({
  name: "memory",
  layer: MemoryNetwork.layer({ links: [{ to: "192.0.2.1", faults: { blackhole: true } }] }),
  unresolvableHost: "nonexistent.invalid",
  blackhole: Effect.succeed({ host: "192.0.2.1", port: 9 }),
})
