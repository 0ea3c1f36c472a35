import * as dns from "node:dns"
import { Resolver } from "@netfx/core"

/** @internal The system resolver: getaddrinfo/getnameinfo through `node:dns` (shared code in core). */
export const system: Resolver.ResolverService = Resolver.makeSystem(dns)
