// The consumer test's type-check of @netfx/cluster against its published
// declarations and its installed peers (@effect/cluster, rpc, sql, workflow,
// platform), compiled like app.ts (strict, skipLibCheck off) but with the DOM
// lib: @effect/rpc's own declarations name `globalThis.Transferable`, which
// only the DOM and WebWorker libs declare.

import type { Sharding } from "@effect/cluster/Sharding"
import * as RpcSerialization from "@effect/rpc/RpcSerialization"
import { ClusterSocket, MemoryRunnerStorage } from "@netfx/cluster"
import * as ClusterSocketModule from "@netfx/cluster/ClusterSocket"
import * as MemoryRunnerStorageModule from "@netfx/cluster/MemoryRunnerStorage"
import { MemoryNetwork } from "@netfx/core"
import { NodeNetwork } from "@netfx/node"
import { Layer } from "effect"

// a single-node runner over netfx TCP with in-memory storage: nothing left to provide
const runner: Layer.Layer<Sharding, unknown, never> = ClusterSocket.layer({ storage: "local" }).pipe(
  Layer.provide([RpcSerialization.layerMsgPack, NodeNetwork.layer]),
)
// the client protocol over the in-memory network
const protocol = ClusterSocketModule.layerClientProtocol.pipe(
  Layer.provide([RpcSerialization.layerMsgPack, MemoryNetwork.layer()]),
)
const storage = MemoryRunnerStorage.make()
const storageLayer: typeof MemoryRunnerStorage.layer = MemoryRunnerStorageModule.layer

export { protocol, runner, storage, storageLayer }
