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
