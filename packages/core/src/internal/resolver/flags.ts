// getaddrinfo(3) / getnameinfo(3) flag bits for the implementation, which
// must not import the public module at run time. `Resolver.AI_*` and
// `Resolver.NI_*` document them; the types make the two copies agree.
import type * as Resolver from "../../Resolver.ts"

export const AI_PASSIVE: typeof Resolver.AI_PASSIVE = 0x0001
export const AI_CANONNAME: typeof Resolver.AI_CANONNAME = 0x0002
export const AI_NUMERICHOST: typeof Resolver.AI_NUMERICHOST = 0x0004
export const AI_V4MAPPED: typeof Resolver.AI_V4MAPPED = 0x0008
export const AI_ALL: typeof Resolver.AI_ALL = 0x0010
export const AI_ADDRCONFIG: typeof Resolver.AI_ADDRCONFIG = 0x0020
export const AI_NUMERICSERV: typeof Resolver.AI_NUMERICSERV = 0x0400
export const NI_NUMERICHOST: typeof Resolver.NI_NUMERICHOST = 0x01
export const NI_NUMERICSERV: typeof Resolver.NI_NUMERICSERV = 0x02
export const NI_NOFQDN: typeof Resolver.NI_NOFQDN = 0x04
export const NI_NAMEREQD: typeof Resolver.NI_NAMEREQD = 0x08
export const NI_DGRAM: typeof Resolver.NI_DGRAM = 0x10
