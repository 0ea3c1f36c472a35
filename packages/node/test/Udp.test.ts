import { fileURLToPath } from "node:url"
import { canBindUdp6, datagramContract, namespaceSupport, Peers, unshareRunner } from "@netfx/core/testing"
import { NodeNetwork } from "@netfx/node"

const fixture = fileURLToPath(new URL("./fixtures/udp-namespace.ts", import.meta.url))
const tsx = fileURLToPath(new URL("../../../node_modules/.bin/tsx", import.meta.url))
const namespaceProblem = await namespaceSupport()

datagramContract({
  name: "node",
  layer: NodeNetwork.layer,
  openFds: Peers.openFds,
  rss: Peers.rss,
  ipv6: await canBindUdp6(),
  // node:dgram has reusePort from 22.12 / 23.1; on older Node the @netfx/native addon sets it
  reusePort: true,
  bufferSizes: true,
  coalescedWakeups: true,
  ...(namespaceProblem === undefined
    ? { namespace: unshareRunner([tsx, fixture]) }
    : { namespaceSkipReason: namespaceProblem }),
})
