import * as dns from "node:dns"
import * as fs from "node:fs"
import { Resolver } from "@netfx/core"

/** @internal The system resolver: getaddrinfo/getnameinfo through `node:dns` (shared code in core). */
export const system: Resolver.ResolverService = Resolver.makeSystem(dns, () =>
  fs.promises.readFile("/etc/services", "utf8"),
)
