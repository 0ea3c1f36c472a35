/**
 * @netfx/cluster: `@effect/cluster` runners over any netfx `Network`.
 *
 * @since 0.1.0
 */

/**
 * Runner-to-runner protocol, runner `SocketServer` and the runner layer
 * (`NodeClusterSocket.layer`'s counterpart) over netfx.
 *
 * @example
 * ```ts
 * import { ClusterSocket } from "@netfx/cluster"
 *
 * const runner = ClusterSocket.layer({ storage: "local" })
 * ```
 *
 * @since 0.1.0
 */
export * as ClusterSocket from "./ClusterSocket.ts"

/**
 * A `RunnerStorage` shared by the runners of a simulated cluster.
 *
 * @example
 * ```ts
 * import { MemoryRunnerStorage } from "@netfx/cluster"
 *
 * const storage = MemoryRunnerStorage.make()
 * ```
 *
 * @since 0.1.0
 */
export * as MemoryRunnerStorage from "./MemoryRunnerStorage.ts"
