/**
 * The `Network` service: what a runtime provides (`NodeNetwork.layer`,
 * `BunNetwork.layer`, `MemoryNetwork.layer`). Users do not call it
 * directly; they call the module functions (`Tcp.connect`, `Udp.bind`, ...)
 * which need `Network` in their context.
 *
 * A runtime supplies one driver per transport. A driver it lacks makes the
 * matching module functions fail with `Unsupported`, saying which runtime
 * and why; everything else keeps working.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type { TcpDriver, TlsDriver, UdpDriver, UnixDriver } from "./Driver.ts"
import type { NativeDriver } from "./NativeDriver.ts"
import { Unsupported } from "./NetError.ts"
import type { ResolverService } from "./Resolver.ts"

/**
 * What a runtime implements.
 *
 * @example
 * ```ts
 * import { MemoryNetwork, Network } from "@netfx/core"
 * import { Effect } from "effect"
 * import * as assert from "node:assert"
 *
 * const runtime = Effect.map(Network.Network, (service: Network.NetworkService) => service.runtime)
 * assert.strictEqual(Effect.runSync(Effect.provide(runtime, MemoryNetwork.layer())), "memory")
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface NetworkService {
  /** `"node"`, `"bun"`, `"memory"`, ... (used in `Unsupported` errors). */
  readonly runtime: string
  /** The resolver every transport uses for host names. */
  readonly resolver: ResolverService
  /** TCP (and the byte-stream half of TLS). */
  readonly tcp?: TcpDriver | undefined
  /** TLS over any netfx byte stream (`Tcp.connect({ tls })`, `Tcp.listen({ tls })`, `Tls.wrap`). */
  readonly tls?: TlsDriver | undefined
  /** Unix domain stream sockets (paths and abstract names). */
  readonly unix?: UnixDriver | undefined
  /** UDP sockets (`Udp.bind`, `Udp.connect`). */
  readonly udp?: UdpDriver | undefined
  /**
   * The `@netfx/native` addon: Unix datagram sockets (`UnixDatagram`), fd
   * passing (`FdPassing`) and socket options. Present even when the addon
   * failed to load; then those functions fail with `Unsupported` naming the fix.
   */
  readonly native?: NativeDriver | undefined
}

/**
 * The `Network` service tag (key `"@netfx/core/Network"`).
 *
 * @example
 * ```ts
 * import { Network } from "@netfx/core"
 * import { Effect } from "effect"
 *
 * const runtimeName = Effect.map(Network.Network, (n) => n.runtime)
 * ```
 *
 * @since 0.1.0
 * @category tags
 */
export class Network extends Context.Tag("@netfx/core/Network")<Network, NetworkService>() {}

/**
 * Looks up a driver of the current `Network`, failing with `Unsupported`
 * when the runtime has none.
 *
 * @example
 * ```ts
 * import { Network } from "@netfx/core"
 *
 * const tcp = Network.driver("tcp", "TCP sockets")
 * ```
 *
 * @since 0.1.0
 * @category utils
 */
export const driver = <K extends Exclude<keyof NetworkService, "runtime" | "resolver">>(
  key: K,
  feature: string,
): Effect.Effect<NonNullable<NetworkService[K]> & {}, Unsupported, Network> =>
  Effect.flatMap(Network, (network) => {
    const d = network[key]
    return d === undefined
      ? Effect.fail(
          new Unsupported({
            feature,
            runtime: network.runtime,
            reason: `the ${network.runtime} network provides no ${String(key)} driver`,
          }),
        )
      : Effect.succeed(d as NonNullable<NetworkService[K]> & {})
  })
