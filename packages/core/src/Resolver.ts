/**
 * Name resolution as a service: `getaddrinfo` / `getnameinfo`, replaceable
 * with a Layer (Trio's custom hostname resolver, done the Effect way).
 *
 * Every transport that takes a host name resolves it through the
 * `Resolver` captured by its `Network`; numeric hosts skip resolution.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type { ResolveFailed } from "./NetError.ts"
import type * as SocketAddress from "./SocketAddress.ts"

/**
 * One result of `getaddrinfo`.
 *
 * @since 0.1.0
 * @category models
 */
export interface AddressInfo {
  readonly family: 4 | 6
  readonly address: SocketAddress.Ipv4 | SocketAddress.Ipv6
  readonly type?: "stream" | "dgram" | undefined
  readonly protocol?: number | undefined
  readonly canonicalName?: string | undefined
}

/**
 * Options of `getaddrinfo`.
 *
 * @since 0.1.0
 * @category models
 */
export interface LookupOptions {
  /** Restrict to one family (`0`, the default, means any). */
  readonly family?: 0 | 4 | 6
  /** The socket type the addresses are for. */
  readonly type?: "stream" | "dgram"
  readonly protocol?: number
  /** getaddrinfo flags (AI_ADDRCONFIG, AI_V4MAPPED, AI_CANONNAME ...) as a bit set. */
  readonly flags?: number
}

/**
 * The resolver service.
 *
 * @since 0.1.0
 * @category models
 */
export interface ResolverService {
  /**
   * Resolves `host` (a name or a numeric address) for `port`.
   *
   * **Errors**: `ResolveFailed` with the EAI code and the host.
   * **Interruption**: stops waiting; the platform lookup may finish in the
   * background and its result is dropped.
   */
  readonly getaddrinfo: (
    host: string,
    port: number,
    options?: LookupOptions,
  ) => Effect.Effect<ReadonlyArray<AddressInfo>, ResolveFailed>
  /**
   * Turns an address back into a host name and service name.
   *
   * **Errors**: `ResolveFailed` with the EAI code.
   */
  readonly getnameinfo: (
    address: SocketAddress.Ipv4 | SocketAddress.Ipv6,
    flags?: number,
  ) => Effect.Effect<{ readonly host: string; readonly service: string }, ResolveFailed>
}

/**
 * The `Resolver` service tag.
 *
 * @example
 * ```ts
 * import { Resolver } from "@netfx/core"
 * import { Effect } from "effect"
 *
 * const lookup = Effect.flatMap(Resolver.Resolver, (r) => r.getaddrinfo("localhost", 80))
 * ```
 *
 * @since 0.1.0
 * @category tags
 */
export class Resolver extends Context.Tag("@netfx/core/Resolver")<Resolver, ResolverService>() {}
