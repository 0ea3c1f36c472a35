import { InvalidArgument } from "../NetError.ts"

/**
 * The parts as one array: the part itself when there is exactly one,
 * otherwise a new array. `size` is their total length when the caller
 * already counted it.
 *
 * @internal
 */
export const concatBytes = (
  parts: ReadonlyArray<Uint8Array>,
  size: number = parts.reduce((n, p) => n + p.length, 0),
): Uint8Array => {
  if (parts.length === 1) return parts[0] as Uint8Array
  const out = new Uint8Array(size)
  let offset = 0
  for (const p of parts) {
    out.set(p, offset)
    offset += p.length
  }
  return out
}

/** @internal Total length of one buffer or several; -1 when `data` is no bytes (see {@link notBytes}). */
export const byteLength = (data: Uint8Array | ReadonlyArray<Uint8Array>): number => {
  if (data instanceof Uint8Array) return data.length
  // -1: no bytes, what the types forbid and a JavaScript caller can pass (a string, null, ...)
  if (!Array.isArray(data)) return -1
  let n = 0
  for (const chunk of data) {
    if (!(chunk instanceof Uint8Array)) return -1
    n += chunk.length
  }
  return n
}

/** The `InvalidArgument` of a send of something that is no bytes. */
export const notBytes = (data: unknown): InvalidArgument =>
  new InvalidArgument({
    argument: "data",
    reason: "must be a Uint8Array or an array of them (encode text first, e.g. new TextEncoder().encode(text))",
    value: typeof data === "string" && data.length > 64 ? `${data.slice(0, 64)}...` : data,
  })

/** @internal The `InvalidArgument` of a datagram that is no `Uint8Array` (UDP and Unix datagram sends). */
export const notDatagram = (data: unknown): InvalidArgument =>
  new InvalidArgument({
    argument: "data",
    reason: "must be a Uint8Array (encode text first, e.g. new TextEncoder().encode(text))",
    value: typeof data === "string" && data.length > 64 ? `${data.slice(0, 64)}...` : data,
  })
