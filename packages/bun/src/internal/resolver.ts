import * as dns from "node:dns"
import * as fs from "node:fs"
import type { Resolver } from "@netfx/core"
import * as Driver from "@netfx/core/Driver"

/*
 * Bun implements `node:dns` natively: `lookup` runs the system's getaddrinfo
 * (honouring /etc/hosts and nsswitch) with Node's error codes (ENOTFOUND,
 * EAI_AGAIN ...). `Bun.dns.lookup` uses its own backend choice and reports
 * different codes, so the system resolver goes through `node:dns`, with the
 * code shared with Node in core (`Driver.makeSystemResolver`).
 */

/** @internal The system resolver (Bun's `node:dns`) behind the core front. */
export const system: Resolver.ResolverService = Driver.makeSystemResolver(dns, () =>
  fs.promises.readFile("/etc/services", "utf8"),
)
