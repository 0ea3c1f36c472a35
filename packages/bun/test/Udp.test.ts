import { fileURLToPath } from "node:url"
import { BunNetwork } from "@netfx/bun"
import { canBindUdp6, datagramContract, namespaceSupport, Peers, unshareRunner } from "@netfx/core/testing"

const fixture = fileURLToPath(new URL("./fixtures/udp-namespace.ts", import.meta.url))
const namespaceProblem = await namespaceSupport()

datagramContract({
  name: "bun",
  layer: BunNetwork.layer,
  openFds: Peers.openFds,
  rss: Peers.rss,
  ipv6: await canBindUdp6(),
  reusePort: true,
  // Bun.udpSocket cannot set SO_RCVBUF / SO_SNDBUF; the @netfx/native addon sets them on its descriptor
  bufferSizes: true,
  coalescedWakeups: true,
  ...(namespaceProblem === undefined
    ? { namespace: unshareRunner([process.execPath, fixture]) }
    : { namespaceSkipReason: namespaceProblem }),
})
