/**
 * TLS over the memory network: NodeNetwork's TLS driver (node:tls over any
 * RawConnection) plugged into `MemoryNetwork.layer({ tls })` passes the
 * byte-stream contract with TLS on top of in-memory connections.
 */

import { afterAll } from "@effect/vitest"
import { MemoryNetwork, Network } from "@netfx/core"
import { Certs, streamContract, tlsTransport } from "@netfx/core/testing"
import { NodeNetwork } from "@netfx/node"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"

const certs = Certs.generate()
afterAll(() => Certs.remove(certs))

const layer = Layer.unwrapEffect(Effect.map(Network.Network, (node) => MemoryNetwork.layer({ tls: node.tls }))).pipe(
  Layer.provide(NodeNetwork.layer),
)

streamContract({ name: "memory + node TLS", layer }, tlsTransport(certs))
