// Punycode (RFC 3492) decoding, for checking A-labels the same way on every
// runtime (the URL parsers of Node and Bun disagree on undecodable ones).

// RFC 3492 Punycode parameters
const PUNY_BASE = 36
const PUNY_TMIN = 1
const PUNY_TMAX = 26
const PUNY_MAX = 0x7fffffff

const punyAdapt = (delta: number, points: number, first: boolean): number => {
  let d = first ? Math.floor(delta / 700) : delta >> 1
  d += Math.floor(d / points)
  let k = 0
  while (d > ((PUNY_BASE - PUNY_TMIN) * PUNY_TMAX) >> 1) {
    d = Math.floor(d / (PUNY_BASE - PUNY_TMIN))
    k += PUNY_BASE
  }
  return k + Math.floor(((PUNY_BASE - PUNY_TMIN + 1) * d) / (d + 38))
}

const punyDigit = (c: number): number =>
  c >= 48 && c <= 57 ? c - 22 : c >= 65 && c <= 90 ? c - 65 : c >= 97 && c <= 122 ? c - 97 : PUNY_BASE

/** RFC 3492 decoding of the part after `xn--`; `undefined` where it is not valid Punycode. */
export const punycodeDecode = (input: string): string | undefined => {
  const dash = input.lastIndexOf("-")
  const out: Array<number> = []
  for (let j = 0; j < Math.max(dash, 0); j++) {
    const c = input.charCodeAt(j)
    if (c >= 0x80) return undefined
    out.push(c)
  }
  let n = 0x80
  let i = 0
  let bias = 72
  for (let pos = dash > 0 ? dash + 1 : 0; pos < input.length; ) {
    const old = i
    let w = 1
    for (let k = PUNY_BASE; ; k += PUNY_BASE) {
      if (pos >= input.length) return undefined
      const digit = punyDigit(input.charCodeAt(pos++))
      if (digit >= PUNY_BASE || digit > Math.floor((PUNY_MAX - i) / w)) return undefined
      i += digit * w
      const t = k <= bias ? PUNY_TMIN : k >= bias + PUNY_TMAX ? PUNY_TMAX : k - bias
      if (digit < t) break
      if (w > Math.floor(PUNY_MAX / (PUNY_BASE - t))) return undefined
      w *= PUNY_BASE - t
    }
    const points = out.length + 1
    bias = punyAdapt(i - old, points, old === 0)
    if (Math.floor(i / points) > PUNY_MAX - n) return undefined
    n += Math.floor(i / points)
    i %= points
    if (n > 0x10ffff || (n >= 0xd800 && n <= 0xdfff)) return undefined
    out.splice(i, 0, n)
    i++
  }
  return String.fromCodePoint(...out)
}
