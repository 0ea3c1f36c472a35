/**
 * TLS over the memory network with Bun's TLS driver (Bun's native TLS
 * through its Unix socket-pair relay, over in-memory connections): the
 * byte-stream contract passes with TLS on top.
 */

import { afterAll } from "@effect/vitest"
import { BunNetwork } from "@netfx/bun"
import { MemoryNetwork } from "@netfx/core"
import { Certs, streamContract, tlsTransport } from "@netfx/core/testing"

const certs = Certs.generate()
afterAll(() => Certs.remove(certs))

streamContract(
  { name: "memory + bun TLS", layer: MemoryNetwork.layer({ tls: BunNetwork.make().tls }) },
  tlsTransport(certs),
)
