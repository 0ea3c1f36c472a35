import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { InvalidArgument } from "../NetError.ts"

/** @internal The error for a bad port, `undefined` for a good one (no Effect: for hot paths). */
export const portError = (name: string, value: unknown): InvalidArgument | undefined =>
  typeof value === "number" && Number.isInteger(value) && value >= 0 && value <= 65535
    ? undefined
    : new InvalidArgument({ argument: name, reason: "must be an integer in 0..65535", value })

/**
 * @internal A descriptor is a C int: a larger number would be wrapped by the
 * addon into another descriptor (2 ** 32 is 0, the process's stdin).
 */
export const isDescriptor = (fd: unknown): fd is number =>
  typeof fd === "number" && Number.isInteger(fd) && fd >= 0 && fd <= 0x7fffffff

/** @internal The error for a number that is no descriptor, `undefined` for a descriptor. */
export const descriptorError = (name: string, value: unknown): InvalidArgument | undefined =>
  isDescriptor(value)
    ? undefined
    : new InvalidArgument({ argument: name, reason: "must be a descriptor (an integer in 0..2147483647)", value })

/** @internal */
export const port = (name: string, value: unknown): Effect.Effect<number, InvalidArgument> => {
  const error = portError(name, value)
  return error === undefined ? Effect.succeed(value as number) : Effect.fail(error)
}

/** @internal */
export const positiveInt = (name: string, value: unknown): Effect.Effect<number, InvalidArgument> =>
  typeof value === "number" && Number.isInteger(value) && value >= 1
    ? Effect.succeed(value)
    : Effect.fail(new InvalidArgument({ argument: name, reason: "must be an integer >= 1", value }))

/** @internal */
export const nonNegative = (name: string, value: unknown): Effect.Effect<number, InvalidArgument> =>
  typeof value === "number" && Number.isFinite(value) && value >= 0
    ? Effect.succeed(value)
    : Effect.fail(new InvalidArgument({ argument: name, reason: "must be a number >= 0", value }))

const HEX16 = /^[0-9a-fA-F]{1,4}$/
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/

/** An IPv6 literal (RFC 4291 text form, optionally in brackets, with a zone). */
const isIpv6 = (host: string): boolean => {
  const bare = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host
  const zone = bare.indexOf("%")
  const address = zone < 0 ? bare : zone === bare.length - 1 ? "" : bare.slice(0, zone)
  const halves = address.split("::")
  if (halves.length > 2) return false
  const groups = (half: string): Array<string> | undefined => {
    if (half === "") return []
    const parts = half.split(":")
    const last = parts[parts.length - 1] ?? ""
    // a trailing dotted quad counts as two groups
    if (last.includes(".")) {
      if (!IPV4.test(last)) return undefined
      parts.splice(parts.length - 1, 1, "0", "0")
    }
    return parts.every((p) => HEX16.test(p)) ? parts : undefined
  }
  const head = groups(halves[0] ?? "")
  const tail = halves.length === 2 ? groups(halves[1] ?? "") : []
  if (head === undefined || tail === undefined) return false
  const n = head.length + tail.length
  return halves.length === 2 ? n <= 7 : n === 8
}

/**
 * What is wrong with a host that holds a `:` or a `/` (the usual mistakes:
 * `"localhost:8080"`, `"http://example.com"`), `undefined` for an IPv6
 * literal. Only called for such hosts, so a plain name or dotted quad costs
 * two `includes`.
 */
const hostShape = (value: string): string | undefined => {
  if (value.includes("://")) return `is a URL: give the host name alone (e.g. "localhost") and the port in port`
  if (value.includes("/")) return "must be a host name or IP address, not a URL or a path (Unix sockets take { path })"
  if (isIpv6(value)) return undefined
  if (/^[^:]+:\d*$/.test(value) || /^\[[^\]]*\]:\d*$/.test(value))
    return "holds a port: give the host alone and the port in port"
  return "is neither a host name nor an IP address (an IPv6 address is written like ::1 or fe80::1%eth0)"
}

/** @internal The error for a bad host, `undefined` for a good one (no Effect: for hot paths). */
export const hostError = (name: string, value: unknown): InvalidArgument | undefined => {
  if (typeof value !== "string" || value.length === 0 || value.length > 1024 || value.includes("\0"))
    return new InvalidArgument({ argument: name, reason: "must be a non-empty host name or address", value })
  if (!value.includes(":") && !value.includes("/")) return undefined
  const reason = hostShape(value)
  return reason === undefined ? undefined : new InvalidArgument({ argument: name, reason, value })
}

/** @internal */
export const host = (name: string, value: unknown): Effect.Effect<string, InvalidArgument> => {
  const error = hostError(name, value)
  return error === undefined ? Effect.succeed(value as string) : Effect.fail(error)
}

/** @internal True for a DurationInput that decodes to a finite or infinite duration > 0. */
export const isPositiveDuration = (value: unknown): boolean => {
  const d = Duration.decodeUnknown(value)
  return d._tag === "Some" && Duration.greaterThan(d.value, Duration.zero)
}

/** @internal A DurationInput > 0 (a number is milliseconds), decoded. */
export const positiveDuration = (name: string, value: unknown): Effect.Effect<Duration.Duration, InvalidArgument> => {
  const d = Duration.decodeUnknown(value)
  return d._tag === "Some" && Duration.greaterThan(d.value, Duration.zero)
    ? Effect.succeed(d.value)
    : Effect.fail(new InvalidArgument({ argument: name, reason: "must be a positive duration", value }))
}

/** @internal A DurationInput >= 0 (a number is milliseconds), decoded. */
export const nonNegativeDuration = (
  name: string,
  value: unknown,
): Effect.Effect<Duration.Duration, InvalidArgument> => {
  const d = Duration.decodeUnknown(value)
  return d._tag === "Some"
    ? Effect.succeed(d.value)
    : Effect.fail(new InvalidArgument({ argument: name, reason: "must be a duration >= 0", value }))
}
