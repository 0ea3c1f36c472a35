import { fileURLToPath } from "node:url"
import { canBindUdp6, datagramContract, namespaceSupport, Peers, unshareRunner } from "@netfx/core/testing"
import { NodeNetwork } from "@netfx/node"

const [major = 0, minor = 0] = process.versions.node.split(".").map(Number)
const fixture = fileURLToPath(new URL("./fixtures/udp-namespace.ts", import.meta.url))
const tsx = fileURLToPath(new URL("../../../node_modules/.bin/tsx", import.meta.url))
const namespaceProblem = await namespaceSupport()

datagramContract({
  name: "node",
  layer: NodeNetwork.layer,
  openFds: Peers.openFds,
  rss: Peers.rss,
  ipv6: await canBindUdp6(),
  // node:dgram has reusePort from 22.12 / 23.1; on older Node it is Unsupported
  reusePort: major > 23 || (major === 23 && minor >= 1) || (major === 22 && minor >= 12),
  bufferSizes: true,
  ...(namespaceProblem === undefined
    ? { namespace: unshareRunner([tsx, fixture]) }
    : { namespaceSkipReason: namespaceProblem }),
})
