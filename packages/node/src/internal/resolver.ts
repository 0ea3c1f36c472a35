import * as dns from "node:dns"
import * as fs from "node:fs"
import type { Resolver } from "@netfx/core"
import * as Driver from "@netfx/core/Driver"

/** @internal The system resolver: getaddrinfo/getnameinfo through `node:dns` (shared code in core). */
export const system: Resolver.ResolverService = Driver.makeSystemResolver(dns, () =>
  fs.promises.readFile("/etc/services", "utf8"),
)
