// Unix socket addresses as core takes them from users: validation against
// the kernel's `sun_path` limit, the printable form for spans, and the
// one-attempt `ConnectFailed` of a Unix connect.
import * as Effect from "effect/Effect"
import { ConnectFailed, InvalidArgument } from "../../NetError.ts"
import * as SocketAddress from "../../SocketAddress.ts"
import type { UnixAddressInput } from "../../Unix.ts"

/** The kernel limit of `sun_path` (108 bytes including the NUL for paths). */
const SUN_PATH_MAX = 108

/** A path or Unix `SocketAddress` as an address, or `InvalidArgument` naming `argument`. */
export const toUnixAddress = (
  argument: string,
  input: UnixAddressInput,
): Effect.Effect<SocketAddress.UnixPath | SocketAddress.UnixAbstract, InvalidArgument> => {
  const address = typeof input === "string" ? SocketAddress.unixPath(input) : input
  if (
    typeof address !== "object" ||
    address === null ||
    (address._tag !== "UnixPath" && address._tag !== "UnixAbstract")
  )
    return Effect.fail(
      new InvalidArgument({ argument, reason: "must be a path or a Unix SocketAddress", value: input }),
    )
  const name = address._tag === "UnixPath" ? address.path : address.name
  // paths need a terminating NUL, abstract names a leading one
  const limit = SUN_PATH_MAX - 1
  if (typeof name !== "string" || name.includes("\0"))
    return Effect.fail(new InvalidArgument({ argument, reason: "must not contain NUL bytes", value: input }))
  if (address._tag === "UnixPath" && name.length === 0)
    return Effect.fail(new InvalidArgument({ argument, reason: "must be a non-empty path", value: input }))
  if (new TextEncoder().encode(name).length > limit)
    return Effect.fail(
      new InvalidArgument({ argument, reason: `is longer than the kernel's limit of ${limit} bytes`, value: input }),
    )
  return Effect.succeed(address)
}

/** The path for a span attribute (whatever the caller passed, printable). */
export const spanPath = (options: { readonly path?: unknown } | undefined): string => {
  const path = options?.path
  if (typeof path === "string") return path
  return typeof path === "object" && path !== null && "_tag" in path
    ? SocketAddress.format(path as SocketAddress.SocketAddress)
    : String(path)
}

/** See `Driver.unixConnectFailed`. */
export const connectFailed = (
  address: SocketAddress.UnixPath | SocketAddress.UnixAbstract,
  code: string,
  syscall: string | undefined,
  cause: unknown,
): ConnectFailed =>
  new ConnectFailed({ host: SocketAddress.format(address), port: -1, attempts: [{ address, code, syscall, cause }] })
