/**
 * TLS over the memory network: NodeNetwork's TLS driver (node:tls over any
 * RawConnection) plugged into `MemoryNetwork.layer({ tls })` passes the
 * byte-stream contract with TLS on top of in-memory connections.
 */

import { afterAll } from "@effect/vitest"
import { MemoryNetwork } from "@netfx/core"
import { Certs, streamContract, tlsTransport } from "@netfx/core/testing"
import { NodeNetwork } from "@netfx/node"

const certs = Certs.generate()
afterAll(() => Certs.remove(certs))

const layer = MemoryNetwork.layer({ tls: NodeNetwork.make().tls })

streamContract({ name: "memory + node TLS", layer }, tlsTransport(certs))
