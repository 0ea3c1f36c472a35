// getaddrinfo(3) / getnameinfo(3) flag bits, with glibc's values; the public
// module (`Resolver.AI_*`, `Resolver.NI_*`) documents each.
export const AI_PASSIVE = 0x0001
export const AI_CANONNAME = 0x0002
export const AI_NUMERICHOST = 0x0004
export const AI_V4MAPPED = 0x0008
export const AI_ALL = 0x0010
export const AI_ADDRCONFIG = 0x0020
export const AI_NUMERICSERV = 0x0400
export const NI_NUMERICHOST = 0x01
export const NI_NUMERICSERV = 0x02
export const NI_NOFQDN = 0x04
export const NI_NAMEREQD = 0x08
export const NI_DGRAM = 0x10
